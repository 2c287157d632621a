package sqlstore

import (
	"context"
	"database/sql"

	"credtrack"
)

// CreateOrg stores a new organization and records "org.created" as the
// first event of its audit chain.
func (db *DB) CreateOrg(ctx context.Context, o *credtrack.Organization) error {
	if err := o.Validate(); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		o.ID = credtrack.NewID()
		o.CreatedAt = tx.now
		if _, err := tx.exec("INSERT INTO organizations (id, name, kind, expiring_window_days, created_at) VALUES (?, ?, ?, ?, ?)",
			o.ID, o.Name, string(o.Kind), o.ExpiringWindowDays, ts(o.CreatedAt)); err != nil {
			return err
		}
		if err := tx.createOrgKeys(o.ID); err != nil {
			return err
		}
		a := credtrack.ActorFromContext(ctx)
		return tx.appendEvent(&credtrack.AuditEvent{OrgID: o.ID, ActorKind: a.Kind, ActorID: a.ID, ActorRole: a.Role,
			Action: "org.created", TargetType: "organization", TargetID: o.ID, Outcome: credtrack.OutcomeSuccess,
			IP: a.IP, UserAgent: a.UserAgent, RequestID: a.RequestID, Details: map[string]string{"kind": string(o.Kind)}})
	})
}

func scanOrg(row interface{ Scan(...any) error }) (*credtrack.Organization, error) {
	var o credtrack.Organization
	var kind string
	var created sql.NullInt64
	var set string
	if err := row.Scan(&o.ID, &o.Name, &kind, &o.ExpiringWindowDays, &created, &set); err != nil {
		return nil, err
	}
	var err error
	if o.RequiredCredentials, err = parseRequiredSet(set); err != nil {
		return nil, err
	}
	o.Kind, o.CreatedAt = credtrack.OrgKind(kind), fromTS(created)
	return &o, nil
}

// FindOrgByID returns an organization by ID.
func (db *DB) FindOrgByID(ctx context.Context, id string) (*credtrack.Organization, error) {
	var o *credtrack.Organization
	err := db.view(ctx, func(tx *Tx) error {
		var err error
		o, err = scanOrg(tx.queryRow("SELECT id, name, kind, expiring_window_days, created_at, required_credentials FROM organizations WHERE id = ?", id))
		return err
	})
	return o, err
}

// FindOrgByName returns the oldest organization with exactly this name.
func (db *DB) FindOrgByName(ctx context.Context, name string) (*credtrack.Organization, error) {
	var o *credtrack.Organization
	err := db.view(ctx, func(tx *Tx) error {
		var err error
		o, err = scanOrg(tx.queryRow("SELECT id, name, kind, expiring_window_days, created_at, required_credentials FROM organizations WHERE name = ? ORDER BY created_at, id LIMIT 1", name))
		return err
	})
	return o, err
}
