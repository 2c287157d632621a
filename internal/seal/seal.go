// Package seal encrypts sensitive fields (NPI, DEA and license numbers, SSN,
// date of birth, policy numbers, per-document keys, TOTP seeds) with
// AES-256-GCM under per-organization data keys, with associated data
// binding each value to its organization, table, column and row, and
// computes keyed blind indexes for exact-match search.
//
// The data keys are Tink keysets (keyset.go), one per organization, stored
// wrapped by a key derived from the master key and rotated by `credtrack
// keys rotate`. Ciphertexts start with a version byte: version 2 is a Tink
// AEAD ciphertext (whose own prefix names the key), version 1 the earlier
// scheme (AES-256-GCM under an HKDF-derived per-org key), which still
// opens so that values written before the keysets stay readable until a
// rotation re-encrypts them.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"time"
)

const (
	// version1 marks AES-256-GCM under an HKDF-derived per-org key (read only).
	version1 = 1
	// version2 marks a Tink AEAD ciphertext under the org's keyset.
	version2 = 2
)

// ErrDecrypt is returned for a ciphertext that does not open: a wrong key,
// a value moved to another row or organization, or tampering.
var ErrDecrypt = errors.New("seal: value does not decrypt (wrong key, moved or tampered)")

// Sealer seals and opens field values and computes blind indexes.
type Sealer struct {
	fieldKey []byte // root of the version-1 per-org keys (opening old values only)
	indexKey []byte // blind-index key
	kek      *wrapAEAD

	mu     sync.Mutex
	v1     map[string]cipher.AEAD
	orgs   map[string]*orgKeyset
	loader Loader
	ttl    time.Duration
}

// New returns a Sealer from two independent 32-byte keys derived from the
// master key by keyring: fieldKey (from which the keyset-wrapping key is
// derived) and indexKey. It holds no data keys until NewKeyset or Install
// gives it some, or SetLoader lets it fetch them.
func New(fieldKey, indexKey []byte) *Sealer {
	return &Sealer{fieldKey: fieldKey, indexKey: indexKey, kek: newWrapAEAD(fieldKey),
		v1: map[string]cipher.AEAD{}, orgs: map[string]*orgKeyset{}}
}

// Field names where a value lives; it becomes the associated data.
type Field struct {
	OrgID, Table, Column, RowID string
}

func (f Field) aad() []byte {
	return []byte(strings.Join([]string{"credtrack-field-v1", f.OrgID, f.Table, f.Column, f.RowID}, "\x00"))
}

func (s *Sealer) aeadV1(orgID string) (cipher.AEAD, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.v1[orgID]; ok {
		return a, nil
	}
	k, err := hkdf.Key(sha256.New, s.fieldKey, nil, "org-field-key/"+orgID, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s.v1[orgID] = a
	return a, nil
}

// Seal encrypts plaintext for field f under the primary key of f.OrgID's
// keyset. An empty plaintext seals to nil, so "not set" stays
// distinguishable without a ciphertext.
func (s *Sealer) Seal(f Field, plaintext string) ([]byte, error) {
	if plaintext == "" {
		return nil, nil
	}
	ks, err := s.keyset(f.OrgID, true)
	if err != nil {
		return nil, err
	}
	ct, err := ks.prim.Encrypt([]byte(plaintext), f.aad())
	if err != nil {
		return nil, err
	}
	return append([]byte{version2}, ct...), nil
}

// Open decrypts a value sealed for f. nil opens to "".
func (s *Sealer) Open(f Field, ciphertext []byte) (string, error) {
	if len(ciphertext) == 0 {
		return "", nil
	}
	switch ciphertext[0] {
	case version1:
		return s.openV1(f, ciphertext)
	case version2:
	default:
		return "", ErrDecrypt
	}
	ks, err := s.keyset(f.OrgID, false)
	if err != nil {
		return "", err
	}
	if id, ok := keyID(ciphertext); ok {
		if _, known := ks.keys[id]; !known {
			// Sealed by another process under a key added since this
			// Sealer loaded the keyset: reload once.
			s.mu.Lock()
			ks.loadedAt = time.Time{}
			s.mu.Unlock()
			if ks, err = s.keyset(f.OrgID, true); err != nil {
				return "", err
			}
		}
	}
	pt, err := ks.prim.Decrypt(ciphertext[1:], f.aad())
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}

func (s *Sealer) openV1(f Field, ciphertext []byte) (string, error) {
	a, err := s.aeadV1(f.OrgID)
	if err != nil {
		return "", err
	}
	if len(ciphertext) < 1+a.NonceSize()+a.Overhead() {
		return "", ErrDecrypt
	}
	nonce := ciphertext[1 : 1+a.NonceSize()]
	pt, err := a.Open(nil, nonce, ciphertext[1+a.NonceSize():], f.aad())
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}

// Index returns the blind index of value for exact-match search: 16 bytes
// of HMAC-SHA256 over org, field name and the normalized value. Including
// the organization keeps indexes from being correlated across tenants; the
// key keeps a 10-digit NPI from being brute-forced from its index.
//
// The index key stays derived from the master key and is not part of the
// rotated keysets: an index must be recomputable from the value alone at
// search time, so rotating its key would mean rebuilding every index
// (all rows, all orgs) before a search could use the new key, and a Tink
// PRF set's primary changes on rotation (SECURITY.md §3). Rotating the
// master key (a re-key of the installation) is where the index key changes.
func (s *Sealer) Index(orgID, field, value string) []byte {
	value = strings.ToUpper(strings.TrimSpace(value))
	if value == "" {
		return nil
	}
	mac := hmac.New(sha256.New, s.indexKey)
	mac.Write([]byte(orgID + "\x00" + field + "\x00" + value))
	return mac.Sum(nil)[:16]
}
