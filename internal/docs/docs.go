// Package docs is the document service: upload (type sniffed from the
// content, size limit, SHA-256 fingerprint and encryption while streaming,
// under a fresh per-document key), download (streamed decryption with the
// fingerprint checked at the end), "verify a document" and deletion.
//
// The per-document key is wrapped by the organization's key in the store
// (documents.key_enc); the blob store only ever sees ciphertext.
//
// # Late failures in HTTP downloads
//
// Open returns a reader that authenticates each 64 KiB chunk before
// returning its bytes and checks the whole document's SHA-256 at the end:
// a failure can arrive after some bytes were already sent. The HTTP layer
// must therefore (1) set Content-Length from Document.Size, so a client
// can tell a short body from a complete one; (2) copy with io.Copy and, if
// it returns an error after the headers were written, abort the response
// with panic(http.ErrAbortHandler), which resets the connection (HTTP/1.1)
// or the stream (HTTP/2) instead of ending it cleanly, so no client treats
// the partial file as good; (3) log the error (never the content) and never
// try to write an error page into a started body. Callers that must show
// an error page instead (a "verify then download" flow) can first read the
// document to io.Discard with Open, then open it again to send it.
package docs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"credtrack"
	"credtrack/internal/blob"
)

// DefaultMaxSize is the default upload limit (25 MB).
const DefaultMaxSize = 25 << 20

// Store is the part of the record store the service uses
// (implemented by *sqlstore.DB).
type Store interface {
	CreateDocument(ctx context.Context, d *credtrack.Document, key []byte) error
	OpenDocument(ctx context.Context, id string) (*credtrack.Document, []byte, error)
	FindDocumentsBySHA256(ctx context.Context, sum []byte) (*credtrack.DocumentMatch, error)
	DeleteDocument(ctx context.Context, id string) (*credtrack.Document, error)
	DocumentExists(ctx context.Context, id string) (bool, error)
	RecordEvent(ctx context.Context, ev *credtrack.AuditEvent) error
}

// Service uploads, downloads and verifies documents.
type Service struct {
	Store Store
	Blobs blob.Store
	// MaxSize is the largest accepted document in bytes; 0 means
	// DefaultMaxSize.
	MaxSize int64
}

func (s *Service) maxSize() int64 {
	if s.MaxSize > 0 {
		return s.MaxSize
	}
	return DefaultMaxSize
}

// Upload is one document to store.
type Upload struct {
	ProviderID   string
	CredentialID string
	Filename     string // shown to users only; never decides the type
	Body         io.Reader
}

// Accepted content types, decided by the first bytes of the content.
const (
	TypePDF  = "application/pdf"
	TypePNG  = "image/png"
	TypeJPEG = "image/jpeg"
)

// Sniff returns the content type of a document from its first bytes
// (up to 512), or "" when it is not an accepted type. The check is
// stricter than http.DetectContentType: the file must start with the
// format's signature ("%PDF-", the 8-byte PNG signature, a JPEG SOI
// followed by a marker), whatever its name says.
func Sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return TypePDF
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return TypePNG
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return TypeJPEG
	}
	return ""
}

// limitReader fails with ETOOLARGE as soon as more than max bytes pass.
type limitReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if int64(len(p)) > l.max-l.n+1 {
		p = p[:l.max-l.n+1]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return 0, tooLarge(l.max)
	}
	return n, err
}

func tooLarge(max int64) error {
	return credtrack.Errorf(credtrack.ETOOLARGE, "the document is larger than the limit of %d MB", max>>20)
}

// cleanFilename keeps the base name, valid UTF-8 without control
// characters, at most 200 bytes: the name is shown, never used as a path.
func cleanFilename(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" || name == "" {
		name = "document"
	}
	for len(name) > 200 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

func blobKey(org, id string) string { return "org/" + org + "/" + id }

// Upload checks, fingerprints, encrypts and stores a document, streaming:
// memory stays at a few chunks whatever the size. A body over the limit
// gives ETOOLARGE, an unaccepted type EUNSUPPORTED; in both cases, and on
// any other failure, nothing is left behind (no blob, no row). The result
// has PossibleFraud set when another provider of the organization has a
// document with the same fingerprint.
func (s *Service) Upload(ctx context.Context, u Upload) (*credtrack.Document, error) {
	org, err := credtrack.OrgIDFromContext(ctx)
	if err != nil {
		return nil, err
	}
	a := credtrack.ActorFromContext(ctx)
	if !a.Can(credtrack.PermDocumentWrite) && !a.Can(credtrack.PermOwnRecordWrite) {
		return nil, credtrack.Authorize(ctx, credtrack.PermDocumentWrite)
	}
	if u.ProviderID == "" || u.Body == nil {
		return nil, credtrack.Errorf(credtrack.EINVALID, "choose a provider and a file")
	}
	max := s.maxSize()
	body := bufio.NewReaderSize(&limitReader{r: u.Body, max: max}, 512)
	head, err := body.Peek(512)
	if err != nil && err != io.EOF {
		return nil, err
	}
	typ := Sniff(head)
	if typ == "" {
		return nil, credtrack.Errorf(credtrack.EUNSUPPORTED, "only PDF, PNG and JPEG files are accepted (decided by the file's content, not its name)")
	}
	key := make([]byte, 32)
	rand.Read(key)
	d := &credtrack.Document{
		ID: credtrack.NewID(), ProviderID: u.ProviderID, CredentialID: u.CredentialID,
		Filename: cleanFilename(u.Filename), ContentType: typ,
	}
	d.BlobKey = blobKey(org, d.ID)
	h := sha256.New()
	counted := &countingReader{r: io.TeeReader(body, h)}
	enc, err := newEncryptReader(key, d.ID, counted)
	if err != nil {
		return nil, err
	}
	if err := s.Blobs.Put(ctx, d.BlobKey, enc); err != nil {
		// Put leaves nothing behind on a failed read; delete anyway in
		// case a store finished the object before reporting an error.
		s.Blobs.Delete(context.WithoutCancel(ctx), d.BlobKey)
		var e *credtrack.Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, err
	}
	d.Size, d.SHA256 = counted.n, h.Sum(nil)
	if err := s.Store.CreateDocument(ctx, d, key); err != nil {
		// The row did not commit: remove the blob so no orphan remains.
		// (A crash exactly here leaves an unreferenced, undecryptable blob,
		// which SweepOrphans removes later.)
		s.Blobs.Delete(context.WithoutCancel(ctx), d.BlobKey)
		return nil, err
	}
	return d, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Open returns a document of the actor's organization and a reader of its
// plaintext. The reader returns ErrCorrupt if the blob does not decrypt,
// and ErrFingerprint at the end if the plaintext's SHA-256 differs from
// the one recorded at upload; only a read that reached io.EOF delivered
// the genuine document. See the package comment for HTTP handling.
func (s *Service) Open(ctx context.Context, id string) (*credtrack.Document, io.ReadCloser, error) {
	d, key, err := s.Store.OpenDocument(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	rc, err := s.Blobs.Get(ctx, d.BlobKey)
	if err != nil {
		return nil, nil, err
	}
	dec, err := newDecryptReader(key, d.ID, rc)
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	return d, &verifyingReader{r: dec, c: dec, h: sha256.New(), want: d.SHA256, size: d.Size}, nil
}

// ErrFingerprint is returned at the end of a download whose plaintext does
// not have the SHA-256 (or size) recorded at upload.
var ErrFingerprint = errors.New("docs: document does not match its recorded fingerprint")

type verifyingReader struct {
	r    io.Reader
	c    io.Closer
	h    hash.Hash
	n    int64
	want []byte
	size int64
	err  error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if v.n != v.size || subtle.ConstantTimeCompare(v.h.Sum(nil), v.want) != 1 {
			v.err = ErrFingerprint
			return n, v.err
		}
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.c.Close() }

// VerifyFile answers "verify a document" for a file: it computes the
// file's SHA-256 while streaming (same size limit as uploads) and looks it
// up among the organization's documents. Nothing is stored.
func (s *Service) VerifyFile(ctx context.Context, r io.Reader) (*credtrack.DocumentMatch, error) {
	if err := credtrack.Authorize(ctx, credtrack.PermDocumentRead); err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, &limitReader{r: r, max: s.maxSize()}); err != nil {
		var e *credtrack.Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, err
	}
	return s.Store.FindDocumentsBySHA256(ctx, h.Sum(nil))
}

// VerifySHA256 answers "verify a document" for a fingerprint given as 64
// hex digits (case and surrounding space ignored).
func (s *Service) VerifySHA256(ctx context.Context, hexSum string) (*credtrack.DocumentMatch, error) {
	sum, err := hex.DecodeString(strings.ToLower(strings.TrimSpace(hexSum)))
	if err != nil || len(sum) != sha256.Size {
		return nil, credtrack.Errorf(credtrack.EINVALID, "a SHA-256 fingerprint is 64 hexadecimal digits")
	}
	return s.Store.FindDocumentsBySHA256(ctx, sum)
}

// Delete removes a document: the row and its wrapped key first (after
// which the blob cannot be decrypted), then the blob. A failure to remove
// the blob is returned but leaves only undecryptable ciphertext.
func (s *Service) Delete(ctx context.Context, id string) error {
	d, err := s.Store.DeleteDocument(ctx, id)
	if err != nil {
		return err
	}
	return s.Blobs.Delete(context.WithoutCancel(ctx), d.BlobKey)
}

// SweepGrace is how old an unreferenced blob must be before SweepOrphans
// removes it: far longer than the gap between an upload's blob write and
// its row insert, so an upload in flight is never swept.
const SweepGrace = time.Hour

// SweepOrphans removes blobs that no document row refers to and that are
// older than grace (0 means SweepGrace): what a crash between the blob
// write and the row insert leaves behind. Without a row there is no
// wrapped key, so such a blob is undecryptable; the sweep only reclaims
// space. Each removal is audited ("document.orphan_removed") in the
// organization the blob key names. Local stores also lose stale temporary
// files of interrupted writes. Run it from a periodic job; it is safe to
// run on several nodes at once.
func (s *Service) SweepOrphans(ctx context.Context, grace time.Duration) (int, error) {
	if grace <= 0 {
		grace = SweepGrace
	}
	if t, ok := s.Blobs.(interface {
		RemoveStaleTemp(time.Duration) (int, error)
	}); ok {
		if _, err := t.RemoveStaleTemp(grace); err != nil {
			return 0, err
		}
	}
	cutoff := credtrack.Now().Add(-grace)
	var orphans []blob.Object
	err := s.Blobs.List(ctx, "org/", func(o blob.Object) error {
		if o.ModTime.After(cutoff) {
			return nil
		}
		org, id, ok := parseBlobKey(o.Key)
		if !ok {
			return nil // not ours: leave it alone
		}
		exists, err := s.Store.DocumentExists(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("document-sweep", org)), id)
		if err != nil {
			return err
		}
		if !exists {
			orphans = append(orphans, o)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, o := range orphans {
		org, id, _ := parseBlobKey(o.Key)
		if err := s.Blobs.Delete(ctx, o.Key); err != nil {
			return removed, err
		}
		removed++
		a := credtrack.SystemActor("document-sweep", org)
		if err := s.Store.RecordEvent(credtrack.NewContextWithActor(ctx, a), &credtrack.AuditEvent{
			OrgID: org, ActorKind: a.Kind, ActorID: a.ID, ActorRole: a.Role,
			Action: "document.orphan_removed", TargetType: "document", TargetID: id, Outcome: credtrack.OutcomeSuccess,
			Details: map[string]string{"size": strconv.FormatInt(o.Size, 10)},
		}); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// parseBlobKey splits "org/<org>/<id>".
func parseBlobKey(key string) (org, id string, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 3 || parts[0] != "org" || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[1], parts[2], true
}
