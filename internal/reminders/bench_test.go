package reminders_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/reminders"
	"credtrack/internal/storetest"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReminderPass measures the daily pass on SQLite over 2,000
// active providers with 5 credentials each (10,000 credentials, expiries
// spread over two years, so about one in eight in the 90-day window):
// the steady-state pass (nothing new due: what runs every day) against
// the bare scan of the window (ExpiringCredentials) in the same run.
//
//	go test -run '^$' -bench BenchmarkReminderPass ./internal/reminders/
func BenchmarkReminderPass(b *testing.B) {
	clock := &storetest.Clock{T: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	db := storetest.OpenSQLite(b, clock)
	ctx, org := storetest.NewOrg(b, db, "Bench Clinic")
	n := 0
	for i := 0; i < 2000; i++ {
		p := &credtrack.Provider{FirstName: fmt.Sprintf("P%d", i), LastName: "Bench", Profession: credtrack.ProfRN, Active: true}
		if err := db.CreateProvider(ctx, p); err != nil {
			b.Fatal(err)
		}
		for k := 0; k < 5; k++ {
			c := &credtrack.Credential{ProviderID: p.ID, Type: credtrack.CredMalpractice, Issuer: "Carrier", Jurisdiction: "MO",
				ExpiresOn: credtrack.DateOf(clock.T.Add(time.Duration((n*37)%730) * 24 * time.Hour))}
			if err := db.CreateCredential(ctx, c); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	svc := &reminders.Service{Store: db, Now: clock.Now} // no alerts or mail: the pass's own cost
	first := time.Now()
	sent, err := svc.Pass(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("first pass: %d reminders recorded in %v", sent, time.Since(first).Round(time.Millisecond))
	sys := credtrack.NewContextWithActor(context.Background(), credtrack.SystemActor(reminders.JobKind, org.ID))
	today := credtrack.DateOf(clock.T)
	measure := func(f func()) (wall, cpu time.Duration) {
		const rounds = 20
		c0, t0 := cpuTime(), time.Now()
		for i := 0; i < rounds; i++ {
			f()
		}
		return time.Since(t0) / rounds, (cpuTime() - c0) / rounds
	}
	for b.Loop() {
		passWall, passCPU := measure(func() {
			if n, err := svc.Pass(context.Background()); err != nil || n != 0 {
				b.Fatal(n, err)
			}
		})
		scanWall, scanCPU := measure(func() {
			if _, err := db.ExpiringCredentials(sys, credtrack.Date{Time: today.AddDate(0, 0, -reminders.ExpiredGrace)},
				credtrack.Date{Time: today.AddDate(0, 0, 90)}); err != nil {
				b.Fatal(err)
			}
		})
		b.ReportMetric(float64(passWall.Microseconds())/1000, "pass-ms")
		b.ReportMetric(float64(passCPU.Microseconds())/1000, "pass-cpu-ms")
		b.ReportMetric(float64(scanWall.Microseconds())/1000, "scan-ms")
		b.ReportMetric(float64(scanCPU.Microseconds())/1000, "scan-cpu-ms")
		b.ReportMetric(float64(passWall)/float64(scanWall), "pass/scan")
	}
}
