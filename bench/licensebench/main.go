// Command licensebench measures loading a state board bulk license file
// (the Missouri layout, generated) into the license index, against a
// baseline measured in the same process: reading the same file with a bare
// encoding/csv reader. It also times lookups in the loaded index.
//
//	go run ./bench/licensebench [-rows 300000] [-lookups 100000]
package main

import (
	"bufio"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"credtrack/internal/psv/license"
)

var header = strings.Split("prc_first_name prc_middle_name prc_last_name prc_suffix ba_address ba_2address ba_city ba_state ba_zip "+
	"ba_cnty ba_cntry lic_profession lic_number lst_description lic_orig_issue_date lic_exp_date discipline les_description "+
	"prc_dba_name clas_description ctype_description cl_description prc_entity_name rel_type rel_first_name rel_middle_name "+
	"rel_last_name rel_suffix rel_prc_name rel_lic_number rel_addr1 rel_addr2 rel_city rel_state rel_zip_code ld_description "+
	"employer_name school_name certification_title", " ")

var first = []string{"MARY", "JAMES", "PATRICIA", "JOHN", "JENNIFER", "ROBERT", "LINDA", "MICHAEL", "ELIZABETH", "WILLIAM", "SUSAN", "DAVID"}
var last = []string{"SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS", "RODRIGUEZ", "MARTINEZ", "OKAFOR", "NGUYEN"}

func main() {
	rows := flag.Int("rows", 300000, "rows in the generated file")
	lookups := flag.Int("lookups", 100000, "lookups in the loaded index")
	flag.Parse()
	dir, err := os.MkdirTemp("", "licensebench")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "mo-dpr-RN.TXT")
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString(strings.Join(header, "\t") + "\r\n")
	rng := rand.New(rand.NewPCG(1, 2)) // #nosec G404 -- synthetic benchmark data must be reproducible, not secret
	numbers := make([]string, *rows)
	for i := 0; i < *rows; i++ {
		numbers[i] = fmt.Sprintf("%d%06d", 1990+rng.IntN(36), i)
		v := make([]string, len(header))
		v[0], v[2], v[6], v[7], v[11], v[12], v[13] = first[rng.IntN(len(first))], last[rng.IntN(len(last))], "SAINT LOUIS", "MO", "RN", numbers[i], "Active"
		v[14] = fmt.Sprintf("%d-%02d-%02d 00:00:00", 1990+rng.IntN(30), 1+rng.IntN(12), 1+rng.IntN(28))
		v[15] = fmt.Sprintf("%d-%02d-28 00:00:00", 2026+rng.IntN(3), 1+rng.IntN(12))
		v[16], v[17], v[21] = "N", "Not Expired", "Primary"
		w.WriteString(strings.Join(v, "\t") + "\r\n")
	}
	w.Flush()
	f.Close()
	st, _ := os.Stat(path)

	// Baseline: a bare csv read of every row.
	t0 := time.Now()
	bf, _ := os.Open(path)
	cr := csv.NewReader(bufio.NewReader(bf))
	cr.Comma, cr.LazyQuotes, cr.ReuseRecord = '\t', true, true
	n := 0
	for {
		if _, err := cr.Read(); err == io.EOF {
			break
		} else if err != nil {
			panic(err)
		}
		n++
	}
	bf.Close()
	base := time.Since(t0)

	t1 := time.Now()
	src := &license.Source{Dir: dir}
	ix, err := src.Load()
	if err != nil {
		panic(err)
	}
	load := time.Since(t1)

	t2 := time.Now()
	found := 0
	for i := 0; i < *lookups; i++ {
		if len(ix.Find("MO", numbers[rng.IntN(len(numbers))])) > 0 {
			found++
		}
	}
	look := time.Since(t2)
	fmt.Printf("file: %d rows, %.1f MB (Missouri layout, 39 columns)\n", *rows, float64(st.Size())/1e6)
	fmt.Printf("| step | time | rows/s | ratio to baseline |\n|---|---:|---:|---:|\n")
	fmt.Printf("| bare csv read (baseline) | %v | %.0f | 1.00 |\n", base.Round(time.Millisecond), float64(n-1)/base.Seconds())
	fmt.Printf("| license index load | %v | %.0f | %.2f |\n", load.Round(time.Millisecond), float64(*rows)/load.Seconds(), load.Seconds()/base.Seconds())
	fmt.Printf("lookups: %d in %v (%.2f µs each), %d found\n", *lookups, look.Round(time.Millisecond), float64(look.Microseconds())/float64(*lookups), found)
}
