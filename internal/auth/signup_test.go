package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/mail/mailtest"
	"credtrack/internal/password"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// newSignupService returns a service on db with a captured mailbox.
func newSignupService(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) (*auth.Service, *mailtest.Server) {
	t.Helper()
	svc := &auth.Service{Store: db, Hasher: password.NewHasher(cheap, 2), Now: clock.Now,
		Idle: 30 * time.Minute, Lifetime: 12 * time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return svc, withMail(t, svc)
}

// InsertInvitation stores an invitation as the invitation code does (the
// SHA-256 of the token) and returns the token and the row's ID. Tests use
// it instead of CreateInvitation so that they stand alone.
func InsertInvitation(t testing.TB, db *sqlstore.DB, at time.Time, orgID, email string, role credtrack.Role, ttl time.Duration) (token, id string) {
	t.Helper()
	token, id = rand.Text()+rand.Text(), credtrack.NewID()
	h := sha256.Sum256([]byte(token))
	q := "INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	if db.Backend() == sqlstore.Postgres {
		q = "INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
	}
	if _, err := db.WriteDB().Exec(q, id, orgID, email, string(role), h[:], "inviter", at.UnixMicro(), at.Add(ttl).UnixMicro()); err != nil {
		t.Fatal(err)
	}
	return token, id
}

func countRows(t *testing.T, db *sqlstore.DB, table string) int {
	t.Helper()
	var n int
	if err := db.WriteDB().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// linkToken returns the token of the first link starting with prefix in msg.
func linkToken(t *testing.T, msg mailtest.Captured, prefix string) string {
	t.Helper()
	link := mailtest.LinkIn(msg.Text, baseURL+prefix)
	if link == "" {
		t.Fatalf("no %s link in %q", prefix, msg.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// signIn signs a signed-up account in with strongPassword.
func signIn(t *testing.T, svc *auth.Service, email string) string {
	t.Helper()
	tok, err := svc.Login(context.Background(), email, strongPassword)
	if err != nil {
		t.Fatalf("sign in as %s: %v", email, err)
	}
	return tok
}

func providerRequest(email string) auth.SignUpRequest {
	return auth.SignUpRequest{Kind: auth.SignUpProvider, Email: email, FirstName: "Nia", LastName: "Okafor",
		Password: strongPassword, Profession: credtrack.ProfRN, DateOfBirth: "1990-04-02"}
}

func TestSignUpProviderAndVerify(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, srv := newSignupService(t, db, clock)
		ctx := context.Background()
		if err := svc.SignUp(ctx, providerRequest("Nia.Okafor@Example.org")); err != nil {
			t.Fatal(err)
		}
		// Signing up does not sign in (the answer must not differ from a
		// taken address's); the person may sign in before confirming.
		if n := countRows(t, db, "sessions"); n != 0 {
			t.Fatalf("sign-up opened %d sessions", n)
		}
		tok := signIn(t, svc, "nia.okafor@example.org")
		a, u, ms, err := svc.Session(ctx, tok)
		if err != nil || a.Stage != credtrack.StageVerifyEmail || a.OrgID != "" || u.Email != "nia.okafor@example.org" {
			t.Fatalf("unverified session = %+v %+v, %v", a, u, err)
		}
		if len(ms) != 1 || ms[0].OrgKind != credtrack.OrgKindPersonal || ms[0].Role != credtrack.RoleProvider {
			t.Fatalf("memberships = %+v", ms)
		}
		msgs := srv.WaitFor(t, 1, 5*time.Second)
		if msgs[0].To[0] != "nia.okafor@example.org" {
			t.Fatalf("verification sent to %v", msgs[0].To)
		}
		vtok := linkToken(t, msgs[0], "/verify-email/confirm?token=")
		if err := svc.VerifyEmail(ctx, "not-a-token"); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("bad link: %v", err)
		}
		if err := svc.VerifyEmail(ctx, vtok); err != nil {
			t.Fatal(err)
		}
		if err := svc.VerifyEmail(ctx, vtok); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("second use: %v", err)
		}
		a, _, _, err = svc.Session(ctx, tok)
		if err != nil || a.Stage != credtrack.StageReady || a.OrgID != ms[0].OrgID || a.Role != credtrack.RoleProvider {
			t.Fatalf("verified session = %+v, %v", a, err)
		}
		// The provider record is linked to the account, in the workspace.
		var pid, porg string
		if err := db.WriteDB().QueryRow("SELECT id, org_id FROM providers WHERE user_id = '"+a.ID+"'").Scan(&pid, &porg); err != nil || porg != a.OrgID {
			t.Fatalf("own provider record: %q in %q, %v", pid, porg, err)
		}
		if p, err := db.FindProviderByID(credtrack.NewContextWithActor(ctx, a), pid); err != nil || p.UserID != a.ID || !p.HasDOB {
			t.Fatalf("own record read = %+v, %v", p, err)
		}
		// Resending to a verified address sends nothing.
		if err := svc.ResendVerification(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if n := len(srv.Messages()); n != 1 {
			t.Fatalf("%d emails", n)
		}
	})
}

func TestSignUpFounderGoesToMFAEnrolment(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, srv := newSignupService(t, db, clock)
		ctx := context.Background()
		if err := svc.SignUp(ctx, auth.SignUpRequest{Kind: auth.SignUpOrganization, Email: "founder@lakeside.example",
			FirstName: "Fay", LastName: "Founder", OrgName: "Lakeside Staffing", Password: strongPassword, Adult: true}); err != nil {
			t.Fatal(err)
		}
		tok := signIn(t, svc, "founder@lakeside.example")
		if err := svc.VerifyEmail(ctx, linkToken(t, srv.WaitFor(t, 1, 5*time.Second)[0], "/verify-email/confirm?token=")); err != nil {
			t.Fatal(err)
		}
		a, _, ms, err := svc.Session(ctx, tok)
		if err != nil || a.Stage != credtrack.StageMFAEnrol || len(ms) != 1 || ms[0].Role != credtrack.RoleOwner ||
			ms[0].OrgKind != credtrack.OrgKindTeam || ms[0].OrgName != "Lakeside Staffing" {
			t.Fatalf("founder = %+v %+v, %v", a, ms, err)
		}
		// No date of birth was given, so none was stored anywhere.
		if n := countRows(t, db, "providers"); n != 0 {
			t.Fatalf("%d providers", n)
		}
	})
}

func TestSignUpRefusals(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, srv := newSignupService(t, db, clock)
		ctx := context.Background()
		today := credtrack.DateOf(clock.Now())
		minor := today.AddDate(-18, 0, 1).Format("2006-01-02") // 18 tomorrow
		adult := today.AddDate(-18, 0, 0).Format("2006-01-02") // 18 today
		bad := []struct {
			name string
			edit func(*auth.SignUpRequest)
		}{
			{"under 18 by date", func(r *auth.SignUpRequest) { r.DateOfBirth = minor }},
			{"under 18 even with the box ticked", func(r *auth.SignUpRequest) { r.DateOfBirth = minor; r.Adult = true }},
			{"no date and no attestation", func(r *auth.SignUpRequest) { r.DateOfBirth = "" }},
			{"date in the future", func(r *auth.SignUpRequest) { r.DateOfBirth = "2999-01-01" }},
			{"malformed date", func(r *auth.SignUpRequest) { r.DateOfBirth = "02/04/1990" }},
			{"unknown kind", func(r *auth.SignUpRequest) { r.Kind = "admin" }},
			{"founder without organization", func(r *auth.SignUpRequest) { r.Kind = auth.SignUpOrganization }},
			{"no last name", func(r *auth.SignUpRequest) { r.LastName = " " }},
			{"control character in name", func(r *auth.SignUpRequest) { r.FirstName = "Nia\nBcc: x" }},
			{"fullwidth letter in email", func(r *auth.SignUpRequest) { r.Email = "ｎia@example.org" }},
			{"Cyrillic a in email", func(r *auth.SignUpRequest) { r.Email = "nіа@example.org" }},
			{"display-name form", func(r *auth.SignUpRequest) { r.Email = "Nia <nia@example.org>" }},
			{"two addresses", func(r *auth.SignUpRequest) { r.Email = "nia@example.org,eve@example.org" }},
			{"common password", func(r *auth.SignUpRequest) { r.Password = "password123" }},
			{"password with the name", func(r *auth.SignUpRequest) { r.Password = "okafor okafor okafor 77" }},
			{"password with the product", func(r *auth.SignUpRequest) { r.Password = "my credtrack passphrase!" }},
			{"short password", func(r *auth.SignUpRequest) { r.Password = "a1!" }},
			{"unknown profession", func(r *auth.SignUpRequest) { r.Profession = "wizard" }},
		}
		for _, c := range bad {
			req := providerRequest("nia@example.org")
			c.edit(&req)
			if err := svc.SignUp(ctx, req); credtrack.ErrorCode(err) != credtrack.EINVALID {
				t.Errorf("%s: %v; want EINVALID", c.name, err)
			}
		}
		for _, table := range []string{"users", "organizations", "memberships", "providers", "user_tokens", "sessions"} {
			if n := countRows(t, db, table); n != 0 {
				t.Fatalf("%d rows in %s after refused sign-ups", n, table)
			}
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("%d emails after refused sign-ups", n)
		}
		// 18 today is old enough.
		req := providerRequest("nia@example.org")
		req.DateOfBirth = adult
		if err := svc.SignUp(ctx, req); err != nil {
			t.Fatalf("18 today: %v", err)
		}
	})
}

func TestSignUpTakenAddress(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, srv := newSignupService(t, db, clock)
		ctx := context.Background()
		if err := svc.SignUp(ctx, providerRequest("nia@example.org")); err != nil {
			t.Fatal(err)
		}
		srv.WaitFor(t, 1, 5*time.Second)
		before := map[string]int{}
		tables := []string{"users", "organizations", "memberships", "providers", "user_tokens", "sessions"}
		for _, tb := range tables {
			before[tb] = countRows(t, db, tb)
		}
		req := providerRequest("  NIA@Example.ORG ")
		req.Kind, req.OrgName = auth.SignUpOrganization, "Takeover Inc"
		if err := svc.SignUp(ctx, req); err != nil {
			t.Fatalf("taken address: %v; want the plain success answer", err)
		}
		msgs := srv.WaitFor(t, 2, 5*time.Second)
		if msgs[1].To[0] != "nia@example.org" || !strings.Contains(msgs[1].Text, "Someone tried to create a credtrack account") {
			t.Fatalf("notice = %+v", msgs[1])
		}
		if strings.Contains(msgs[1].Text, "Takeover") || strings.Contains(msgs[1].Text, "token=") {
			t.Fatalf("notice carries form data or a link token: %q", msgs[1].Text)
		}
		for _, tb := range tables {
			if n := countRows(t, db, tb); n != before[tb] {
				t.Fatalf("%s: %d → %d", tb, before[tb], n)
			}
		}
		u, _ := db.FindUserByEmail(ctx, "nia@example.org")
		if u.Name != "Nia Okafor" {
			t.Fatalf("account changed: %+v", u)
		}
	})
}

func TestResendAndExpiry(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, srv := newSignupService(t, db, clock)
		ctx := context.Background()
		if err := svc.SignUp(ctx, providerRequest("nia@example.org")); err != nil {
			t.Fatal(err)
		}
		a, _, _, _ := svc.Session(ctx, signIn(t, svc, "nia@example.org"))
		first := linkToken(t, srv.WaitFor(t, 1, 5*time.Second)[0], "/verify-email/confirm?token=")
		for i := 0; i < 2; i++ {
			if err := svc.ResendVerification(ctx, a.ID); err != nil {
				t.Fatalf("resend %d: %v", i, err)
			}
		}
		if err := svc.ResendVerification(ctx, a.ID); credtrack.ErrorCode(err) != credtrack.ERATELIMIT {
			t.Fatalf("fourth email in an hour: %v", err)
		}
		msgs := srv.WaitFor(t, 3, 5*time.Second)
		clock.Advance(time.Hour + time.Second)
		if err := svc.ResendVerification(ctx, a.ID); err != nil {
			t.Fatalf("after an hour: %v", err)
		}
		// A day later the first links are dead; the newest is fresh.
		clock.Advance(23 * time.Hour)
		if err := svc.VerifyEmail(ctx, first); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("expired link: %v", err)
		}
		_ = msgs
		last := linkToken(t, srv.WaitFor(t, 4, 5*time.Second)[3], "/verify-email/confirm?token=")
		if err := svc.VerifyEmail(ctx, last); err != nil {
			t.Fatalf("fresh link: %v", err)
		}
	})
}

func TestInvitationAcceptance(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, _ := newSignupService(t, db, clock)
		ctx := context.Background()
		sys, org := storetest.NewOrg(t, db, "Mercy General")

		// A new person creates the account on the invitation page.
		tok, _ := InsertInvitation(t, db, clock.Now(), org.ID, "sam@mercy.example", credtrack.RoleAuditor, 7*24*time.Hour)
		inv, err := svc.LookupInvitation(ctx, tok)
		if err != nil || inv.OrgName != "Mercy General" || inv.Role != credtrack.RoleAuditor || inv.Email != "sam@mercy.example" {
			t.Fatalf("Lookup = %+v, %v", inv, err)
		}
		young := auth.SignUpRequest{FirstName: "Sam", LastName: "Young", Password: strongPassword,
			DateOfBirth: credtrack.DateOf(clock.Now()).AddDate(-17, 0, 0).Format("2006-01-02")}
		if _, err := svc.SignUpByInvitation(ctx, tok, young); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("under 18 by invitation: %v", err)
		}
		sess, err := svc.SignUpByInvitation(ctx, tok, auth.SignUpRequest{FirstName: "Sam", LastName: "Lee",
			Password: strongPassword, Adult: true, Email: "ignored@evil.example"})
		if err != nil {
			t.Fatal(err)
		}
		a, u, _, err := svc.Session(ctx, sess)
		if err != nil || a.Stage != credtrack.StageReady || a.OrgID != org.ID || a.Role != credtrack.RoleAuditor || u.Email != "sam@mercy.example" {
			t.Fatalf("invited session = %+v %+v, %v", a, u, err)
		}
		if _, err := svc.SignUpByInvitation(ctx, tok, auth.SignUpRequest{FirstName: "Sam", LastName: "Lee",
			Password: strongPassword, Adult: true}); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("reused invitation: %v", err)
		}

		// An existing account accepts by signing in; a wrong password
		// leaves the invitation alone.
		h, _ := svc.Hasher.Hash("bright meadow lantern")
		pat := &credtrack.User{Email: "pat@example.com", Name: "Pat", PasswordHash: h, EmailVerifiedAt: clock.Now()}
		if err := db.CreateUser(sys, pat); err != nil {
			t.Fatal(err)
		}
		_, other := storetest.NewOrg(t, db, "Lakeside")
		tok2, _ := InsertInvitation(t, db, clock.Now(), other.ID, "pat@example.com", credtrack.RoleProvider, time.Hour)
		if _, err := svc.SignInAndAccept(ctx, tok2, "pat@example.com", "wrong"); credtrack.ErrorCode(err) != credtrack.EUNAUTHORIZED {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := svc.SignUpByInvitation(ctx, tok2, auth.SignUpRequest{FirstName: "Pat", LastName: "Two",
			Password: strongPassword, Adult: true}); credtrack.ErrorCode(err) != credtrack.ECONFLICT {
			t.Fatalf("second account for an existing address: %v", err)
		}
		// Signed in as someone else: refused, nothing changes.
		if _, err := svc.AcceptInvitation(ctx, tok2, u.ID); credtrack.ErrorCode(err) != credtrack.EFORBIDDEN {
			t.Fatalf("foreign account: %v", err)
		}
		if _, err := svc.SignInAndAccept(ctx, tok2, "PAT@example.com", "bright meadow lantern"); err != nil {
			t.Fatal(err)
		}
		ms, _ := db.FindMemberships(ctx, pat.ID)
		if len(ms) != 1 || ms[0].OrgID != other.ID || ms[0].Role != credtrack.RoleProvider {
			t.Fatalf("memberships = %+v", ms)
		}

		// An account with TOTP needs its code before a password alone can
		// add a membership.
		q0 := "UPDATE users SET totp_enabled_at = 1 WHERE id = ?"
		if db.Backend() == sqlstore.Postgres {
			q0 = "UPDATE users SET totp_enabled_at = 1 WHERE id = $1"
		}
		if _, err := db.WriteDB().Exec(q0, pat.ID); err != nil {
			t.Fatal(err)
		}
		tok5, _ := InsertInvitation(t, db, clock.Now(), org.ID, "pat@example.com", credtrack.RoleAuditor, time.Hour)
		if sess, err := svc.SignInAndAccept(ctx, tok5, "pat@example.com", "bright meadow lantern"); credtrack.ErrorCode(err) != credtrack.EFORBIDDEN || sess == "" {
			t.Fatalf("TOTP account by password alone: %q, %v", sess, err)
		}
		if _, err := svc.LookupInvitation(ctx, tok5); err != nil {
			t.Fatalf("invitation used before the code: %v", err)
		}

		// Expired and revoked invitations give the one EINVALID.
		tok3, _ := InsertInvitation(t, db, clock.Now(), org.ID, "pat@example.com", credtrack.RoleAuditor, time.Hour)
		tok4, id4 := InsertInvitation(t, db, clock.Now(), org.ID, "pat@example.com", credtrack.RoleAuditor, time.Hour)
		q := "UPDATE invitations SET revoked_at = 1 WHERE id = ?"
		if db.Backend() == sqlstore.Postgres {
			q = "UPDATE invitations SET revoked_at = 1 WHERE id = $1"
		}
		if _, err := db.WriteDB().Exec(q, id4); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AcceptInvitation(ctx, tok4, pat.ID); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("revoked: %v", err)
		}
		clock.Advance(time.Hour + time.Second)
		if _, err := svc.AcceptInvitation(ctx, tok3, pat.ID); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("expired: %v", err)
		}
		if _, err := svc.LookupInvitation(ctx, strings.Repeat("x", 500)); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("oversized token: %v", err)
		}
		if ms, _ := db.FindMemberships(ctx, pat.ID); len(ms) != 1 {
			t.Fatalf("dead invitations changed memberships: %+v", ms)
		}
	})
}
