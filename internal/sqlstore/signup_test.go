package sqlstore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// insertInvitation stores an invitation the way the invitation code does
// (only the SHA-256 of the token) and returns the token. It stands in for
// CreateInvitation so these tests do not depend on it.
func insertInvitation(t *testing.T, db *sqlstore.DB, clock *storetest.Clock, orgID, email string, role credtrack.Role, ttl time.Duration) (id, token string) {
	t.Helper()
	token, id = rand.Text()+rand.Text(), credtrack.NewID()
	h := sha256.Sum256([]byte(token))
	if err := db.ExecForTest(context.Background(), `INSERT INTO invitations (id, org_id, email, role, token_hash, invited_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, orgID, email, string(role), h[:], "inviter", clock.Now().UnixMicro(),
		clock.Now().Add(ttl).UnixMicro()); err != nil {
		t.Fatal(err)
	}
	return id, token
}

func count(t *testing.T, db *sqlstore.DB, q string, args ...any) int {
	t.Helper()
	n, err := db.QueryIntForTest(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func anonCtx() context.Context {
	return credtrack.NewContextWithActor(context.Background(), credtrack.Actor{Kind: credtrack.ActorAnonymous, IP: "192.0.2.9"})
}

func TestSignUpPersonalWorkspace(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx := anonCtx()
		dob, _ := credtrack.ParseDate("1990-04-02")
		u := &credtrack.User{Email: "Nurse@Example.COM", Name: "Nia Nurse", PasswordHash: "h", AdultAttestedAt: clock.Now()}
		o := &credtrack.Organization{Name: "Nia Nurse", Kind: credtrack.OrgKindPersonal}
		p := &credtrack.Provider{FirstName: "Nia", LastName: "Nurse", Profession: credtrack.ProfRN, DOB: dob}
		secret, err := db.SignUp(ctx, u, o, credtrack.RoleProvider, p, 24*time.Hour)
		if err != nil || secret == "" {
			t.Fatalf("SignUp = %q, %v", secret, err)
		}
		got, err := db.FindUserByEmail(ctx, "nurse@example.com")
		if err != nil || got.ID != u.ID || !got.AdultAttestedAt.Equal(clock.Now()) || !got.EmailVerifiedAt.IsZero() {
			t.Fatalf("user = %+v, %v", got, err)
		}
		ms, err := db.FindMemberships(ctx, u.ID)
		if err != nil || len(ms) != 1 || ms[0].OrgKind != credtrack.OrgKindPersonal || ms[0].Role != credtrack.RoleProvider {
			t.Fatalf("memberships = %+v, %v", ms, err)
		}
		// The provider record is linked to the account and readable by it
		// as its own record.
		own := storetest.As(u.ID, o.ID, credtrack.RoleProvider)
		pr, err := db.FindProviderByID(own, p.ID)
		if err != nil || pr.UserID != u.ID || !pr.HasDOB {
			t.Fatalf("own provider record = %+v, %v", pr, err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM audit_events WHERE org_id = ? AND action = 'user.signed_up' AND actor_id = ?", o.ID, u.ID); n != 1 {
			t.Fatalf("%d user.signed_up events", n)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM users WHERE adult_attested_at IS NOT NULL"); n != 1 {
			t.Fatalf("attestation not stored")
		}

		// A taken address (any case) writes nothing.
		orgs := count(t, db, "SELECT COUNT(*) FROM organizations")
		u2 := &credtrack.User{Email: "NURSE@example.com", Name: "Other", PasswordHash: "h"}
		_, err = db.SignUp(ctx, u2, &credtrack.Organization{Name: "Other"}, credtrack.RoleOwner, nil, time.Hour)
		wantCode(t, err, credtrack.ECONFLICT)
		if n := count(t, db, "SELECT COUNT(*) FROM organizations"); n != orgs {
			t.Fatalf("organizations %d → %d after a refused sign-up", orgs, n)
		}

		// The verification link works once, and not after 24 hours.
		if _, err := db.VerifyEmailWithToken(ctx, "nope"); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("unknown link: %v", err)
		}
		if id, err := db.VerifyEmailWithToken(ctx, secret); err != nil || id != u.ID {
			t.Fatalf("verify = %q, %v", id, err)
		}
		if _, err := db.VerifyEmailWithToken(ctx, secret); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("second use: %v", err)
		}
		got, _ = db.FindUserByID(ctx, u.ID)
		if got.EmailVerifiedAt.IsZero() {
			t.Fatal("address not verified")
		}
		late, err := db.CreateUserToken(ctx, u.ID, "verify_email", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(24*time.Hour + time.Second)
		if _, err := db.VerifyEmailWithToken(ctx, late); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("expired link: %v", err)
		}
		// A reset token is not a verification token.
		reset, _ := db.CreateUserToken(ctx, u.ID, "reset_password", time.Hour)
		if _, err := db.VerifyEmailWithToken(ctx, reset); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("reset token accepted as verification: %v", err)
		}
	})
}

func TestAcceptInvitationStore(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		sys, org := storetest.NewOrg(t, db, "Mercy General")
		_, other := storetest.NewOrg(t, db, "Lakeside")
		ctx := anonCtx()
		existing := &credtrack.User{Email: "pat@example.com", Name: "Pat", PasswordHash: "h", EmailVerifiedAt: clock.Now()}
		if err := db.CreateUser(sys, existing); err != nil {
			t.Fatal(err)
		}

		_, tok := insertInvitation(t, db, clock, org.ID, "pat@example.com", credtrack.RoleCoordinator, 7*24*time.Hour)
		m, email, err := db.PeekInvitation(ctx, tok)
		if err != nil || m.OrgID != org.ID || m.OrgName != "Mercy General" || m.Role != credtrack.RoleCoordinator || email != "pat@example.com" {
			t.Fatalf("Peek = %+v, %q, %v", m, email, err)
		}

		// Someone else's account cannot use it; nothing changes.
		stranger := &credtrack.User{Email: "eve@example.com", PasswordHash: "h"}
		if err := db.CreateUser(sys, stranger); err != nil {
			t.Fatal(err)
		}
		_, err = db.AcceptInvitation(ctx, tok, stranger.ID)
		wantCode(t, err, credtrack.EFORBIDDEN)
		if n := count(t, db, "SELECT COUNT(*) FROM memberships WHERE user_id = ?", stranger.ID); n != 0 {
			t.Fatal("stranger got a membership")
		}

		m, err = db.AcceptInvitation(ctx, tok, existing.ID)
		if err != nil || m.UserID != existing.ID {
			t.Fatalf("accept = %+v, %v", m, err)
		}
		ms, _ := db.FindMemberships(ctx, existing.ID)
		if len(ms) != 1 || ms[0].OrgID != org.ID || ms[0].Role != credtrack.RoleCoordinator {
			t.Fatalf("memberships = %+v", ms)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM invitations WHERE accepted_by = ? AND accepted_at IS NOT NULL", existing.ID); n != 1 {
			t.Fatal("invitation not marked accepted")
		}
		// Single use.
		_, err = db.AcceptInvitation(ctx, tok, existing.ID)
		wantCode(t, err, credtrack.EINVALID)
		_, _, err = db.PeekInvitation(ctx, tok)
		wantCode(t, err, credtrack.EINVALID)

		// Expired and revoked links are dead.
		_, expired := insertInvitation(t, db, clock, other.ID, "pat@example.com", credtrack.RoleAuditor, time.Hour)
		revokedID, revoked := insertInvitation(t, db, clock, other.ID, "pat@example.com", credtrack.RoleAuditor, time.Hour)
		if err := db.ExecForTest(context.Background(), "UPDATE invitations SET revoked_at = ? WHERE id = ?", clock.Now().UnixMicro(), revokedID); err != nil {
			t.Fatal(err)
		}
		_, err = db.AcceptInvitation(ctx, revoked, existing.ID)
		wantCode(t, err, credtrack.EINVALID)
		clock.Advance(time.Hour + time.Second)
		_, err = db.AcceptInvitation(ctx, expired, existing.ID)
		wantCode(t, err, credtrack.EINVALID)
		if ms, _ := db.FindMemberships(ctx, existing.ID); len(ms) != 1 {
			t.Fatalf("dead links changed memberships: %+v", ms)
		}

		// A new person: the account takes the invited address, verified.
		_, tok2 := insertInvitation(t, db, clock, other.ID, "New.Person@Example.com", credtrack.RoleProvider, time.Hour)
		nu := &credtrack.User{Email: "attacker@example.com", Name: "New Person", PasswordHash: "h", AdultAttestedAt: clock.Now()}
		m, err = db.SignUpWithInvitation(ctx, tok2, nu)
		if err != nil || m.OrgID != other.ID {
			t.Fatalf("SignUpWithInvitation = %+v, %v", m, err)
		}
		got, err := db.FindUserByEmail(ctx, "new.person@example.com")
		if err != nil || got.ID != nu.ID || got.EmailVerifiedAt.IsZero() {
			t.Fatalf("new user = %+v, %v", got, err)
		}
		if _, err := db.FindUserByEmail(ctx, "attacker@example.com"); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Fatalf("the form's address was used: %v", err)
		}
		_, err = db.SignUpWithInvitation(ctx, tok2, &credtrack.User{Name: "Again", PasswordHash: "h"})
		wantCode(t, err, credtrack.EINVALID)

		// An invitation to an address that has an account cannot create a
		// second one; it stays usable for signing in.
		_, tok3 := insertInvitation(t, db, clock, other.ID, "pat@example.com", credtrack.RoleProvider, time.Hour)
		_, err = db.SignUpWithInvitation(ctx, tok3, &credtrack.User{Name: "Pat Again", PasswordHash: "h"})
		wantCode(t, err, credtrack.ECONFLICT)
		if _, _, err := db.PeekInvitation(ctx, tok3); err != nil {
			t.Fatalf("refused sign-up used up the invitation: %v", err)
		}
		// Already a member: refused, the invitation stays.
		_, tok4 := insertInvitation(t, db, clock, org.ID, "pat@example.com", credtrack.RoleAdmin, time.Hour)
		_, err = db.AcceptInvitation(ctx, tok4, existing.ID)
		wantCode(t, err, credtrack.ECONFLICT)
		if _, _, err := db.PeekInvitation(ctx, tok4); err != nil {
			t.Fatalf("refused accept used up the invitation: %v", err)
		}
		if n := count(t, db, "SELECT COUNT(*) FROM audit_events WHERE org_id = ? AND action = 'invitation.accepted'", org.ID); n != 1 {
			t.Fatalf("%d invitation.accepted events in the org", n)
		}
	})
}

// TestInvitationFromCreateInvitation checks the two halves agree: a link
// token from CreateInvitation is found by PeekInvitation and accepted
// once; a revoked one is dead.
func TestInvitationFromCreateInvitation(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		sys, org := storetest.NewOrg(t, db, "Mercy General")
		ctx := anonCtx()
		_, secret, err := db.CreateInvitation(sys, "Pat@Example.com", credtrack.RoleCoordinator)
		if err != nil {
			t.Fatal(err)
		}
		m, email, err := db.PeekInvitation(ctx, secret)
		if err != nil || m.OrgID != org.ID || email != "pat@example.com" {
			t.Fatalf("Peek = %+v, %q, %v", m, email, err)
		}
		u := &credtrack.User{Name: "Pat Lee", PasswordHash: "h", AdultAttestedAt: clock.Now()}
		if _, err := db.SignUpWithInvitation(ctx, secret, u); err != nil {
			t.Fatal(err)
		}
		_, _, err = db.PeekInvitation(ctx, secret)
		wantCode(t, err, credtrack.EINVALID)

		inv, secret2, err := db.CreateInvitation(sys, "sam@example.com", credtrack.RoleAuditor)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeInvitation(sys, inv.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.SignUpWithInvitation(ctx, secret2, &credtrack.User{Name: "Sam", PasswordHash: "h"})
		wantCode(t, err, credtrack.EINVALID)
		if _, err := db.FindUserByEmail(ctx, "sam@example.com"); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Fatalf("revoked invitation made an account: %v", err)
		}
	})
}
