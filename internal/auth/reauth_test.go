package auth_test

import (
	"context"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// SECURITY.md §2 item 21 (ASVS 7.5.1): changing the password or the MFA
// factor needs the person to prove themselves again; a signed-in session
// alone is not enough. Each refused attempt changes nothing.
func TestReauthenticationForChanges(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, _ := mfaUser(t, db, clock, "reauth@mfa.example", credtrack.RoleProvider)
		ctx := context.Background()
		secret, _, tok := enrolTok(t, svc, clock, "reauth@mfa.example")

		// Password: the current one is required.
		for _, current := range []string{"", "not my password"} {
			if _, err := svc.ChangePassword(ctx, tok, current, "a whole new passphrase 42"); err == nil {
				t.Fatalf("password changed with current %q", current)
			}
		}
		if _, err := svc.Login(ctx, "reauth@mfa.example", mfaPW); err != nil {
			t.Fatalf("the old password stopped working after refused changes: %v", err)
		}

		// MFA off or replaced: the password AND a current code.
		clock.Advance(30 * time.Second)
		attempts := []struct{ pw, code string }{
			{"", code(t, secret, clock.Now())},
			{"not my password", code(t, secret, clock.Now())},
			{mfaPW, ""},
			{mfaPW, "000000"},
		}
		for _, a := range attempts {
			if err := svc.DisableMFA(ctx, tok, a.pw, a.code, true); err == nil {
				t.Fatalf("MFA reset with password %q and code %q", a.pw, a.code)
			}
		}
		if got, err := db.FindUserByID(ctx, u.ID); err != nil || got.TOTPEnabledAt.IsZero() {
			t.Fatalf("TOTP is no longer on after refused attempts: %v", err)
		}

		// New recovery codes: a current code.
		for _, c := range []string{"", "123456"} {
			if _, err := svc.RegenerateRecoveryCodes(ctx, tok, c); err == nil {
				t.Fatalf("recovery codes replaced with code %q", c)
			}
		}
	})
}
