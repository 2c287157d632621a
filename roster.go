package credtrack

import "context"

// RosterEntry is one provider of a roster file together with the
// credentials the file lists for it. The roster importer
// (internal/roster) builds entries from CSV rows and validates them; the
// store writes them in bulk.
type RosterEntry struct {
	Provider    *Provider
	Credentials []*Credential
}

// RosterService imports and exports rosters in bulk for the organization
// in ctx.
type RosterService interface {
	// ImportRoster stores a batch of validated entries in one transaction:
	// every provider and credential is sealed and indexed exactly as
	// CreateProvider and CreateCredential do, and each gets its own
	// "provider.created" or "credential.created" event (with the import ID
	// in details) in the same transaction. It sets the IDs. The actor needs
	// provider.write and credential.write.
	ImportRoster(ctx context.Context, importID string, entries []*RosterEntry) error
	// PrepareRoster splits ImportRoster in two so that an import can
	// prepare one batch while the previous one is written: it checks the
	// actor and the entries, sets the IDs, seals, indexes and builds the
	// events without touching the database, and returns the write, which
	// stores the batch as ImportRoster does (one transaction, commit or
	// nothing). Writes must run in the order their batches were prepared
	// for the records to keep increasing IDs; the events are chained in
	// the order the writes run.
	PrepareRoster(ctx context.Context, importID string, entries []*RosterEntry) (write func() error, err error)
	// ExportRoster calls fn with every provider of the organization, in
	// name order, with its credentials. NPI is always opened; SSN, date of
	// birth and credential numbers only when the actor holds
	// sensitive.reveal (otherwise they are left empty). The export is
	// audited ("export.created") before the first provider is handed over.
	ExportRoster(ctx context.Context, fn func(*Provider) error) error
}
