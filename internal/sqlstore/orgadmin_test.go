package sqlstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// orgFixture is an organization with one member per role, and contexts
// acting as each of them.
type orgFixture struct {
	org   *credtrack.Organization
	sys   context.Context
	users map[credtrack.Role]*credtrack.User
}

func (f *orgFixture) as(role credtrack.Role) context.Context {
	u := f.users[role]
	return credtrack.NewContextWithActor(context.Background(),
		credtrack.Actor{Kind: credtrack.ActorUser, ID: u.ID, OrgID: f.org.ID, Role: role})
}

func newOrgFixture(t *testing.T, db *sqlstore.DB, name string) *orgFixture {
	t.Helper()
	ctx, org := storetest.NewOrg(t, db, name)
	f := &orgFixture{org: org, sys: ctx, users: map[credtrack.Role]*credtrack.User{}}
	slug := strings.ToLower(strings.Fields(name)[0])
	for _, r := range credtrack.Roles {
		u := &credtrack.User{Email: string(r) + "@" + slug + ".example", Name: string(r) + " of " + name}
		if _, err := db.CreateMember(ctx, u, r, 0); err != nil {
			t.Fatal(err)
		}
		f.users[r] = u
	}
	return f
}

func roleOf(t *testing.T, db *sqlstore.DB, ctx context.Context, userID string) credtrack.Role {
	t.Helper()
	ms, err := db.FindMemberships(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	a := credtrack.ActorFromContext(ctx)
	for _, m := range ms {
		if m.OrgID == a.OrgID {
			return m.Role
		}
	}
	return ""
}

func TestMembersAndLastOwner(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newOrgFixture(t, db, "Mercy General")
		owner, admin := f.as(credtrack.RoleOwner), f.as(credtrack.RoleAdmin)

		list, err := db.ListMembers(admin)
		if err != nil || len(list) != 5 {
			t.Fatalf("ListMembers = %d, %v", len(list), err)
		}
		_, err = db.ListMembers(f.as(credtrack.RoleCoordinator))
		wantCode(t, err, credtrack.EFORBIDDEN)

		// The only owner can be neither demoted nor removed, even by itself.
		wantCode(t, db.ChangeMemberRole(owner, f.users[credtrack.RoleOwner].ID, credtrack.RoleAdmin), credtrack.ECONFLICT)
		wantCode(t, db.RemoveMember(owner, f.users[credtrack.RoleOwner].ID), credtrack.ECONFLICT)
		if !strings.Contains(credtrack.ErrorMessage(db.RemoveMember(owner, f.users[credtrack.RoleOwner].ID)), "only owner") {
			t.Error("the last-owner message does not say why")
		}

		// Admins manage roles below owner only.
		wantCode(t, db.ChangeMemberRole(admin, f.users[credtrack.RoleProvider].ID, credtrack.RoleOwner), credtrack.EFORBIDDEN)
		wantCode(t, db.ChangeMemberRole(admin, f.users[credtrack.RoleOwner].ID, credtrack.RoleAuditor), credtrack.EFORBIDDEN)
		wantCode(t, db.RemoveMember(admin, f.users[credtrack.RoleOwner].ID), credtrack.EFORBIDDEN)
		wantCode(t, db.ChangeMemberRole(admin, f.users[credtrack.RoleProvider].ID, "emperor"), credtrack.EINVALID)
		if err := db.ChangeMemberRole(admin, f.users[credtrack.RoleProvider].ID, credtrack.RoleAuditor); err != nil {
			t.Fatal(err)
		}
		if r := roleOf(t, db, owner, f.users[credtrack.RoleProvider].ID); r != credtrack.RoleAuditor {
			t.Fatalf("role = %q", r)
		}

		// With a second owner, the first may step down.
		if err := db.ChangeMemberRole(owner, f.users[credtrack.RoleAdmin].ID, credtrack.RoleOwner); err != nil {
			t.Fatal(err)
		}
		if err := db.ChangeMemberRole(owner, f.users[credtrack.RoleOwner].ID, credtrack.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if err := db.RemoveMember(f.sys, f.users[credtrack.RoleAuditor].ID); err != nil {
			t.Fatal(err)
		}
		if r := roleOf(t, db, owner, f.users[credtrack.RoleAuditor].ID); r != "" {
			t.Fatalf("removed member still has role %q", r)
		}
		n, err := db.QueryIntForTest(context.Background(), "SELECT COUNT(*) FROM audit_events WHERE action IN ('member.role_changed', 'member.removed') AND org_id = ?", f.org.ID)
		if err != nil || n != 4 {
			t.Fatalf("audit events = %d, %v", n, err)
		}
	})
}

// Two owners demote each other at the same moment: exactly one wins, so
// the organization keeps an owner.
func TestLastOwnerConcurrentDemotions(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		for round := range 5 {
			f := newOrgFixture(t, db, "Round"+string(rune('A'+round))+" Clinic")
			a, b := f.users[credtrack.RoleOwner], f.users[credtrack.RoleAdmin]
			if err := db.ChangeMemberRole(f.sys, b.ID, credtrack.RoleOwner); err != nil {
				t.Fatal(err)
			}
			ctxA := credtrack.NewContextWithActor(context.Background(), credtrack.Actor{Kind: credtrack.ActorUser, ID: a.ID, OrgID: f.org.ID, Role: credtrack.RoleOwner})
			ctxB := credtrack.NewContextWithActor(context.Background(), credtrack.Actor{Kind: credtrack.ActorUser, ID: b.ID, OrgID: f.org.ID, Role: credtrack.RoleOwner})
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			wg.Add(2)
			go func() { defer wg.Done(); <-start; errs[0] = db.ChangeMemberRole(ctxA, b.ID, credtrack.RoleAdmin) }()
			go func() { defer wg.Done(); <-start; errs[1] = db.RemoveMember(ctxB, a.ID) }()
			close(start)
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch credtrack.ErrorCode(err) {
				case "":
					ok++
				case credtrack.ECONFLICT:
				default:
					t.Fatalf("unexpected error %v", err)
				}
			}
			owners, err := db.QueryIntForTest(context.Background(), "SELECT COUNT(*) FROM memberships WHERE org_id = ? AND role = 'owner'", f.org.ID)
			if ok != 1 || owners != 1 || err != nil {
				t.Fatalf("round %d: %d succeeded (%v), %d owners left (%v)", round, ok, errs, owners, err)
			}
		}
	})
}

func TestRoleChangeEndsSessionsInThatOrg(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newOrgFixture(t, db, "Mercy General")
		other := newOrgFixture(t, db, "Harbor Health")
		u := f.users[credtrack.RoleProvider]
		// The same person is also a member of the other organization.
		if err := db.AddMembership(other.sys, u.ID, credtrack.RoleAuditor); err != nil {
			t.Fatal(err)
		}
		here, err := db.CreateSession(context.Background(), &credtrack.Session{UserID: u.ID, OrgID: f.org.ID}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		there, err := db.CreateSession(context.Background(), &credtrack.Session{UserID: u.ID, OrgID: other.org.ID}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.ChangeMemberRole(f.as(credtrack.RoleAdmin), u.ID, credtrack.RoleCoordinator); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindSessionByToken(context.Background(), here); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Errorf("the session in the changed org survived: %v", err)
		}
		if _, err := db.FindSessionByToken(context.Background(), there); err != nil {
			t.Errorf("the session in the other org ended: %v", err)
		}
	})
}

// Another organization's member, invitation and token IDs are unknown:
// ENOTFOUND, nothing changes.
func TestOrgAdminCrossTenant(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newOrgFixture(t, db, "Mercy General")
		other := newOrgFixture(t, db, "Harbor Health")
		admin := f.as(credtrack.RoleOwner)
		victim := other.users[credtrack.RoleProvider]
		inv, _, err := db.CreateInvitation(other.as(credtrack.RoleAdmin), "new@harbor.example", credtrack.RoleProvider)
		if err != nil {
			t.Fatal(err)
		}
		tok := &credtrack.APIToken{Name: "harbor sync", Role: credtrack.RoleAuditor}
		secret, err := db.CreateAPIToken(other.as(credtrack.RoleAdmin), tok)
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.ChangeMemberRole(admin, victim.ID, credtrack.RoleAdmin), credtrack.ENOTFOUND)
		wantCode(t, db.RemoveMember(admin, victim.ID), credtrack.ENOTFOUND)
		wantCode(t, db.UnlockUser(admin, victim.ID), credtrack.ENOTFOUND)
		wantCode(t, db.RevokeInvitation(admin, inv.ID), credtrack.ENOTFOUND)
		wantCode(t, db.RevokeAPIToken(admin, tok.ID), credtrack.ENOTFOUND)
		if r := roleOf(t, db, other.sys, victim.ID); r != credtrack.RoleProvider {
			t.Errorf("victim's role = %q", r)
		}
		if invs, _ := db.ListInvitations(other.as(credtrack.RoleAdmin)); len(invs) != 1 {
			t.Errorf("the other org's invitation changed: %d pending", len(invs))
		}
		if _, err := db.AuthenticateAPIToken(context.Background(), secret); err != nil {
			t.Errorf("the other org's token stopped working: %v", err)
		}
		for _, l := range []func() (int, error){
			func() (int, error) { x, err := db.ListMembers(admin); return len(x), err },
			func() (int, error) { x, err := db.ListInvitations(admin); return len(x), err },
			func() (int, error) { x, err := db.ListAPITokens(admin); return len(x), err },
		} {
			if n, err := l(); err != nil || (n != 5 && n != 0) {
				t.Errorf("list = %d, %v", n, err)
			}
		}
	})
}

func TestInvitations(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newOrgFixture(t, db, "Mercy General")
		admin, owner := f.as(credtrack.RoleAdmin), f.as(credtrack.RoleOwner)
		_, _, err := db.CreateInvitation(admin, "boss@elsewhere.example", credtrack.RoleOwner)
		wantCode(t, err, credtrack.EFORBIDDEN)
		_, _, err = db.CreateInvitation(f.as(credtrack.RoleCoordinator), "x@elsewhere.example", credtrack.RoleProvider)
		wantCode(t, err, credtrack.EFORBIDDEN)
		_, _, err = db.CreateInvitation(admin, "not an address", credtrack.RoleProvider)
		wantCode(t, err, credtrack.EINVALID)
		_, _, err = db.CreateInvitation(admin, "PROVIDER@mercy.example", credtrack.RoleProvider)
		wantCode(t, err, credtrack.ECONFLICT) // already a member

		first, s1, err := db.CreateInvitation(admin, "Nurse@Elsewhere.example", credtrack.RoleProvider)
		if err != nil || s1 == "" || first.Email != "nurse@elsewhere.example" {
			t.Fatalf("CreateInvitation = %+v, %q, %v", first, s1, err)
		}
		if got := first.ExpiresAt.Sub(first.CreatedAt); got != 7*24*time.Hour {
			t.Errorf("lifetime = %v", got)
		}
		// Only the hash is stored.
		if n, _ := db.QueryIntForTest(context.Background(), "SELECT COUNT(*) FROM invitations WHERE token_hash = ?", []byte(s1)); n != 0 {
			t.Error("the token is stored in clear")
		}
		// Inviting again replaces the pending invitation.
		second, s2, err := db.CreateInvitation(owner, "nurse@elsewhere.example", credtrack.RoleOwner)
		if err != nil || s2 == s1 {
			t.Fatal(err)
		}
		list, err := db.ListInvitations(admin)
		if err != nil || len(list) != 1 || list[0].ID != second.ID || list[0].Role != credtrack.RoleOwner {
			t.Fatalf("pending = %+v, %v", list, err)
		}
		// An admin may not revoke an owner invitation; the owner may.
		wantCode(t, db.RevokeInvitation(admin, second.ID), credtrack.EFORBIDDEN)
		if err := db.RevokeInvitation(owner, second.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.RevokeInvitation(owner, second.ID), credtrack.ENOTFOUND)
		wantCode(t, db.RevokeInvitation(owner, first.ID), credtrack.ENOTFOUND)
		if list, _ := db.ListInvitations(admin); len(list) != 0 {
			t.Fatalf("pending after revoke = %d", len(list))
		}
		// Expired invitations are not pending.
		if _, _, err := db.CreateInvitation(admin, "late@elsewhere.example", credtrack.RoleAuditor); err != nil {
			t.Fatal(err)
		}
		clock.Advance(7*24*time.Hour + time.Second)
		if list, _ := db.ListInvitations(admin); len(list) != 0 {
			t.Fatalf("an expired invitation is pending")
		}
		n, _ := db.QueryIntForTest(context.Background(), "SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.revoked' AND org_id = ?", f.org.ID)
		if n != 2 {
			t.Errorf("invitation.revoked events = %d, want 2 (replaced, revoked)", n)
		}
	})
}

func TestAPITokenAdmin(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newOrgFixture(t, db, "Mercy General")
		admin := f.as(credtrack.RoleAdmin)
		forever := &credtrack.APIToken{Name: "roster sync", Role: credtrack.RoleAuditor}
		s1, err := db.CreateAPIToken(admin, forever)
		if err != nil {
			t.Fatal(err)
		}
		brief := &credtrack.APIToken{Name: "one-off", Role: credtrack.RoleCoordinator, ExpiresAt: clock.Now().Add(24 * time.Hour)}
		s2, err := db.CreateAPIToken(admin, brief)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.ListAPITokens(f.as(credtrack.RoleCoordinator))
		wantCode(t, err, credtrack.EFORBIDDEN)

		// Use records last_used_at.
		if _, err := db.AuthenticateAPIToken(context.Background(), s1); err != nil {
			t.Fatal(err)
		}
		list, err := db.ListAPITokens(admin)
		if err != nil || len(list) != 2 {
			t.Fatalf("ListAPITokens = %d, %v", len(list), err)
		}
		for _, tk := range list {
			if tk.ID == forever.ID && !tk.LastUsedAt.Equal(clock.Now()) {
				t.Errorf("last used = %v, want %v", tk.LastUsedAt, clock.Now())
			}
			if tk.ID == brief.ID && (!tk.LastUsedAt.IsZero() || !tk.ExpiresAt.Equal(brief.ExpiresAt)) {
				t.Errorf("brief token = %+v", tk)
			}
		}
		// Revoked: rejected at once; revoking twice is harmless.
		if err := db.RevokeAPIToken(admin, forever.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeAPIToken(admin, forever.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.AuthenticateAPIToken(context.Background(), s1)
		wantCode(t, err, credtrack.EUNAUTHORIZED)
		// Expired: rejected.
		if _, err := db.AuthenticateAPIToken(context.Background(), s2); err != nil {
			t.Fatal(err)
		}
		clock.Advance(24*time.Hour + time.Second)
		_, err = db.AuthenticateAPIToken(context.Background(), s2)
		wantCode(t, err, credtrack.EUNAUTHORIZED)
		n, _ := db.QueryIntForTest(context.Background(), "SELECT COUNT(*) FROM audit_events WHERE action = 'api_token.revoked' AND org_id = ?", f.org.ID)
		if n != 1 {
			t.Errorf("api_token.revoked events = %d", n)
		}
	})
}

func TestOrgSettingsAndUnlock(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newOrgFixture(t, db, "Mercy General")
		admin := f.as(credtrack.RoleAdmin)
		err := db.UpdateOrgSettings(f.as(credtrack.RoleCoordinator), credtrack.OrgSettings{RequireMFA: true, ExpiringWindowDays: 60})
		wantCode(t, err, credtrack.EFORBIDDEN)
		wantCode(t, db.UpdateOrgSettings(admin, credtrack.OrgSettings{ExpiringWindowDays: 0}), credtrack.EINVALID)
		wantCode(t, db.UpdateOrgSettings(admin, credtrack.OrgSettings{ExpiringWindowDays: 366}), credtrack.EINVALID)
		if err := db.UpdateOrgSettings(admin, credtrack.OrgSettings{RequireMFA: true, ExpiringWindowDays: 60}); err != nil {
			t.Fatal(err)
		}
		s, err := db.GetOrgSettings(admin)
		if err != nil || !s.RequireMFA || s.ExpiringWindowDays != 60 || s.Name != "Mercy General" {
			t.Fatalf("settings = %+v, %v", s, err)
		}
		ms, _ := db.FindMemberships(context.Background(), f.users[credtrack.RoleProvider].ID)
		if len(ms) != 1 || !ms[0].OrgRequireMFA {
			t.Fatalf("membership does not carry require_mfa: %+v", ms)
		}

		u := f.users[credtrack.RoleProvider]
		for range sqlstore.LockoutThreshold {
			if _, _, err := db.RecordLoginFailure(context.Background(), u.ID); err != nil {
				t.Fatal(err)
			}
		}
		list, _ := db.ListMembers(admin)
		locked := 0
		for _, m := range list {
			if !m.LockedUntil.IsZero() {
				locked++
			}
		}
		if locked != 1 {
			t.Fatalf("%d locked members listed", locked)
		}
		if err := db.UnlockUser(admin, u.ID); err != nil {
			t.Fatal(err)
		}
		if until, err := db.LockState(context.Background(), u.ID); err != nil || !until.IsZero() {
			t.Fatalf("still locked until %v (%v)", until, err)
		}
	})
}

func TestSwitchSessionOrg(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		f := newOrgFixture(t, db, "Mercy General")
		other := newOrgFixture(t, db, "Harbor Health")
		third := newOrgFixture(t, db, "Lakeside Care")
		u := f.users[credtrack.RoleCoordinator]
		if err := db.AddMembership(other.sys, u.ID, credtrack.RoleAuditor); err != nil {
			t.Fatal(err)
		}
		old, err := db.CreateSession(context.Background(), &credtrack.Session{UserID: u.ID, OrgID: f.org.ID}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		// Not a member of the third organization: refused, nothing changes.
		_, err = db.SwitchSessionOrg(context.Background(), old, third.org.ID)
		wantCode(t, err, credtrack.ENOTFOUND)
		s, err := db.FindSessionByToken(context.Background(), old)
		if err != nil || s.OrgID != f.org.ID {
			t.Fatalf("session after refused switch = %+v, %v", s, err)
		}
		_, err = db.SwitchSessionOrg(context.Background(), "nonsense", other.org.ID)
		wantCode(t, err, credtrack.EUNAUTHORIZED)

		fresh, err := db.SwitchSessionOrg(context.Background(), old, other.org.ID)
		if err != nil || fresh == "" || fresh == old {
			t.Fatal(err)
		}
		if _, err := db.FindSessionByToken(context.Background(), old); credtrack.ErrorCode(err) != credtrack.ENOTFOUND {
			t.Errorf("the old token still works: %v", err)
		}
		s2, err := db.FindSessionByToken(context.Background(), fresh)
		if err != nil || s2.OrgID != other.org.ID || s2.ID != s.ID {
			t.Fatalf("session after switch = %+v, %v", s2, err)
		}
		n, _ := db.QueryIntForTest(context.Background(), "SELECT COUNT(*) FROM audit_events WHERE action = 'session.org_switched' AND org_id = ?", other.org.ID)
		if n != 1 {
			t.Errorf("session.org_switched events = %d", n)
		}
	})
}
