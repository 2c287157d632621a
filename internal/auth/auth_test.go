package auth_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/password"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// cheap parameters keep the tests fast; production uses password.Default.
var cheap = password.Params{Time: 1, Memory: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}

func setup(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) (*auth.Service, *credtrack.User, string) {
	t.Helper()
	ctx, org := storetest.NewOrg(t, db, "Mercy General")
	svc := &auth.Service{Store: db, Hasher: password.NewHasher(cheap, 2), Now: clock.Now,
		Idle: 30 * time.Minute, Lifetime: 12 * time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h, _ := svc.Hasher.Hash("bright meadow lantern")
	// Verified, and an auditor: the TOTP stage has tests of its own.
	u := &credtrack.User{Email: "coord@mercy.example", PasswordHash: h, EmailVerifiedAt: clock.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMembership(ctx, u.ID, credtrack.RoleAuditor); err != nil {
		t.Fatal(err)
	}
	return svc, u, org.ID
}

func TestLoginAndTimeouts(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, orgID := setup(t, db, clock)
		ctx := context.Background()
		for _, c := range []struct{ email, pw string }{
			{"coord@mercy.example", "wrong password"}, {"nobody@mercy.example", "bright meadow lantern"}} {
			_, err := svc.Login(ctx, c.email, c.pw)
			if credtrack.ErrorMessage(err) != "Email or password is wrong, or the account is locked." {
				t.Fatalf("login %s: %v", c.email, err)
			}
		}
		tok, err := svc.Login(ctx, "COORD@mercy.example", "bright meadow lantern")
		if err != nil {
			t.Fatal(err)
		}
		a, _, ms, err := svc.Session(ctx, tok)
		if err != nil || a.ID != u.ID || a.OrgID != orgID || a.Role != credtrack.RoleAuditor || len(ms) != 1 {
			t.Fatalf("Session = %+v, %v", a, err)
		}
		// Idle: 29 minutes is fine, and activity keeps it alive until 12 h.
		for i := 0; i < 24; i++ {
			clock.Advance(29 * time.Minute)
			if _, _, _, err := svc.Session(ctx, tok); err != nil {
				t.Fatalf("active session refused after %d steps: %v", i, err)
			}
		}
		clock.Advance(29 * time.Minute) // 12 h 5 min after login
		if _, _, _, err := svc.Session(ctx, tok); credtrack.ErrorCode(err) != credtrack.EUNAUTHORIZED {
			t.Fatalf("session past the absolute lifetime: %v", err)
		}
		tok2, _ := svc.Login(ctx, "coord@mercy.example", "bright meadow lantern")
		clock.Advance(31 * time.Minute)
		if _, _, _, err := svc.Session(ctx, tok2); credtrack.ErrorCode(err) != credtrack.EUNAUTHORIZED {
			t.Fatalf("idle session: %v", err)
		}
		tok3, _ := svc.Login(ctx, "coord@mercy.example", "bright meadow lantern")
		if err := svc.Logout(ctx, tok3); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := svc.Session(ctx, tok3); err == nil {
			t.Fatal("logged-out token still works")
		}
		// The failed logins belong to no organization: they form chain "".
		if brk, n, err := db.VerifyChain(ctx, ""); err != nil || brk != nil || n != 2 {
			t.Fatalf("failed logins audited: %d (%v, %v), want 2", n, brk, err)
		}
	})
}

func TestSetPasswordLinkSingleUse(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, _ := setup(t, db, clock)
		ctx := context.Background()
		link, err := db.CreateUserToken(ctx, u.ID, "set_password", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.SetPassword(ctx, link, "short"); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("short password: %v", err)
		}
		if err := svc.SetPassword(ctx, link, "a whole new passphrase"); err != nil {
			t.Fatal(err)
		}
		if err := svc.SetPassword(ctx, link, "another new passphrase"); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("second use: %v", err)
		}
		if _, err := svc.Login(ctx, u.Email, "a whole new passphrase"); err != nil {
			t.Fatal(err)
		}
		expired, _ := db.CreateUserToken(ctx, u.ID, "set_password", time.Hour)
		clock.Advance(61 * time.Minute)
		if err := svc.SetPassword(ctx, expired, "yet another passphrase"); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("expired link: %v", err)
		}
	})
}
