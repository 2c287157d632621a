package screening_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/alerts"
	"credtrack/internal/jobs"
	"credtrack/internal/mail"
	"credtrack/internal/mail/mailtest"
	"credtrack/internal/screening"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/work/shared/data/psv", name))
	if err != nil {
		b, err = os.ReadFile(filepath.Join("../../../../shared/data/psv", name))
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// env is a store, a screening service with real alert mail, and an
// organization with a coordinator.
type env struct {
	db    *sqlstore.DB
	clock *storetest.Clock
	svc   *screening.Service
	smtp  *mailtest.Server
	octx  context.Context
	org   *credtrack.Organization
	cli   context.Context
}

func newEnv(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) *env {
	t.Helper()
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	sender, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: port, From: "credtrack@example.org", TLS: mail.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	octx, org := storetest.NewOrg(t, db, "Screening Clinic")
	for _, m := range []struct {
		email string
		role  credtrack.Role
	}{{"coord@clinic.test", credtrack.RoleCoordinator}, {"owner@clinic.test", credtrack.RoleOwner}} {
		u := &credtrack.User{Email: m.email, Name: "User " + string(m.role)}
		if err := db.CreateUser(octx, u); err != nil {
			t.Fatal(err)
		}
		if err := db.AddMembership(octx, u.ID, m.role); err != nil {
			t.Fatal(err)
		}
	}
	svc := &screening.Service{Store: db, Now: clock.Now,
		Alerts: &alerts.Service{Store: db, Mail: sender, BaseURL: "https://credtrack.example"}}
	return &env{db: db, clock: clock, svc: svc, smtp: srv, octx: octx, org: org,
		cli: credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor("cli", ""))}
}

func (e *env) provider(t *testing.T, first, last, npi, state string, dob credtrack.Date) *credtrack.Provider {
	t.Helper()
	p := &credtrack.Provider{FirstName: first, LastName: last, NPI: npi, State: state, DOB: dob, Profession: credtrack.ProfRN, Active: true}
	if err := e.db.CreateProvider(e.octx, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) importFile(t *testing.T, src credtrack.ListSource, name string, data []byte, kind credtrack.ListImportKind) *credtrack.ListVersion {
	t.Helper()
	v, err := e.svc.Import(e.cli, bytes.NewReader(data), screening.ImportOptions{Source: src, Origin: name, Kind: kind})
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return v
}

// runJobs runs the due jobs (the monitoring run the import queued).
func (e *env) runJobs(t *testing.T) int {
	t.Helper()
	r := jobs.NewRunner(e.db, slog.New(slog.DiscardHandler), e.svc.JobKinds())
	r.Now = e.clock.Now
	n, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) open(t *testing.T) []*credtrack.ScreeningCandidate {
	t.Helper()
	cs, err := e.db.FindScreeningCandidates(e.octx, credtrack.CandidateOpen, 100)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// fullFrom turns supplement rows into an UPDATED.csv in force before them:
// the REINDATE column set back to none.
func fullFrom(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	for i := 1; i < len(lines); i++ {
		// REINDATE is the third field from the end (REINDATE, WAIVERDATE,
		// WVRSTATE); no quoted field of these rows holds a comma.
		f := strings.Split(lines[i], ",")
		if n := len(f); n >= 18 {
			f[n-3] = `"00000000"`
		}
		lines[i] = strings.Join(f, ",")
	}
	return []byte(strings.Join(lines, "\n"))
}

func TestNPIFromEXCLIsFlaggedAndAlerted(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock)
		excl := readSample(t, "leie/1701EXCL.csv")
		v := e.importFile(t, credtrack.ListLEIE, "1701EXCL.csv", excl, "")
		if v.Kind != credtrack.ListExclusions || v.Entries != 147 {
			t.Fatalf("version %+v", v)
		}
		// ELITE LAB SERVICES' NPI, recorded on an unrelated provider.
		p := e.provider(t, "Pat", "Unrelated", "1578549051", "MO", credtrack.Date{})
		e.provider(t, "Quiet", "Person", "1234567893", "MO", credtrack.Date{})
		if n := e.runJobs(t); n != 1 {
			t.Fatalf("%d jobs ran", n)
		}
		cs := e.open(t)
		if len(cs) != 1 || cs[0].ProviderID != p.ID || cs[0].Score != 100 || cs[0].ListVersionID != v.ID || cs[0].Reasons[0] != "npi" {
			t.Fatalf("candidates %+v", cs)
		}
		al, err := db.FindAlerts(e.octx, true, 10)
		if err != nil || len(al) != 1 || al[0].Kind != "screening.hit" {
			t.Fatalf("alerts %v %+v", err, al)
		}
		msgs := e.smtp.WaitFor(t, 1, 10*time.Second)
		if len(msgs) != 1 || msgs[0].To[0] != "coord@clinic.test" || !strings.Contains(msgs[0].Text, "https://credtrack.example/screening") {
			t.Fatalf("mail %+v", msgs)
		}
		if strings.Contains(string(msgs[0].Raw), "1578549051") {
			t.Fatal("the NPI is in the email")
		}
		// The job does not run twice for the version; a second run of the
		// same key changes nothing.
		if n := e.runJobs(t); n != 0 {
			t.Fatalf("%d more jobs ran", n)
		}
		// 36 days later the scheduled run finds the list stale and says so.
		clock.Advance(36 * 24 * time.Hour)
		r := jobs.NewRunner(e.db, slog.New(slog.DiscardHandler), e.svc.JobKinds())
		r.Now = clock.Now
		if err := r.Schedule(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n, err := r.RunOnce(context.Background()); err != nil || n != 1 {
			t.Fatalf("scheduled run: %d %v", n, err)
		}
		al, err = db.FindAlerts(e.octx, true, 10)
		if err != nil || len(al) != 2 || al[0].Kind != "list.stale" || !strings.Contains(al[0].Title, "LEIE") {
			t.Fatalf("alerts after 36 days: %v %+v", err, al)
		}
		// The same file again is refused and changes nothing.
		if _, err := e.svc.Import(e.cli, bytes.NewReader(excl), screening.ImportOptions{Source: credtrack.ListLEIE, Origin: "1701EXCL.csv"}); credtrack.ErrorCode(err) != credtrack.ECONFLICT {
			t.Fatalf("reimport: %v", err)
		}
	})
}

func TestReinstatementsAndDecisions(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock)
		rein := readSample(t, "leie/1701REIN.csv")
		full := fullFrom(rein)
		e.importFile(t, credtrack.ListLEIE, "UPDATED.csv", full, "")
		// ASHFORD VICTORIA, 1974-03-30, OR; GARNER JEFFREY by NPI.
		dob, _ := credtrack.ParseDate("1974-03-30")
		a := e.provider(t, "Vicky", "Ashford", "", "WA", dob)
		g := e.provider(t, "Jeff", "Garner", "1871606244", "IA", credtrack.Date{})
		e.runJobs(t)
		cs := e.open(t)
		if len(cs) != 2 {
			t.Fatalf("%d candidates before REIN: %+v", len(cs), cs)
		}
		var ca *credtrack.ScreeningCandidate
		for _, c := range cs {
			if c.ProviderID == a.ID {
				ca = c
			}
		}
		if ca == nil || ca.Reasons[0] != "name+dob" {
			t.Fatalf("Ashford not matched by name and DOB: %+v", cs)
		}
		// A decision needs a reason; it is final.
		if err := db.DecideScreeningCandidate(e.octx, ca.ID, credtrack.CandidateCleared, " "); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("no reason: %v", err)
		}
		if err := db.DecideScreeningCandidate(e.octx, ca.ID, credtrack.CandidateCleared, "different middle name and SSN"); err != nil {
			t.Fatal(err)
		}
		if err := db.DecideScreeningCandidate(e.octx, ca.ID, credtrack.CandidateConfirmed, "x"); credtrack.ErrorCode(err) != credtrack.ECONFLICT {
			t.Fatalf("second decision: %v", err)
		}
		// Another organization cannot see or decide it.
		octx2, _ := storetest.NewOrg(t, db, "Other")
		if err := db.DecideScreeningCandidate(octx2, ca.ID, credtrack.CandidateConfirmed, "x"); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Fatalf("foreign decision: %v", err)
		}
		// The monthly run: the cleared candidate does not come back.
		clock.Advance(31 * 24 * time.Hour)
		e.runJobs(t)
		if cs := e.open(t); len(cs) != 1 || cs[0].ProviderID != g.ID {
			t.Fatalf("after the monthly run: %+v", cs)
		}
		// The REIN supplement: the entries stop matching; the open
		// candidate stays open (never auto-cleared) but is marked unlisted.
		v := e.importFile(t, credtrack.ListLEIE, "1701REIN.csv", rein, "")
		if v.Removed != 13 || v.Entries != 0 {
			t.Fatalf("REIN version %+v", v)
		}
		e.runJobs(t)
		cs = e.open(t)
		if len(cs) != 1 || cs[0].Listed {
			t.Fatalf("after REIN: %+v", cs)
		}
		ix, err := e.svc.Index(e.cli)
		if err != nil {
			t.Fatal(err)
		}
		if ms := ix.Screen(&screening.Subject{FirstName: "Jeff", LastName: "Garner", NPI: "1871606244", State: "IA"}); len(ms) != 0 {
			t.Fatalf("reinstated entry still matches: %+v", ms)
		}
		// A changed entry reopens a cleared candidate: the list again,
		// with Ashford's address changed.
		changed := strings.Replace(string(full), "361 SW 2ND AVENUE", "400 NEW STREET", 1)
		e.importFile(t, credtrack.ListLEIE, "UPDATED.csv", []byte(changed), credtrack.ListFull)
		e.runJobs(t)
		found := false
		for _, c := range e.open(t) {
			found = found || c.ID == ca.ID
		}
		if !found {
			t.Fatal("the cleared candidate did not reopen after its entry changed")
		}
	})
}

func TestMalformedImportKeepsVersion(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		e := newEnv(t, db, clock)
		v1 := e.importFile(t, credtrack.ListSAM, "SAM_Exclusions_Public_Extract_V2_22096.CSV",
			readSample(t, "sam/sam_exclusions_public_extract_v2_rows.extract.csv"), "")
		bad := [][]byte{
			readSample(t, "leie/1701EXCL.csv"), // wrong header
			[]byte(strings.Join(strings.SplitAfter(string(readSample(t, "sam/sam_exclusions_public_extract_v1_rows.extract.csv")), "\n")[:3], "")[:900]), // truncated
		}
		for _, b := range bad {
			if _, err := e.svc.Import(e.cli, bytes.NewReader(b), screening.ImportOptions{Source: credtrack.ListSAM, Origin: "x.csv"}); credtrack.ErrorCode(err) != credtrack.EINVALID {
				t.Fatalf("bad file: %v", err)
			}
		}
		cur, err := db.CurrentListVersion(e.cli, credtrack.ListSAM)
		if err != nil || cur.ID != v1.ID {
			t.Fatalf("in force %v %v", cur, err)
		}
		// A much shorter "full" list is refused unless forced.
		short := strings.Join(strings.SplitAfter(string(readSample(t, "sam/sam_exclusions_public_extract_v2_rows.extract.csv")), "\n")[:3], "")
		if _, err := e.svc.Import(e.cli, strings.NewReader(short), screening.ImportOptions{Source: credtrack.ListSAM, Origin: "s.csv"}); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("short list: %v", err)
		}
		clock.Advance(time.Minute) // versions are listed newest first; a tie on the time has no order
		if _, err := e.svc.Import(e.cli, strings.NewReader(short), screening.ImportOptions{Source: credtrack.ListSAM, Origin: "s.csv?api_key=SECRET", Force: true}); err != nil {
			t.Fatal(err)
		}
		vs, err := db.ListVersions(e.cli, 10)
		if err != nil || len(vs) != 2 || !vs[0].InForce || vs[1].InForce || strings.Contains(vs[0].Origin, "SECRET") {
			t.Fatalf("versions %v %+v", err, vs)
		}
		// The V1 layout imports too.
		e.importFile(t, credtrack.ListSAM, "v1.csv", readSample(t, "sam/sam_exclusions_public_extract_v1_rows.extract.csv"), "")
	})
}

// TestMonitoringRunsOncePerVersion: two servers (two store handles on one
// PostgreSQL database) both queue and run the monitoring job of a version;
// it runs once.
func TestMonitoringRunsOncePerVersion(t *testing.T) {
	clock := &storetest.Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	url := storetest.PostgresDatabase(t)
	open := func() *sqlstore.DB {
		o := storetest.Options(clock)
		o.DatabaseURL = url
		db, err := sqlstore.Open(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return db
	}
	db1, db2 := open(), open()
	e := newEnv(t, db1, clock)
	e.provider(t, "Pat", "Unrelated", "1578549051", "MO", credtrack.Date{})
	v := e.importFile(t, credtrack.ListLEIE, "1701EXCL.csv", readSample(t, "leie/1701EXCL.csv"), "")
	// The second server queues the same run: no second job.
	if added, err := db2.EnqueueJob(context.Background(), &credtrack.Job{Kind: screening.JobMonitor, Key: "version:" + v.ID}); err != nil || added {
		t.Fatalf("second enqueue: %v %v", added, err)
	}
	var mu sync.Mutex
	runs := 0
	var wg sync.WaitGroup
	for _, db := range []*sqlstore.DB{db1, db2} {
		svc := &screening.Service{Store: db, Now: clock.Now}
		kinds := map[string]jobs.Kind{screening.JobMonitor: {Handler: func(ctx context.Context, j *credtrack.Job) error {
			mu.Lock()
			runs++
			mu.Unlock()
			return svc.RunMonitoring(ctx, j)
		}}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := jobs.NewRunner(db, slog.New(slog.DiscardHandler), kinds)
			r.Now = clock.Now
			if _, err := r.RunOnce(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if runs != 1 {
		t.Fatalf("the run ran %d times", runs)
	}
	mr, err := db2.FindMonitoringRuns(context.Background(), 10)
	if err != nil || len(mr) != 1 || mr[0].State != "done" || mr[0].Providers != 1 || mr[0].NewHits != 1 {
		t.Fatalf("runs %v %+v", err, mr)
	}
}
