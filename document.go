package credtrack

import "time"

// Document is an uploaded file (license copy, certificate, ID) attached to
// a provider and optionally one of their credentials. Its bytes live
// encrypted in the blob store under BlobKey; the row keeps the SHA-256
// fingerprint of the plaintext, the digital fingerprint the privacy policy
// speaks of.
type Document struct {
	ID           string
	OrgID        string
	ProviderID   string
	CredentialID string // "" when attached to the provider only
	Filename     string // as uploaded; for display only, never a path
	ContentType  string // sniffed from the content: application/pdf, image/png, image/jpeg
	Size         int64  // plaintext bytes
	SHA256       []byte // fingerprint of the plaintext
	BlobKey      string
	UploadedBy   string
	CreatedAt    time.Time

	// PossibleFraud is set on an upload or a lookup when the same
	// fingerprint is on record for another provider of the organization.
	PossibleFraud bool
}

// DocumentMatch is the answer to "verify a document": the documents of the
// organization whose fingerprint equals the one given.
type DocumentMatch struct {
	SHA256    []byte
	Documents []*Document
	// PossibleFraud is true when the matches belong to two or more
	// different providers: one file presented as two people's credential.
	PossibleFraud bool
}

// Matched reports whether any document on record has the fingerprint.
func (m *DocumentMatch) Matched() bool { return len(m.Documents) > 0 }
