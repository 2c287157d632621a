// Package keyring loads or creates the master key and derives the
// purpose-specific keys from it (the SQLite page-encryption key, the field
// encryption and blind-index keys, the audit-chain key). The master key never
// leaves this package except through derivation.
package keyring

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// KeySize is the size of the master key in bytes (AES-256).
const KeySize = 32

// Master is the root secret of an installation.
type Master struct {
	key []byte
}

// FromHex parses a 64-hex-digit master key.
func FromHex(s string) (*Master, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != KeySize {
		return nil, errors.New("master key must be 64 hex digits")
	}
	return &Master{key: b}, nil
}

// Generate returns a new random master key.
func Generate() *Master {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return &Master{key: b}
}

// Hex returns the key as 64 hex digits, for writing the key file only.
func (m *Master) Hex() string { return hex.EncodeToString(m.key) }

// Derive returns an n-byte key for one purpose (HKDF-SHA256, RFC 5869).
// Distinct purposes give independent keys, so a leak of one derived key
// reveals nothing about the master or the others.
func (m *Master) Derive(purpose string, n int) []byte {
	k, err := hkdf.Key(sha256.New, m.key, nil, "credtrack/"+purpose, n)
	if err != nil {
		panic(fmt.Sprintf("keyring: derive %s: %v", purpose, err)) // only for n too large: a programming error
	}
	return k
}

// Check returns a key check value: a short, non-secret fingerprint stored
// beside the data so that a wrong master key is refused with a clear
// message instead of surfacing as "file is not a database" or failed
// decryptions.
func (m *Master) Check() string {
	mac := hmac.New(sha256.New, m.Derive("key-check", 32))
	mac.Write([]byte("credtrack key check v1"))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// ErrNoKeyFile is returned by LoadFile when the key file does not exist.
var ErrNoKeyFile = errors.New("keyring: no key file")

// LoadFile reads a key file written by CreateFile.
func LoadFile(path string) (*Master, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoKeyFile
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the master key file %s: %w", path, err)
	}
	m, err := FromHex(string(b))
	if err != nil {
		return nil, fmt.Errorf("the master key file %s is damaged: %w", path, err)
	}
	return m, nil
}

// CreateFile writes a new random key to path with mode 0600. It never
// overwrites an existing file.
func CreateFile(path string) (*Master, error) {
	m := Generate()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot create the master key file %s: %w", path, err)
	}
	if _, err := f.WriteString(m.Hex() + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("cannot write the master key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("cannot write the master key file %s: %w", path, err)
	}
	return m, f.Close()
}
