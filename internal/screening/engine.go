package screening

import (
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"

	"credtrack"
)

// Subject is a provider as the engine sees it. NPI and DOB are the opened
// values; the engine keeps them in memory only for the screening.
type Subject struct {
	ProviderID string
	OrgID      string
	FirstName  string
	LastName   string
	NPI        string
	State      string
	DOB        credtrack.Date
}

// Match is a candidate found for a subject.
type Match struct {
	ProviderID string
	Entry      *credtrack.ListEntry
	Score      int
	Reasons    []string
}

// Reasons a match gives, and their scores:
//
//	npi         the provider's NPI equals the entry's (never the 0000000000 sentinel): 100
//	name+dob    last and first name agree and the dates of birth are equal: 70–95
//	name+state  last and first name agree and the practice state is the entry's state: 60–75
//
// Names agree when the last names (or one part of a hyphenated or double
// last name) are equal or within one edit (Damerau-Levenshtein ≤ 1, both at
// least 4 letters), and the first names are equal, nicknames of each other
// (Bill = William), within one edit, or (for name+dob only) an initial of
// the other. Two known, different dates of birth rule a name match out.
// Entries reinstated on or before the screening date never match.
const (
	ReasonNPI       = "npi"
	ReasonNameDOB   = "name+dob"
	ReasonNameState = "name+state"
)

// ReasonText is the human wording of a reason.
func ReasonText(r string) string {
	switch r {
	case ReasonNPI:
		return "NPI matches"
	case ReasonNameDOB:
		return "name and date of birth match"
	case ReasonNameState:
		return "name matches in the same state"
	}
	return r
}

// prepared is an entry or a subject with its names normalized once.
type prepared struct {
	last  []string
	first string
	npi   string
	state string
	dob   credtrack.Date
	// names: whether name rules apply (individuals not reinstated).
	names bool
	// active: false for an entry reinstated or ended as of the screening date.
	active bool
}

func prepareEntry(e *credtrack.ListEntry, asOf credtrack.Date) prepared {
	p := prepared{npi: e.NPI, state: e.State, dob: e.DOB, active: true}
	if !e.ReinDate.IsZero() && !e.ReinDate.After(asOf.Time) {
		p.active = false
	}
	if e.EndDate != "" && e.EndDate != "Indefinite" {
		if d, err := credtrack.ParseDate(e.EndDate); err == nil && d.Before(asOf.Time) {
			p.active = false
		}
	}
	if e.Individual && p.active {
		p.last, p.first, p.names = lastVariants(e.LastName), firstName(e.FirstName), true
	}
	return p
}

func prepareSubject(s *Subject) prepared {
	return prepared{last: lastVariants(s.LastName), first: firstName(s.FirstName), npi: npiOrNone(s.NPI),
		state: strings.ToUpper(strings.TrimSpace(s.State)), dob: s.DOB, names: true, active: true}
}

// lastScore compares two sets of last-name variants: 1 when the full
// names are equal, 0.9 when a part equals, 0.85 within one edit, else 0.
func lastScore(a, b []string) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if a[0] == b[0] {
		return 1
	}
	best := 0.0
	for _, x := range a {
		for _, y := range b {
			switch {
			case x == y:
				return 0.9
			case best < 0.85 && len(x) >= 4 && len(y) >= 4 && withinOneEdit(x, y):
				best = 0.85
			}
		}
	}
	return best
}

// firstScore compares first names: 1 equal, 0.9 nicknames, 0.8 within
// one edit (4+ letters), 0.7 one is the other's initial.
func firstScore(a, b string) float64 {
	switch {
	case a == "" || b == "":
		return 0
	case a == b:
		return 1
	case (len(a) == 1 || len(b) == 1) && a[0] == b[0]:
		return 0.7
	case sameNicknameGroup(a, b):
		return 0.9
	case len(a) >= 4 && len(b) >= 4 && withinOneEdit(a, b):
		return 0.8
	}
	return 0
}

// matchPair is THE matching rule: both the indexed and the naive matcher
// call it for every pair they consider, so they agree by construction.
func matchPair(s, e *prepared) (score int, reasons []string) {
	if !e.active {
		return 0, nil
	}
	if s.npi != "" && s.npi == e.npi {
		score, reasons = 100, append(reasons, ReasonNPI)
	}
	if !e.names || !s.names {
		return score, reasons
	}
	// A name rule needs equal dates of birth or the same state; two known,
	// different dates of birth rule it out.
	dobKnown := !s.dob.IsZero() && !e.dob.IsZero()
	if dobKnown && !s.dob.Equal(e.dob.Time) {
		return score, reasons
	}
	sameState := s.state != "" && s.state == e.state
	if !dobKnown && !sameState {
		return score, reasons
	}
	ls := lastScore(s.last, e.last)
	if ls == 0 {
		return score, reasons
	}
	fs := firstScore(s.first, e.first)
	if dobKnown && fs >= 0.7 {
		reasons = append(reasons, ReasonNameDOB)
		score = max(score, int(math.Round(70+25*ls*fs)))
	}
	if sameState && fs >= 0.8 {
		reasons = append(reasons, ReasonNameState)
		score = max(score, int(math.Round(75*ls*fs)))
	}
	return score, reasons
}

// Index holds the entries of the lists in force, indexed so that
// screening one provider costs a few map lookups plus the entries that
// share (or nearly share) its last name or its NPI, not a pass over every
// entry.
type Index struct {
	entries []*credtrack.ListEntry
	prep    []prepared
	byNPI   map[string][]int32
	// byDOB lists the individuals with a date of birth, by that date (the
	// name+dob rule needs equal dates).
	byDOB map[credtrack.Date][]int32
	// lastIDs numbers every distinct last-name variant; lastEntries[id]
	// lists the entries that have it, sorted by state (the name+state rule
	// needs the same state, found by binary search).
	lastIDs     map[string]int32
	lastNames   []string
	lastEntries [][]int32
	// dels maps a variant of 4+ letters, and each string obtained by
	// deleting one of its letters, to the variant IDs: two names within one
	// edit always share such a key (symmetric-delete blocking).
	dels map[string][]int32
	asOf credtrack.Date
	pool sync.Pool
	// Versions are the list versions indexed, by source.
	Versions map[credtrack.ListSource]string
}

// NewIndex indexes entries for screening on date asOf.
func NewIndex(entries []*credtrack.ListEntry, asOf credtrack.Date) *Index {
	ix := &Index{entries: entries, prep: make([]prepared, len(entries)), byNPI: map[string][]int32{},
		byDOB: map[credtrack.Date][]int32{}, lastIDs: map[string]int32{}, dels: map[string][]int32{}, asOf: asOf, Versions: map[credtrack.ListSource]string{}}
	for i, e := range entries {
		p := prepareEntry(e, asOf)
		ix.prep[i] = p
		if !p.active {
			continue
		}
		if p.npi != "" {
			ix.byNPI[p.npi] = append(ix.byNPI[p.npi], int32(i))
		}
		if p.names && !p.dob.IsZero() {
			ix.byDOB[p.dob] = append(ix.byDOB[p.dob], int32(i))
		}
		for _, v := range p.last {
			id, ok := ix.lastIDs[v]
			if !ok {
				id = int32(len(ix.lastNames)) // #nosec G115 -- distinct surnames of the lists, far below 2^31 (a list over 64 MB/512 MB is refused)
				ix.lastIDs[v] = id
				ix.lastNames = append(ix.lastNames, v)
				ix.lastEntries = append(ix.lastEntries, nil)
			}
			l := ix.lastEntries[id]
			if n := len(l); n == 0 || l[n-1] != int32(i) {
				ix.lastEntries[id] = append(l, int32(i))
			}
		}
	}
	for _, l := range ix.lastEntries {
		sort.SliceStable(l, func(a, b int) bool { return ix.prep[l[a]].state < ix.prep[l[b]].state })
	}
	var buf []string
	for id, v := range ix.lastNames {
		if len(v) < 4 {
			continue
		}
		buf = deletions(v, append(buf[:0], v))
		for _, d := range buf {
			ix.dels[d] = append(ix.dels[d], int32(id))
		}
	}
	return ix
}

// Len is the number of entries indexed.
func (ix *Index) Len() int { return len(ix.entries) }

// scratch is per-goroutine working memory for Screen.
type scratch struct {
	seen    []uint32 // entry index → generation it was last considered in
	seenVar []uint32 // variant ID → generation
	gen     uint32
	cands   []int32
	buf     []string
}

func (ix *Index) newScratch() *scratch {
	return &scratch{seen: make([]uint32, len(ix.entries)), seenVar: make([]uint32, len(ix.lastNames))}
}

// Screen returns the matches of one subject, best first.
func (ix *Index) Screen(s *Subject) []Match {
	sc, _ := ix.pool.Get().(*scratch)
	if sc == nil {
		sc = ix.newScratch()
	}
	defer ix.pool.Put(sc)
	return ix.screen(s, sc)
}

func (ix *Index) screen(s *Subject, sc *scratch) []Match {
	sp := prepareSubject(s)
	sc.gen++
	sc.cands = sc.cands[:0]
	addEntries := func(ids []int32) {
		for _, i := range ids {
			if sc.seen[i] != sc.gen {
				sc.seen[i] = sc.gen
				sc.cands = append(sc.cands, i)
			}
		}
	}
	if sp.npi != "" {
		addEntries(ix.byNPI[sp.npi])
	}
	if !sp.dob.IsZero() {
		addEntries(ix.byDOB[sp.dob])
	}
	// Only the entries of the subject's state in each last-name block: an
	// entry of another state can only match by NPI or date of birth, which
	// the lookups above found.
	addVariant := func(id int32) {
		if sc.seenVar[id] == sc.gen {
			return
		}
		sc.seenVar[id] = sc.gen
		if sp.state == "" {
			return
		}
		l := ix.lastEntries[id]
		lo := sort.Search(len(l), func(k int) bool { return ix.prep[l[k]].state >= sp.state })
		hi := lo
		for hi < len(l) && ix.prep[l[hi]].state == sp.state {
			hi++
		}
		addEntries(l[lo:hi])
	}
	for _, v := range sp.last {
		if id, ok := ix.lastIDs[v]; ok {
			addVariant(id)
		}
		if len(v) < 4 {
			continue
		}
		sc.buf = deletions(v, append(sc.buf[:0], v))
		for _, d := range sc.buf {
			for _, id := range ix.dels[d] {
				if sc.seenVar[id] != sc.gen && withinOneEdit(v, ix.lastNames[id]) {
					addVariant(id)
				}
			}
		}
	}
	var out []Match
	for _, i := range sc.cands {
		if score, reasons := matchPair(&sp, &ix.prep[i]); score > 0 {
			out = append(out, Match{ProviderID: s.ProviderID, Entry: ix.entries[i], Score: score, Reasons: reasons})
		}
	}
	sortMatches(out)
	return out
}

// ScreenAll screens subjects on every core and returns the matches of
// all of them, ordered by subject then score.
func (ix *Index) ScreenAll(subjects []*Subject) []Match {
	workers := runtime.GOMAXPROCS(0)
	if workers > len(subjects)/64+1 {
		workers = len(subjects)/64 + 1
	}
	results := make([][]Match, len(subjects))
	var wg sync.WaitGroup
	chunk := (len(subjects) + workers - 1) / max(workers, 1)
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(subjects))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := ix.newScratch()
			for i := lo; i < hi; i++ {
				results[i] = ix.screen(subjects[i], sc)
			}
		}()
	}
	wg.Wait()
	var out []Match
	for _, r := range results {
		out = append(out, r...)
	}
	return out
}

// NaiveScreen is the baseline: every subject against every entry with the
// same rule. It exists for the benchmark and the equivalence test.
func NaiveScreen(entries []*credtrack.ListEntry, asOf credtrack.Date, subjects []*Subject) []Match {
	prep := make([]prepared, len(entries))
	for i, e := range entries {
		prep[i] = prepareEntry(e, asOf)
	}
	var out []Match
	for _, s := range subjects {
		sp := prepareSubject(s)
		var ms []Match
		for i := range prep {
			if score, reasons := matchPair(&sp, &prep[i]); score > 0 {
				ms = append(ms, Match{ProviderID: s.ProviderID, Entry: entries[i], Score: score, Reasons: reasons})
			}
		}
		sortMatches(ms)
		out = append(out, ms...)
	}
	return out
}

func sortMatches(ms []Match) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Score != ms[j].Score {
			return ms[i].Score > ms[j].Score
		}
		if ms[i].Entry.Source != ms[j].Entry.Source {
			return ms[i].Entry.Source < ms[j].Entry.Source
		}
		return ms[i].Entry.Key < ms[j].Entry.Key
	})
}
