package roster

import (
	"bytes"
	"fmt"
	"io"

	"credtrack"
)

// Synthetic generates a valid roster of n providers with two credentials
// each (a state license and a DEA registration, NPI and SSN on the
// provider), for tests and benchmarks, as an io.Reader that produces the
// rows on the fly. Values are deterministic: provider i has NPI
// SyntheticNPI(i).
func Synthetic(n int) io.Reader {
	return &synthetic{n: n}
}

type synthetic struct {
	n, i int
	buf  bytes.Buffer
	head bool
}

func (s *synthetic) Read(p []byte) (int, error) {
	for s.buf.Len() < len(p) {
		if !s.head {
			s.head = true
			fmt.Fprintln(&s.buf, "provider_ref,first_name,last_name,profession,state,npi,ssn,dob,credential_type,issuer,jurisdiction,number,issued_on,expires_on,details")
			continue
		}
		if s.i >= s.n {
			break
		}
		s.row(s.i)
		s.i++
	}
	if s.buf.Len() == 0 {
		return 0, io.EOF
	}
	return s.buf.Read(p)
}

var syntheticStates = []string{"CA", "TX", "NY", "FL", "WA", "OH", "PA", "IL"}

func (s *synthetic) row(i int) {
	npi := SyntheticNPI(i)
	ssn := fmt.Sprintf("5%08d", i)
	st := syntheticStates[i%len(syntheticStates)]
	dea := SyntheticDEA(i)
	prof := "RN"
	if i%3 == 0 {
		prof = "MD"
	}
	dob := fmt.Sprintf("19%02d-%02d-%02d", 50+i%45, 1+i%12, 1+i%28)
	fmt.Fprintf(&s.buf, "P%d,Given%d,Family%d,%s,%s,%s,%s,%s,state_license,%s Board of Nursing,%s,%s%07d,2020-01-15,2027-01-31,license_type=%s; compact=no\n",
		i, i, i, prof, st, npi, ssn, dob, st, st, st, i, prof)
	fmt.Fprintf(&s.buf, "P%d,,,,,,,,dea,DEA,%s,%s,2021-03-01,2027-02-28,schedules=2 3 4 5\n", i, st, dea)
}

// SyntheticNPI returns a valid NPI for index i.
func SyntheticNPI(i int) string {
	base := fmt.Sprintf("1%08d", i%100000000)
	return base + string(rune('0'+credtrack.NPICheckDigit(base))) // #nosec G115 -- a check digit is 0..9
}

// SyntheticDEA returns a valid DEA number for index i.
func SyntheticDEA(i int) string {
	d := fmt.Sprintf("%06d", i%1000000)
	return "B" + string(rune('A'+i%26)) + d + string(rune('0'+credtrack.DEACheckDigit(d))) // #nosec G115 -- i%26 and a check digit are small
}
