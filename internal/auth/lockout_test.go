package auth_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/mail"
	"credtrack/internal/mail/mailtest"
	"credtrack/internal/password"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

const (
	goodPW   = "bright meadow lantern"
	userMail = "coord@mercy.example"
	// genericMsg is the one answer for every failed sign-in.
	genericMsg = "Email or password is wrong, or the account is locked."
)

// failLogins signs in n times with a wrong password.
func failLogins(t *testing.T, login func(ctx context.Context, email, pw string) (string, error), n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := login(context.Background(), userMail, "wrong password"); credtrack.ErrorMessage(err) != genericMsg {
			t.Fatalf("wrong password %d: %v", i+1, err)
		}
	}
}

func TestLockoutSuccessResetsCounter(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, _, _ := setup(t, db, clock)
		ctx := context.Background()
		failLogins(t, svc.Login, 4)
		if _, err := svc.Login(ctx, userMail, goodPW); err != nil {
			t.Fatalf("4 failures must not lock: %v", err)
		}
		// The success cleared the counter: four more failures still do
		// not lock.
		failLogins(t, svc.Login, 4)
		if _, err := svc.Login(ctx, userMail, goodPW); err != nil {
			t.Fatalf("counter not reset by success: %v", err)
		}
	})
}

func TestLockoutWindowExpires(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, _ := setup(t, db, clock)
		failLogins(t, svc.Login, 4)
		clock.Advance(16 * time.Minute) // the window of the first failure has passed
		failLogins(t, svc.Login, 4)
		if until, err := db.LockState(context.Background(), u.ID); err != nil || !until.IsZero() {
			t.Fatalf("failures of an expired window still counted: locked until %v, %v", until, err)
		}
	})
}

func TestLockoutLocksAndExpires(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, _ := setup(t, db, clock)
		ctx := context.Background()
		start := clock.Now()
		failLogins(t, svc.Login, 5)

		until, err := db.LockState(ctx, u.ID)
		if err != nil || !until.Equal(start.Add(15*time.Minute)) {
			t.Fatalf("LockState = %v, %v; want %v", until, err, start.Add(15*time.Minute))
		}
		// The right password is refused with the very answer an unknown
		// address and a wrong password get.
		_, errLocked := svc.Login(ctx, userMail, goodPW)
		_, errUnknown := svc.Login(ctx, "nobody@mercy.example", goodPW)
		_, errWrong := svc.Login(ctx, userMail, "wrong password")
		for name, err := range map[string]error{"locked": errLocked, "unknown": errUnknown, "wrong": errWrong} {
			if err == nil || credtrack.ErrorMessage(err) != genericMsg || credtrack.ErrorCode(err) != credtrack.EUNAUTHORIZED ||
				err.Error() != errUnknown.Error() {
				t.Fatalf("%s: %v (code %s), want the generic error", name, err, credtrack.ErrorCode(err))
			}
		}
		// 5 wrong passwords, 1 lock, then locked, unknown, wrong-while-locked.
		if brk, n, err := db.VerifyChain(ctx, ""); err != nil || brk != nil || n != 9 {
			t.Fatalf("chain \"\": %d events (%v, %v), want 9", n, brk, err)
		}

		// The lock survives a fresh look at the database (nothing is kept
		// in memory): a new Service over the same handle still refuses.
		svc2 := &auth.Service{Store: db, Hasher: password.NewHasher(cheap, 2), Now: clock.Now, Log: svc.Log}
		if _, err := svc2.Login(ctx, userMail, goodPW); credtrack.ErrorMessage(err) != genericMsg {
			t.Fatalf("lock lost with a new service: %v", err)
		}

		clock.Advance(15*time.Minute - time.Second)
		if _, err := svc.Login(ctx, userMail, goodPW); err == nil {
			t.Fatal("signed in a second before the lock ends")
		}
		clock.Advance(time.Second)
		if _, err := svc.Login(ctx, userMail, goodPW); err != nil {
			t.Fatalf("lock did not expire after 15 minutes: %v", err)
		}
		// After the lock, a fresh count of five starts.
		failLogins(t, svc.Login, 4)
		if until, _ := db.LockState(ctx, u.ID); !until.IsZero() {
			t.Fatalf("locked again after 4 failures: %v", until)
		}
	})
}

func TestRecordLoginFailureDirect(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		_, u, _ := setup(t, db, clock)
		ctx := context.Background()
		for i := 1; i <= 5; i++ {
			locked, until, err := db.RecordLoginFailure(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if locked != (i == 5) || until.IsZero() != (i < 5) {
				t.Fatalf("failure %d: locked=%v until=%v", i, locked, until)
			}
		}
		// While locked, more failures neither lock again (no second
		// email) nor extend the lock.
		want, _ := db.LockState(ctx, u.ID)
		clock.Advance(time.Minute)
		locked, until, err := db.RecordLoginFailure(ctx, u.ID)
		if err != nil || locked || !until.Equal(want) {
			t.Fatalf("failure while locked: %v %v %v, want false %v", locked, until, err, want)
		}
		if err := db.ClearLoginFailures(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if until, _ := db.LockState(ctx, u.ID); !until.IsZero() {
			t.Fatalf("ClearLoginFailures left a lock until %v", until)
		}
		if _, _, err := db.RecordLoginFailure(ctx, "no-such-user"); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Fatalf("unknown user: %v", err)
		}
	})
}

func TestUnlockUser(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, orgID := setup(t, db, clock)
		ctx := context.Background()
		failLogins(t, svc.Login, 5)

		// A coordinator may not unlock.
		coord := storetest.As("u-coord", orgID, credtrack.RoleCoordinator)
		if err := db.UnlockUser(coord, u.ID); credtrack.ErrorCode(err) != credtrack.EFORBIDDEN {
			t.Fatalf("coordinator unlock: %v, want EFORBIDDEN", err)
		}
		// An admin of another organization cannot see the user at all.
		_, other := storetest.NewOrg(t, db, "Other Clinic")
		if err := db.UnlockUser(storetest.As("u-other", other.ID, credtrack.RoleAdmin), u.ID); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Fatalf("other org's admin unlock: %v, want ENOTFOUND", err)
		}
		if until, _ := db.LockState(ctx, u.ID); until.IsZero() {
			t.Fatal("a refused unlock unlocked")
		}

		admin := storetest.As("u-admin", orgID, credtrack.RoleAdmin)
		if err := db.UnlockUser(admin, u.ID); err != nil {
			t.Fatalf("admin unlock: %v", err)
		}
		if _, err := svc.Login(ctx, userMail, goodPW); err != nil {
			t.Fatalf("login after unlock: %v", err)
		}
		sys := credtrack.NewContextWithActor(ctx, credtrack.SystemActor("test", orgID))
		evs, _, err := db.FindAuditEvents(sys, credtrack.AuditFilter{Action: "auth.account.unlocked"})
		if err != nil || len(evs) != 1 || evs[0].TargetID != u.ID || evs[0].ActorID != "u-admin" || evs[0].Details["was_locked"] != "true" {
			t.Fatalf("unlock audit: %+v, %v", evs, err)
		}
	})
}

func TestLockoutEmailsOnce(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		srv := mailtest.NewServer(t)
		host, port := srv.Addr()
		sender, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: port, From: "credtrack@example.org", TLS: mail.TLSNone})
		if err != nil {
			t.Fatal(err)
		}
		svc, _, _ := setup(t, db, clock)
		svc.Mail = sender
		ctx := credtrack.NewContextWithActor(context.Background(),
			credtrack.Actor{Kind: credtrack.ActorAnonymous, IP: "198.51.100.7"})
		for i := 0; i < 8; i++ { // 5 lock it; 3 more while locked send nothing
			if _, err := svc.Login(ctx, userMail, "wrong password"); credtrack.ErrorMessage(err) != genericMsg {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		msgs := srv.WaitFor(t, 1, 10*time.Second)
		if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != userMail {
			t.Fatalf("lock emails: %+v", msgs)
		}
		if !strings.Contains(msgs[0].Text, "198.51.100.7") {
			t.Errorf("lock email does not name the address of the attempts:\n%s", msgs[0].Text)
		}
		// The email is sent in the background; give a second one (which
		// must not exist) time to arrive.
		time.Sleep(300 * time.Millisecond)
		if n := len(srv.Messages()); n != 1 {
			t.Fatalf("%d lock emails, want exactly 1", n)
		}
	})
}

func TestRecordLoginFailureConcurrent(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		_, u, _ := setup(t, db, clock)
		// Twelve failures at once, as from several nodes: every one is
		// counted (no lost update), and exactly one of them locks.
		var wg sync.WaitGroup
		var locks atomic.Int32
		errs := make(chan error, 12)
		for range 12 {
			wg.Go(func() {
				locked, _, err := db.RecordLoginFailure(context.Background(), u.ID)
				if err != nil {
					errs <- err
				}
				if locked {
					locks.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if n := locks.Load(); n != 1 {
			t.Fatalf("%d failures reported locking the account, want exactly 1", n)
		}
	})
}
