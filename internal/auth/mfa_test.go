package auth_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/password"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"

	pqtotp "github.com/pquerna/otp/totp"
)

const mfaPW = "bright meadow lantern"

// mfaUser creates a verified user with role in a new organization.
func mfaUser(t *testing.T, db *sqlstore.DB, clock *storetest.Clock, email string, role credtrack.Role) (*auth.Service, *credtrack.User, string) {
	t.Helper()
	ctx, org := storetest.NewOrg(t, db, "Org of "+email)
	svc := &auth.Service{Store: db, Hasher: password.NewHasher(cheap, 2), Now: clock.Now,
		Idle: 30 * time.Minute, Lifetime: 12 * time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h, _ := svc.Hasher.Hash(mfaPW)
	u := &credtrack.User{Email: email, PasswordHash: h, EmailVerifiedAt: clock.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMembership(ctx, u.ID, role); err != nil {
		t.Fatal(err)
	}
	return svc, u, org.ID
}

// code returns the TOTP code of secret at t.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := pqtotp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stage returns the sign-in stage of token's session.
func stage(t *testing.T, svc *auth.Service, token string) credtrack.SessionStage {
	t.Helper()
	a, _, _, err := svc.Session(context.Background(), token)
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	return a.Stage
}

// countAction counts audit events with an action.
func countAction(t *testing.T, db *sqlstore.DB, action string) int {
	t.Helper()
	q := "SELECT COUNT(*) FROM audit_events WHERE action = ?"
	if db.Backend() == sqlstore.Postgres {
		q = "SELECT COUNT(*) FROM audit_events WHERE action = $1"
	}
	var n int
	if err := db.WriteDB().QueryRow(q, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// enrol signs u in and enrols TOTP through the service; it returns the
// seed and the recovery codes.
func enrol(t *testing.T, svc *auth.Service, clock *storetest.Clock, email string) (string, []string) {
	s, c, _ := enrolTok(t, svc, clock, email)
	return s, c
}

// enrolTok is enrol that also returns the signed-in session's token.
func enrolTok(t *testing.T, svc *auth.Service, clock *storetest.Clock, email string) (string, []string, string) {
	t.Helper()
	ctx := context.Background()
	tok, err := svc.Login(ctx, email, mfaPW)
	if err != nil {
		t.Fatal(err)
	}
	e, err := svc.BeginEnrol(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	ready, codes, err := svc.ConfirmEnrol(ctx, tok, code(t, e.Secret, clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Second) // the next code is a fresh step
	return e.Secret, codes, ready
}

func TestMFAEnrolAndConfirm(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, _, _ := mfaUser(t, db, clock, "prov@mfa.example", credtrack.RoleProvider)
		srv := withMail(t, svc)
		ctx := context.Background()
		tok, err := svc.Login(ctx, "prov@mfa.example", mfaPW)
		if err != nil {
			t.Fatal(err)
		}
		other, _ := svc.Login(ctx, "prov@mfa.example", mfaPW)
		if s := stage(t, svc, tok); s != credtrack.StageReady {
			t.Fatalf("provider without TOTP: stage %q", s)
		}
		e, err := svc.BeginEnrol(ctx, tok)
		if err != nil || len(e.Secret) != 32 {
			t.Fatalf("BeginEnrol = %+v, %v", e, err)
		}
		if again, err := svc.PendingEnrol(ctx, tok); err != nil || again.Secret != e.Secret || again.URL != e.URL {
			t.Fatalf("the pending enrolment reads back as %+v, %v; want %+v", again, err, e)
		}
		if png, err := svc.EnrolQR(ctx, tok); err != nil || len(png) < 100 || string(png[1:4]) != "PNG" {
			t.Fatalf("QR: %d bytes, %v", len(png), err)
		}
		if _, _, err := svc.ConfirmEnrol(ctx, tok, "000000"); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("wrong confirming code: %v", err)
		}
		newTok, codes, err := svc.ConfirmEnrol(ctx, tok, code(t, e.Secret, clock.Now()))
		if err != nil || len(codes) != 10 || newTok == tok {
			t.Fatalf("ConfirmEnrol = %q, %d codes, %v", newTok, len(codes), err)
		}
		// The session was rotated: the old token is dead, the new one has
		// passed MFA; the other session was ended.
		if _, _, _, err := svc.Session(ctx, tok); err == nil {
			t.Fatal("the pre-enrolment token still works")
		}
		if _, _, _, err := svc.Session(ctx, other); err == nil {
			t.Fatal("another session survived enabling TOTP")
		}
		if s := stage(t, svc, newTok); s != credtrack.StageReady {
			t.Fatalf("after enrolment: stage %q", s)
		}
		if _, err := svc.BeginEnrol(ctx, newTok); credtrack.ErrorCode(err) != credtrack.ECONFLICT {
			t.Fatalf("enrolling twice: %v", err)
		}
		// The next sign-in asks for a code.
		tok2, _ := svc.Login(ctx, "prov@mfa.example", mfaPW)
		if s := stage(t, svc, tok2); s != credtrack.StageMFA {
			t.Fatalf("sign-in with TOTP: stage %q", s)
		}
		// The user is told by email (ASVS 4.0 2.5.5), without the seed.
		msgs := srv.WaitFor(t, 1, 5*time.Second)
		if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Two-step verification") || strings.Contains(msgs[0].Text, e.Secret) {
			t.Fatalf("MFA change email: %+v", msgs)
		}
		if n := countAction(t, db, "mfa.enabled"); n != 2 { // one failure, one success
			t.Fatalf("mfa.enabled events = %d", n)
		}
	})
}

func TestMFARequiredRoleAndOrgSetting(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx := context.Background()
		for _, role := range []credtrack.Role{credtrack.RoleOwner, credtrack.RoleAdmin, credtrack.RoleCoordinator} {
			svc, _, _ := mfaUser(t, db, clock, string(role)+"@mfa.example", role)
			tok, err := svc.Login(ctx, string(role)+"@mfa.example", mfaPW)
			if err != nil {
				t.Fatal(err)
			}
			if a, _, _, _ := svc.Session(ctx, tok); a.Stage != credtrack.StageMFAEnrol || a.OrgID != "" || a.Role != "" {
				t.Fatalf("%s without TOTP: %+v", role, a)
			}
		}
		svc, _, orgID := mfaUser(t, db, clock, "nurse@mfa.example", credtrack.RoleProvider)
		q := "UPDATE organizations SET require_mfa = 1 WHERE id = ?"
		if db.Backend() == sqlstore.Postgres {
			q = "UPDATE organizations SET require_mfa = 1 WHERE id = $1"
		}
		if _, err := db.WriteDB().Exec(q, orgID); err != nil {
			t.Fatal(err)
		}
		tok, _ := svc.Login(ctx, "nurse@mfa.example", mfaPW)
		if s := stage(t, svc, tok); s != credtrack.StageMFAEnrol {
			t.Fatalf("provider in an org requiring MFA: stage %q", s)
		}
		// Required: TOTP cannot be turned off, only replaced.
		secret, _ := enrol(t, svc, clock, "nurse@mfa.example")
		tok2, _ := svc.Login(ctx, "nurse@mfa.example", mfaPW)
		out, err := svc.VerifyMFA(ctx, tok2, code(t, secret, clock.Now()), false, false, "")
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(30 * time.Second)
		if err := svc.DisableMFA(ctx, out.Token, mfaPW, code(t, secret, clock.Now()), false); credtrack.ErrorCode(err) != credtrack.EFORBIDDEN {
			t.Fatalf("turning off required TOTP: %v", err)
		}
		clock.Advance(30 * time.Second)
		if err := svc.DisableMFA(ctx, out.Token, mfaPW, code(t, secret, clock.Now()), true); err != nil {
			t.Fatalf("replacing the authenticator: %v", err)
		}
		if s := stage(t, svc, out.Token); s != credtrack.StageMFAEnrol {
			t.Fatalf("after a reset: stage %q", s)
		}
	})
}

func TestMFAWrongCodesShareLockout(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, _ := mfaUser(t, db, clock, "lock@mfa.example", credtrack.RoleProvider)
		secret, _ := enrol(t, svc, clock, "lock@mfa.example")
		ctx := context.Background()
		for i := 0; i < 2; i++ {
			if _, err := svc.Login(ctx, "lock@mfa.example", "wrong password"); err == nil {
				t.Fatal("wrong password accepted")
			}
		}
		tok, err := svc.Login(ctx, "lock@mfa.example", mfaPW)
		if err != nil {
			t.Fatal(err)
		}
		// The success cleared the password failures; five wrong codes lock.
		for i := 0; i < 5; i++ {
			if _, err := svc.VerifyMFA(ctx, tok, "000000", false, false, ""); credtrack.ErrorCode(err) != credtrack.EINVALID {
				t.Fatalf("wrong code %d: %v", i+1, err)
			}
		}
		if until, _ := db.LockState(ctx, u.ID); until.IsZero() {
			t.Fatal("five wrong codes did not lock the account")
		}
		if _, err := svc.VerifyMFA(ctx, tok, code(t, secret, clock.Now()), false, false, ""); credtrack.ErrorCode(err) != credtrack.EUNAUTHORIZED {
			t.Fatalf("right code on a locked account: %v", err)
		}
		if n := countAction(t, db, "auth.account.locked"); n != 1 {
			t.Fatalf("lock events = %d", n)
		}
	})
}

func TestMFAPasswordAndCodeFailuresShareCounter(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, _ := mfaUser(t, db, clock, "mix@mfa.example", credtrack.RoleProvider)
		enrol(t, svc, clock, "mix@mfa.example")
		ctx := context.Background()
		tok, _ := svc.Login(ctx, "mix@mfa.example", mfaPW)
		for i := 0; i < 3; i++ {
			svc.VerifyMFA(ctx, tok, "111111", false, false, "")
		}
		for i := 0; i < 2; i++ {
			svc.Login(ctx, "mix@mfa.example", "wrong password")
		}
		if until, _ := db.LockState(ctx, u.ID); until.IsZero() {
			t.Fatal("3 wrong codes + 2 wrong passwords did not lock")
		}
	})
}

func TestMFAReplayAndWindow(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, _, _ := mfaUser(t, db, clock, "win@mfa.example", credtrack.RoleProvider)
		secret, _ := enrol(t, svc, clock, "win@mfa.example")
		ctx := context.Background()
		login := func() string {
			tok, err := svc.Login(ctx, "win@mfa.example", mfaPW)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		// Well past the enrolment's step, so "one step back" is fresh.
		clock.Advance(2 * time.Minute)
		now := clock.Now()
		for _, c := range []struct {
			offset time.Duration
			ok     bool
		}{
			{-60 * time.Second, false}, // two steps back
			{-30 * time.Second, true},  // one step back
			{60 * time.Second, false},  // two steps ahead
			{30 * time.Second, true},   // one step ahead (after the step above)
		} {
			_, err := svc.VerifyMFA(ctx, login(), code(t, secret, now.Add(c.offset)), false, false, "")
			if (err == nil) != c.ok {
				t.Fatalf("code at %v: %v, want ok=%v", c.offset, err, c.ok)
			}
		}
		// Replay: the same code again, in its window, is refused and audited.
		clock.Advance(60 * time.Second)
		c := code(t, secret, clock.Now())
		if _, err := svc.VerifyMFA(ctx, login(), c, false, false, ""); err != nil {
			t.Fatal(err)
		}
		tok := login()
		if _, err := svc.VerifyMFA(ctx, tok, c, false, false, ""); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("replayed code: %v", err)
		}
		if n := countAction(t, db, "auth.mfa.replayed"); n != 1 {
			t.Fatalf("auth.mfa.replayed events = %d", n)
		}
		if s := stage(t, svc, tok); s != credtrack.StageMFA {
			t.Fatalf("a replay passed the prompt: stage %q", s)
		}
	})
}

func TestMFARecoveryCodeSingleUse(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, _, _ := mfaUser(t, db, clock, "rc@mfa.example", credtrack.RoleProvider)
		_, codes := enrol(t, svc, clock, "rc@mfa.example")
		ctx := context.Background()
		tok, _ := svc.Login(ctx, "rc@mfa.example", mfaPW)
		out, err := svc.VerifyMFA(ctx, tok, "  "+codes[3]+" ", true, false, "")
		if err != nil {
			t.Fatal(err)
		}
		if s := stage(t, svc, out.Token); s != credtrack.StageReady {
			t.Fatalf("after a recovery code: stage %q", s)
		}
		tok2, _ := svc.Login(ctx, "rc@mfa.example", mfaPW)
		if _, err := svc.VerifyMFA(ctx, tok2, codes[3], true, false, ""); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("a used recovery code: %v", err)
		}
		if _, err := svc.VerifyMFA(ctx, tok2, codes[4], true, false, ""); err != nil {
			t.Fatalf("another recovery code: %v", err)
		}
		if st, err := svc.MFAStatus(ctx, out.Token); err != nil || st.RecoveryCodesLeft != 8 {
			t.Fatalf("status = %+v, %v", st, err)
		}
	})
}

func TestMFATrustedDevices(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, _ := mfaUser(t, db, clock, "dev@mfa.example", credtrack.RoleProvider)
		secret, _ := enrol(t, svc, clock, "dev@mfa.example")
		other, _, _ := mfaUser(t, db, clock, "dev2@mfa.example", credtrack.RoleProvider)
		_, _, otherTok := enrolTok(t, other, clock, "dev2@mfa.example")
		ctx := context.Background()
		tok, _ := svc.Login(ctx, "dev@mfa.example", mfaPW)
		out, err := svc.VerifyMFA(ctx, tok, code(t, secret, clock.Now()), false, true, "Firefox on Linux")
		if err != nil || out.DeviceToken == "" || out.DeviceTTL != 30*24*time.Hour {
			t.Fatalf("trust device: %+v, %v", out, err)
		}
		withDevice := func(email, dev string) credtrack.SessionStage {
			tok, err := svc.LoginWithDevice(ctx, email, mfaPW, dev)
			if err != nil {
				t.Fatal(err)
			}
			return stage(t, svc, tok)
		}
		if s := withDevice("dev@mfa.example", out.DeviceToken); s != credtrack.StageReady {
			t.Fatalf("trusted device: stage %q", s)
		}
		if s := withDevice("dev@mfa.example", ""); s != credtrack.StageMFA {
			t.Fatalf("another browser: stage %q", s)
		}
		if s := withDevice("dev2@mfa.example", out.DeviceToken); s != credtrack.StageMFA {
			t.Fatalf("another user's device token: stage %q", s)
		}
		list, err := svc.TrustedDevices(ctx, out.Token)
		if err != nil || len(list) != 1 || list[0].Name != "Firefox on Linux" {
			t.Fatalf("devices = %+v, %v", list, err)
		}
		// Expiry after 30 days.
		clock.Advance(30*24*time.Hour + time.Minute)
		if s := withDevice("dev@mfa.example", out.DeviceToken); s != credtrack.StageMFA {
			t.Fatalf("expired device: stage %q", s)
		}
		// Revoked devices stop working.
		tok3, _ := svc.Login(ctx, "dev@mfa.example", mfaPW)
		out2, err := svc.VerifyMFA(ctx, tok3, code(t, secret, clock.Now()), false, true, "Chrome")
		if err != nil {
			t.Fatal(err)
		}
		list, _ = svc.TrustedDevices(ctx, out2.Token)
		if len(list) != 1 {
			t.Fatalf("devices = %d", len(list))
		}
		if err := other.RevokeTrustedDevice(ctx, otherTok, list[0].ID); credtrack.ErrorCode(err) != credtrack.ENOTFOUND && credtrack.ErrorCode(err) != credtrack.EUNAUTHORIZED {
			t.Fatalf("revoking another user's device: %v", err)
		}
		if err := svc.RevokeTrustedDevice(ctx, out2.Token, list[0].ID); err != nil {
			t.Fatal(err)
		}
		if s := withDevice("dev@mfa.example", out2.DeviceToken); s != credtrack.StageMFA {
			t.Fatalf("revoked device: stage %q", s)
		}
		// A password reset ends every trusted device.
		clock.Advance(30 * time.Second)
		tok4, _ := svc.Login(ctx, "dev@mfa.example", mfaPW)
		out3, err := svc.VerifyMFA(ctx, tok4, code(t, secret, clock.Now()), false, true, "Safari")
		if err != nil {
			t.Fatal(err)
		}
		link, err := db.CreateUserToken(ctx, u.ID, "reset_password", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.ResetPassword(ctx, link, "an entirely new passphrase 42"); err != nil {
			t.Fatal(err)
		}
		tok5, err := svc.LoginWithDevice(ctx, "dev@mfa.example", "an entirely new passphrase 42", out3.DeviceToken)
		if err != nil {
			t.Fatal(err)
		}
		if s := stage(t, svc, tok5); s != credtrack.StageMFA {
			t.Fatalf("device after a reset: stage %q", s)
		}
	})
}

func TestMFAOwnerDeviceCappedAtSessionLifetime(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, _, _ := mfaUser(t, db, clock, "boss@mfa.example", credtrack.RoleOwner)
		secret, _ := enrol(t, svc, clock, "boss@mfa.example")
		ctx := context.Background()
		tok, _ := svc.Login(ctx, "boss@mfa.example", mfaPW)
		out, err := svc.VerifyMFA(ctx, tok, code(t, secret, clock.Now()), false, true, "Edge")
		if err != nil || out.DeviceTTL != 12*time.Hour {
			t.Fatalf("owner device: %+v, %v", out, err)
		}
		clock.Advance(11 * time.Hour)
		tok2, _ := svc.LoginWithDevice(ctx, "boss@mfa.example", mfaPW, out.DeviceToken)
		if s := stage(t, svc, tok2); s != credtrack.StageReady {
			t.Fatalf("owner device within 12 h: stage %q", s)
		}
		clock.Advance(2 * time.Hour)
		tok3, _ := svc.LoginWithDevice(ctx, "boss@mfa.example", mfaPW, out.DeviceToken)
		if s := stage(t, svc, tok3); s != credtrack.StageMFA {
			t.Fatalf("owner device after 13 h: stage %q", s)
		}
	})
}
