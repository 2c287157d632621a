package credtrack

import "context"

// ActorKind says what kind of principal performs an action.
type ActorKind string

// The kinds of actor recorded in the audit log.
const (
	ActorAnonymous ActorKind = "anonymous"
	ActorUser      ActorKind = "user"
	ActorToken     ActorKind = "api_token"
	ActorSystem    ActorKind = "system"
)

// Actor is who performs an action, in which organization, with which role,
// and from where. Web and API middleware put one in the request context;
// CLI commands and jobs make a system actor. The store takes the
// organization scope and the audit fields from it, so every path gets the
// same enforcement.
type Actor struct {
	Kind      ActorKind
	ID        string // user ID, API token ID or job name
	OrgID     string // the organization acted in; "" outside one
	Role      Role   // the role in OrgID
	IP        string
	UserAgent string
	RequestID string
	// Stage is how far a signed-in user has got; anything but StageReady
	// leaves Role and OrgID empty, so the actor can do nothing but finish
	// signing in (verify the email, enter or enrol a TOTP code).
	Stage SessionStage
}

// Can reports whether the actor may do p in its organization. A system
// actor (CLI, jobs) may do everything within its organization.
func (a Actor) Can(p Permission) bool {
	if a.OrgID == "" {
		return false
	}
	if a.Kind == ActorSystem {
		return true
	}
	return a.Role.Can(p)
}

// SystemActor returns the actor for an operator command or background job
// acting in org. name names the command or job in the audit log.
func SystemActor(name, orgID string) Actor {
	return Actor{Kind: ActorSystem, ID: name, OrgID: orgID, Role: RoleOwner}
}

type actorKey struct{}

// NewContextWithActor returns a copy of ctx carrying a.
func NewContextWithActor(ctx context.Context, a Actor) context.Context {
	if m, ok := ctx.Value(auditMarkKey{}).(*AuditMark); ok {
		m.mu.Lock()
		m.actor = a
		m.mu.Unlock()
	}
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the actor in ctx, or an anonymous actor.
func ActorFromContext(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Kind: ActorAnonymous}
}

// OrgIDFromContext returns the organization the actor in ctx acts in, or
// an EUNAUTHORIZED error when there is none. Every tenant-owned store method
// starts here, so a query without an organization cannot be made.
func OrgIDFromContext(ctx context.Context) (string, error) {
	a := ActorFromContext(ctx)
	if a.OrgID == "" {
		return "", Errorf(EUNAUTHORIZED, "no organization in scope")
	}
	return a.OrgID, nil
}

// Authorize returns an EFORBIDDEN error unless the actor in ctx may do p.
func Authorize(ctx context.Context, p Permission) error {
	a := ActorFromContext(ctx)
	if a.Kind == ActorAnonymous {
		return Errorf(EUNAUTHORIZED, "sign in first")
	}
	if !a.Can(p) {
		return Errorf(EFORBIDDEN, "your role may not do this")
	}
	return nil
}
