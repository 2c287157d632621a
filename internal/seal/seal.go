// Package seal encrypts sensitive fields (NPI, DEA and license numbers, SSN,
// date of birth, policy numbers) with AES-256-GCM under per-organization
// keys, with associated data binding each value to its organization, table,
// column and row, and computes keyed blind indexes for exact-match search.
//
// Ciphertexts start with a version byte so that the key scheme can change
// (per-org Tink keysets with rotation replace the derived keys in the
// records issue) while old values stay readable.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
)

// version1 marks AES-256-GCM under an HKDF-derived per-org key.
const version1 = 1

// ErrDecrypt is returned for a ciphertext that does not open: a wrong key,
// a value moved to another row or organization, or tampering.
var ErrDecrypt = errors.New("seal: value does not decrypt (wrong key, moved or tampered)")

// Sealer seals and opens field values and computes blind indexes.
type Sealer struct {
	fieldKey []byte // root of the per-org encryption keys
	indexKey []byte // root of the per-org blind-index keys

	mu    sync.Mutex
	aeads map[string]cipher.AEAD
}

// New returns a Sealer from two independent 32-byte keys (derived from the
// master key by keyring).
func New(fieldKey, indexKey []byte) *Sealer {
	return &Sealer{fieldKey: fieldKey, indexKey: indexKey, aeads: map[string]cipher.AEAD{}}
}

// Field names where a value lives; it becomes the associated data.
type Field struct {
	OrgID, Table, Column, RowID string
}

func (f Field) aad() []byte {
	return []byte(strings.Join([]string{"credtrack-field-v1", f.OrgID, f.Table, f.Column, f.RowID}, "\x00"))
}

func (s *Sealer) aead(orgID string) (cipher.AEAD, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.aeads[orgID]; ok {
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
	s.aeads[orgID] = a
	return a, nil
}

// Seal encrypts plaintext for field f. An empty plaintext seals to nil, so
// "not set" stays distinguishable without a ciphertext.
func (s *Sealer) Seal(f Field, plaintext string) ([]byte, error) {
	if plaintext == "" {
		return nil, nil
	}
	a, err := s.aead(f.OrgID)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plaintext)+a.Overhead())
	out[0] = version1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return a.Seal(out, out[1:], []byte(plaintext), f.aad()), nil
}

// Open decrypts a value sealed for f. nil opens to "".
func (s *Sealer) Open(f Field, ciphertext []byte) (string, error) {
	if len(ciphertext) == 0 {
		return "", nil
	}
	if ciphertext[0] != version1 {
		return "", ErrDecrypt
	}
	a, err := s.aead(f.OrgID)
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
func (s *Sealer) Index(orgID, field, value string) []byte {
	value = strings.ToUpper(strings.TrimSpace(value))
	if value == "" {
		return nil
	}
	mac := hmac.New(sha256.New, s.indexKey)
	mac.Write([]byte(orgID + "\x00" + field + "\x00" + value))
	return mac.Sum(nil)[:16]
}
