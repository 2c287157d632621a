package screening

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"credtrack"
	"credtrack/internal/demo"
)

// Synthetic data for the benchmark and the large-file tests: exclusion
// lists in the real file formats and a provider roster, with realistic
// name distributions. Surnames follow a long tail: 40 % are drawn from the
// demo's list of common US surnames with a Zipf-like weight (the most
// common about 1 % of people, as SMITH is), 60 % from a tail of 50,000
// rarer names built from syllables, also Zipf-weighted, so blocks by last
// name have the sizes real lists give them. Nothing here is real data.

// Synth draws synthetic people.
type Synth struct {
	rng         *rand.Rand
	first, last []string
	lastCum     []float64
	stateCum    []float64
	syllables   []string
	tail        []string
	tailCum     []float64
	npiSeq      uint64
}

// usStates are state codes weighted roughly by population.
var usStates = []struct {
	code string
	w    float64
}{{"CA", 39}, {"TX", 30}, {"FL", 22}, {"NY", 20}, {"PA", 13}, {"IL", 12.5}, {"OH", 11.8}, {"GA", 11}, {"NC", 10.7},
	{"MI", 10}, {"NJ", 9.3}, {"VA", 8.7}, {"WA", 7.8}, {"AZ", 7.4}, {"TN", 7}, {"MA", 7}, {"IN", 6.8}, {"MO", 6.2},
	{"MD", 6.2}, {"WI", 5.9}, {"CO", 5.8}, {"MN", 5.7}, {"SC", 5.3}, {"AL", 5.1}, {"LA", 4.6}, {"KY", 4.5}, {"OR", 4.2},
	{"OK", 4}, {"CT", 3.6}, {"UT", 3.4}, {"IA", 3.2}, {"NV", 3.2}, {"AR", 3}, {"MS", 2.9}, {"KS", 2.9}, {"NM", 2.1},
	{"NE", 2}, {"ID", 1.9}, {"WV", 1.8}, {"HI", 1.4}, {"NH", 1.4}, {"ME", 1.4}, {"MT", 1.1}, {"RI", 1.1}, {"DE", 1},
	{"SD", 0.9}, {"ND", 0.8}, {"AK", 0.7}, {"DC", 0.7}, {"VT", 0.6}, {"WY", 0.6}}

// NewSynth returns a generator seeded with seed (the same seed gives the
// same data).
func NewSynth(seed uint64) *Synth {
	first, last := demo.NameLists()
	s := &Synth{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), first: first, last: last} // #nosec G404 -- synthetic benchmark data must be reproducible, not secret
	c := 0.0
	for i := range last {
		c += 1 / float64(i+10)
		s.lastCum = append(s.lastCum, c)
	}
	c = 0
	for _, st := range usStates {
		c += st.w
		s.stateCum = append(s.stateCum, c)
	}
	for _, a := range []string{"B", "C", "D", "F", "G", "H", "K", "L", "M", "N", "P", "R", "S", "T", "V", "W", "Z", "BR", "CH", "ST", "TR", "SH"} {
		for _, v := range []string{"A", "E", "I", "O", "U", "AR", "EN", "ER", "IN", "ON", "AN", "OW"} {
			s.syllables = append(s.syllables, a+v)
		}
	}
	// The tail: 50,000 rarer surnames with a Zipf-like weight.
	tr := rand.New(rand.NewPCG(1, 2)) // #nosec G404 -- synthetic benchmark data must be reproducible, not secret
	c = 0
	for i := 0; i < 50_000; i++ {
		s.tail = append(s.tail, s.tailName(tr))
		c += 1 / float64(i+50)
		s.tailCum = append(s.tailCum, c)
	}
	return s
}

func pickCum(rng *rand.Rand, cum []float64) int {
	x := rng.Float64() * cum[len(cum)-1]
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if cum[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// LastName draws a surname.
func (s *Synth) LastName() string {
	if s.rng.Float64() < 0.4 {
		return strings.ToUpper(s.last[pickCum(s.rng, s.lastCum)])
	}
	return s.tail[pickCum(s.rng, s.tailCum)]
}

// tailName builds the i-th rare surname from three syllables and an
// optional ending.
func (s *Synth) tailName(r *rand.Rand) string {
	var b strings.Builder
	for i := 0; i < 3; i++ {
		b.WriteString(s.syllables[r.IntN(len(s.syllables))])
	}
	if r.IntN(3) == 0 {
		b.WriteString([]string{"SON", "MAN", "LEY", "TON", "EZ", "SKI", "OV", "ELLI"}[r.IntN(8)])
	}
	return b.String()
}

// FirstName draws a given name (common ones more often).
func (s *Synth) FirstName() string {
	i := int(float64(len(s.first)) * s.rng.Float64() * s.rng.Float64())
	return strings.ToUpper(s.first[i])
}

// State draws a state code.
func (s *Synth) State() string { return usStates[pickCum(s.rng, s.stateCum)].code }

// DOB draws a date of birth between 1940 and 2000.
func (s *Synth) DOB() credtrack.Date {
	return credtrack.DateOf(credtrack.Date{}.AddDate(1939, 0, s.rng.IntN(60*365)))
}

// NPI returns a new distinct 10-digit number.
func (s *Synth) NPI() string {
	s.npiSeq++
	return fmt.Sprintf("1%09d", (s.npiSeq*7919+uint64(s.rng.IntN(7)))%1_000_000_000) // #nosec G115 -- IntN(7) is 0..6
}

func q(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// WriteLEIE writes n rows of a synthetic UPDATED.csv in the real layout
// (every field quoted, CRLF, as the 2026 file): about 85 % of rows without
// an NPI (0000000000), 8 % entities.
func (s *Synth) WriteLEIE(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(strings.Join(func() []string {
		out := make([]string, len(leieHeader))
		for i, h := range leieHeader {
			out[i] = q(h)
		}
		return out
	}(), ",") + "\r\n")
	types := []string{"1128a1", "1128b4", "1128a2", "1128a3", "1128a4", "1128b7", "1128b14", "1128b5"}
	for i := 0; i < n; i++ {
		npi := "0000000000"
		if s.rng.IntN(100) < 15 {
			npi = s.NPI()
		}
		excl := fmt.Sprintf("%04d%02d%02d", 1990+s.rng.IntN(36), 1+s.rng.IntN(12), 1+s.rng.IntN(28))
		var rec []string
		if s.rng.IntN(100) < 8 {
			rec = []string{"", "", "", s.LastName() + " HEALTH SERVICES LLC", "OTHER BUSINESS", "HOME HEALTH AGENCY", "", npi, "",
				fmt.Sprintf("%d MAIN ST", 1+s.rng.IntN(9999)), "SPRINGFIELD", s.State(), fmt.Sprintf("%05d", s.rng.IntN(99999)),
				types[s.rng.IntN(len(types))], excl, "00000000", "00000000", ""}
		} else {
			dob := s.DOB()
			mid := ""
			if s.rng.IntN(2) == 0 {
				mid = string(rune('A'+s.rng.IntN(26))) + " " // #nosec G115 -- IntN(26) is 0..25
			}
			rec = []string{s.LastName(), s.FirstName(), mid, "", "NURSING PROFESSION", "NURSE/NURSES AIDE", "", npi,
				dob.Format("20060102"), fmt.Sprintf("%d OAK AVE", 1+s.rng.IntN(9999)), "RIVERSIDE", s.State(),
				fmt.Sprintf("%05d", s.rng.IntN(99999)), types[s.rng.IntN(len(types))], excl, "00000000", "00000000", ""}
		}
		for j := range rec {
			rec[j] = q(rec[j])
		}
		bw.WriteString(strings.Join(rec, ","))
		bw.WriteString("\r\n")
	}
	return bw.Flush()
}

// WriteSAM writes n rows of a synthetic SAM V2 extract: 70 % individuals
// (no date of birth, rarely an NPI), the rest firms.
func (s *Synth) WriteSAM(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	hdr := make([]string, len(samHeaderV2))
	for i, h := range samHeaderV2 {
		hdr[i] = q(h)
	}
	bw.WriteString(strings.Join(hdr, ",") + "\n")
	agencies := []string{"HHS", "OPM", "GSA", "DOL", "HUD", "NAVY", "TREAS-OFAC"}
	for i := 0; i < n; i++ {
		active := fmt.Sprintf("%02d/%02d/%04d", 1+s.rng.IntN(12), 1+s.rng.IntN(28), 1995+s.rng.IntN(31))
		rec := make([]string, len(samHeaderV2))
		if s.rng.IntN(100) < 70 {
			rec[0], rec[3], rec[5] = "Individual", s.FirstName(), s.LastName()
			if s.rng.IntN(3) == 0 {
				rec[4] = string(rune('A' + s.rng.IntN(26))) // #nosec G115 -- IntN(26) is 0..25
			}
			if s.rng.IntN(100) < 2 {
				rec[29] = s.NPI()
			}
		} else {
			rec[0], rec[1], rec[17] = "Firm", s.LastName()+" SUPPLY INC", fmt.Sprintf("UEI%09d", i)
		}
		rec[11], rec[12], rec[13], rec[14] = "ANYTOWN", s.State(), "USA", fmt.Sprintf("%05d", s.rng.IntN(99999))
		rec[18], rec[19], rec[21] = "Reciprocal", agencies[s.rng.IntN(len(agencies))], "Prohibition/Restriction"
		rec[23], rec[24] = active, "Indefinite"
		rec[27] = fmt.Sprintf("S4MR%05d", i)
		rec[30] = "2019-12-13"
		for j := range rec {
			rec[j] = q(rec[j])
		}
		bw.WriteString(strings.Join(rec, ","))
		bw.WriteString("\n")
	}
	return bw.Flush()
}

// Providers draws n subjects. About 1 in 200 is planted to hit an entry
// of hits: by NPI, by name and date of birth, or by a nickname or a
// one-letter typo of the name in the entry's state.
func (s *Synth) Providers(n int, hits []*credtrack.ListEntry) []*Subject {
	out := make([]*Subject, n)
	for i := range out {
		p := &Subject{ProviderID: fmt.Sprintf("P%07d", i), FirstName: s.FirstName(), LastName: s.LastName(),
			State: s.State(), DOB: s.DOB(), NPI: fmt.Sprintf("2%09d", i)}
		if len(hits) > 0 && s.rng.IntN(200) == 0 {
			e := hits[s.rng.IntN(len(hits))]
			switch s.rng.IntN(3) {
			case 0:
				if e.NPI != "" {
					p.NPI = e.NPI
				}
			case 1:
				if e.Individual {
					p.FirstName, p.LastName, p.DOB = e.FirstName, e.LastName, e.DOB
				}
			default:
				if e.Individual && len(e.LastName) > 4 {
					b := []byte(e.LastName)
					k := 1 + s.rng.IntN(len(b)-2)
					b[k], b[k+1] = b[k+1], b[k]
					p.FirstName, p.LastName, p.State, p.DOB = e.FirstName, string(b), e.State, credtrack.Date{}
				}
			}
		}
		out[i] = p
	}
	return out
}
