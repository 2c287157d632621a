package screening

import (
	"bytes"
	"reflect"
	"testing"

	"credtrack"
)

func matchKeys(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ProviderID+"|"+m.Entry.Key+"|"+itoa(m.Score)+"|"+joinNonEmpty(",", m.Reasons...))
	}
	return out
}

func itoa(n int) string {
	return string(rune('0'+n/100)) + string(rune('0'+n/10%10)) + string(rune('0'+n%10))
}

var today = credtrack.DateOf(credtrack.Now())

func TestNPIInEXCLIsFlagged(t *testing.T) {
	p, err := ParseLEIE(bytes.NewReader(sample(t, "leie/1701EXCL.csv")))
	if err != nil {
		t.Fatal(err)
	}
	var target *credtrack.ListEntry
	for _, e := range p.Entries {
		if e.NPI != "" && e.Individual {
			target = e
			break
		}
	}
	ix := NewIndex(p.Entries, today)
	ms := ix.Screen(&Subject{ProviderID: "p1", FirstName: "Someone", LastName: "Else", NPI: target.NPI, State: "ZZ"})
	if len(ms) != 1 || ms[0].Score != 100 || ms[0].Reasons[0] != ReasonNPI || ms[0].Entry != target {
		t.Fatalf("matches %+v", ms)
	}
	// The sentinel never matches, even for a provider recorded without an NPI as zeros.
	if ms := ix.Screen(&Subject{ProviderID: "p2", FirstName: "A", LastName: "B", NPI: "0000000000"}); len(ms) != 0 {
		t.Fatalf("sentinel matched: %+v", ms)
	}
}

func TestReinstatedStopMatching(t *testing.T) {
	rein, err := ParseLEIE(bytes.NewReader(sample(t, "leie/1701REIN.csv")))
	if err != nil {
		t.Fatal(err)
	}
	var base []*credtrack.ListEntry
	for _, e := range rein.Entries {
		c := *e
		c.ReinDate = credtrack.Date{}
		base = append(base, &c)
	}
	e := base[0] // ASHFORD VICTORIA, OR, 1974-03-30
	s := &Subject{ProviderID: "p", FirstName: e.FirstName, LastName: e.LastName, DOB: e.DOB, State: e.State}
	if ms := NewIndex(base, today).Screen(s); len(ms) == 0 {
		t.Fatal("the excluded person is not flagged before the reinstatement")
	}
	after, _, _ := Apply(credtrack.ListReinstatements, base, rein.Entries)
	if ms := NewIndex(after, today).Screen(s); len(ms) != 0 {
		t.Fatalf("still flagged after REIN: %+v", ms)
	}
	// Even the REIN rows themselves (REINDATE in the past) never match.
	if ms := NewIndex(rein.Entries, today).Screen(s); len(ms) != 0 {
		t.Fatalf("a reinstated row matched: %+v", ms)
	}
}

func TestFuzzyNames(t *testing.T) {
	dob := credtrack.Date{Time: credtrack.DateOf(credtrack.Now()).AddDate(-50, 0, 0)}
	entries := []*credtrack.ListEntry{
		{Source: credtrack.ListLEIE, Key: "k1", Individual: true, LastName: "O'BRIEN", FirstName: "WILLIAM", State: "NY", DOB: dob},
		{Source: credtrack.ListSAM, Key: "k2", Individual: true, LastName: "GARCIA", FirstName: "MARIA", State: "TX"},
		{Source: credtrack.ListLEIE, Key: "k3", Individual: true, LastName: "JOHNSON", FirstName: "KATHERINE", State: "CA"},
		{Source: credtrack.ListLEIE, Key: "k4", Individual: false, BusName: "ACME LLC", NPI: "1234567893"},
	}
	ix := NewIndex(entries, today)
	cases := []struct {
		s      Subject
		key    string
		reason string
	}{
		{Subject{FirstName: "Bill", LastName: "OBrien", State: "NY"}, "k1", ReasonNameState},
		{Subject{FirstName: "W.", LastName: "O'Brien, Jr.", DOB: dob}, "k1", ReasonNameDOB},
		{Subject{FirstName: "María", LastName: "Garcia-Lopez", State: "TX"}, "k2", ReasonNameState},
		{Subject{FirstName: "Maria", LastName: "Gracia", State: "TX"}, "k2", ReasonNameState},
		{Subject{FirstName: "Kathy", LastName: "Jonhson", State: "CA"}, "k3", ReasonNameState},
		{Subject{FirstName: "Zed", LastName: "Nobody", NPI: "1234567893"}, "k4", ReasonNPI},
		{Subject{FirstName: "Maria", LastName: "Garcia", State: "FL"}, "", ""},                                           // other state, no DOB
		{Subject{FirstName: "William", LastName: "OBrien", State: "NY", DOB: credtrack.DateOf(credtrack.Now())}, "", ""}, // DOB differs
		{Subject{FirstName: "Mark", LastName: "Johnson", State: "CA"}, "", ""},
	}
	for _, c := range cases {
		ms := ix.Screen(&c.s)
		naive := NaiveScreen(entries, today, []*Subject{&c.s})
		if !reflect.DeepEqual(matchKeys(ms), matchKeys(naive)) {
			t.Errorf("%+v: index %v, naive %v", c.s, matchKeys(ms), matchKeys(naive))
		}
		if c.key == "" {
			if len(ms) != 0 {
				t.Errorf("%+v matched %v", c.s, matchKeys(ms))
			}
			continue
		}
		if len(ms) != 1 || ms[0].Entry.Key != c.key || ms[0].Reasons[len(ms[0].Reasons)-1] != c.reason {
			t.Errorf("%+v: %v, want %s by %s", c.s, matchKeys(ms), c.key, c.reason)
		}
	}
}

func TestWithinOneEdit(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{{"SMITH", "SMITH", true}, {"SMITH", "SMYTH", true}, {"SMITH", "SMIHT", true}, {"SMITH", "SMITHE", true},
		{"SMITH", "MITH", true}, {"SMITH", "SMTIH", true}, {"SMITH", "SNYTH", false}, {"SMITH", "HTIMS", false}, {"AB", "BA", true}, {"ABC", "CBA", false}} {
		if got := withinOneEdit(c.a, c.b); got != c.want {
			t.Errorf("%s %s: %v", c.a, c.b, got)
		}
	}
}

// TestIndexEqualsNaive compares the indexed matcher with the nested loop
// on synthetic lists and a planted roster.
func TestIndexEqualsNaive(t *testing.T) {
	s := NewSynth(7)
	var lb, sb bytes.Buffer
	if err := s.WriteLEIE(&lb, 5000); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteSAM(&sb, 5000); err != nil {
		t.Fatal(err)
	}
	l, err := ParseLEIE(&lb)
	if err != nil {
		t.Fatal(err)
	}
	sm, err := ParseSAM(&sb)
	if err != nil {
		t.Fatal(err)
	}
	entries := append(l.Entries, sm.Entries...)
	subjects := s.Providers(3000, entries)
	ix := NewIndex(entries, today)
	got, want := matchKeys(ix.ScreenAll(subjects)), matchKeys(NaiveScreen(entries, today, subjects))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("index found %d, naive %d", len(got), len(want))
	}
	if len(got) < 10 {
		t.Fatalf("only %d matches: the planted hits were not found", len(got))
	}
	t.Logf("%d matches", len(got))
}
