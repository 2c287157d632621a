package web

import (
	"slices"
	"strings"
	"testing"

	"credtrack"
)

// The end-to-end tests of the organization pages, over the real store and
// auth service on both backends, are in internal/admin. These cover what
// web decides on its own.

func TestOrgPagesWithoutAdminService(t *testing.T) {
	e := newEnv(t, true)
	e.auth.addUser("admin@example.com", "u-admin", "org-a", credtrack.RoleAdmin)
	rec := e.get(t, "/org/members", "admin@example.com")
	if rec.Code != 503 {
		t.Fatalf("GET /org/members without Admin: %d", rec.Code)
	}
	if strings.Contains(rec.Body.String(), `href="/org/`) {
		t.Error("the navigation offers pages that cannot work")
	}
	// Roles without member.read are refused before the service is asked.
	if rec := e.get(t, "/org/members", "coord@example.com"); rec.Code != 403 {
		t.Fatalf("coordinator: %d", rec.Code)
	}
}

func TestGrantableAndOrgManager(t *testing.T) {
	admin := credtrack.Actor{Kind: credtrack.ActorUser, OrgID: "o", Role: credtrack.RoleAdmin}
	owner := credtrack.Actor{Kind: credtrack.ActorUser, OrgID: "o", Role: credtrack.RoleOwner}
	if slices.Contains(grantable(admin), credtrack.RoleOwner) || len(grantable(admin)) != 4 {
		t.Errorf("admin may grant %v", grantable(admin))
	}
	if !slices.Equal(grantable(owner), credtrack.Roles) {
		t.Errorf("owner may grant %v", grantable(owner))
	}
	for role, want := range map[credtrack.Role]string{credtrack.RoleOwner: "/org/members", credtrack.RoleAdmin: "/org/members",
		credtrack.RoleCoordinator: "", credtrack.RoleProvider: "", credtrack.RoleAuditor: ""} {
		if got := orgManager(credtrack.Actor{Kind: credtrack.ActorUser, OrgID: "o", Role: role}); got != want {
			t.Errorf("orgManager(%s) = %q, want %q", role, got, want)
		}
	}
}
