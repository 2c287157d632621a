package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"strings"
)

// Recovery codes (ASVS 5.0 6.5.2, lookup secrets) let a user who lost the
// authenticator finish the second factor once per code.
//
// Each code is RecoveryCodeBytes = 10 bytes (80 bits) from crypto/rand,
// written as 16 characters of Crockford's base32 alphabet in lower case
// ("0-9a-z" without i, l, o and u, so no 0/o or 1/l/i confusion) and grouped
// as xxxx-xxxx-xxxx-xxxx. 80 bits is above the ≥64 bits ASVS asks for.
//
// Why a keyed hash (HMAC-SHA256) and not argon2id: a password hash is slow
// and salted because passwords have little entropy and must resist offline
// guessing. An 80-bit random code cannot be guessed offline even with a fast
// hash, so the slowness would buy nothing and would cost ~56 ms and 19 MiB
// per stored code on every attempt (ten per attempt). Keying the hash with a
// secret that lives outside the database (derived from the master key) means
// a stolen database alone does not even allow an offline check. Without a
// salt, MatchRecoveryCode is one HMAC plus cheap comparisons.
const (
	// DefaultRecoveryCodes is how many codes a user gets at a time.
	DefaultRecoveryCodes = 10
	// MaxRecoveryCodes bounds n in NewRecoveryCodes.
	MaxRecoveryCodes = 100
	// RecoveryCodeBytes is the entropy of one code in bytes (80 bits).
	RecoveryCodeBytes = 10
	// RecoveryKeySize is the minimum size of the HMAC key in bytes; use a
	// dedicated derived key, e.g. master.Derive("totp-recovery", 32).
	RecoveryKeySize = 32

	// recoveryAlphabet is Crockford's base32 alphabet in lower case.
	recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	// recoveryGroup is the number of characters between dashes.
	recoveryGroup = 4
)

var recoveryEncoding = base32.NewEncoding(recoveryAlphabet).WithPadding(base32.NoPadding)

// NewRecoveryCodes returns n distinct recovery codes for showing to the user
// once (plain, formatted xxxx-xxxx-xxxx-xxxx) and their HMAC-SHA256 digests
// for storing (hashes[i] belongs to plain[i]); the hashes are made with
// HashRecoveryCode using key. n must be between 1 and MaxRecoveryCodes
// (normally DefaultRecoveryCodes). Issuing a new set must replace the old
// one. NewRecoveryCodes panics if key is shorter than RecoveryKeySize.
func NewRecoveryCodes(key []byte, n int) (plain []string, hashes [][]byte, err error) {
	if n < 1 || n > MaxRecoveryCodes {
		return nil, nil, fmt.Errorf("totp: recovery code count %d outside [1, %d]", n, MaxRecoveryCodes)
	}
	checkRecoveryKey(key)
	seen := make(map[string]bool, n)
	plain = make([]string, 0, n)
	hashes = make([][]byte, 0, n)
	raw := make([]byte, RecoveryCodeBytes)
	for len(plain) < n {
		if _, err := rand.Read(raw); err != nil {
			return nil, nil, fmt.Errorf("totp: random: %w", err)
		}
		s := recoveryEncoding.EncodeToString(raw)
		if seen[s] {
			continue // 2^-80 per pair; kept so "distinct" is a guarantee
		}
		seen[s] = true
		plain = append(plain, formatRecoveryCode(s))
		hashes = append(hashes, HashRecoveryCode(key, s))
	}
	return plain, hashes, nil
}

// HashRecoveryCode returns HMAC-SHA256(key, NormalizeRecoveryCode(code)), the
// 32-byte value stored for a recovery code. key must be a secret kept outside
// the database, at least RecoveryKeySize bytes; HashRecoveryCode panics
// otherwise, as that is a programming error.
func HashRecoveryCode(key []byte, code string) []byte {
	checkRecoveryKey(key)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(NormalizeRecoveryCode(code)))
	return m.Sum(nil)
}

// MatchRecoveryCode reports whether code matches one of hashes (as made by
// HashRecoveryCode with the same key) and at which index, so the caller can
// delete or mark that code as used. Every hash is compared, in constant
// time, whether or not an earlier one matched; nil entries (codes already
// used) never match. The caller must consume the code atomically (e.g.
// DELETE ... WHERE hash = ? and check one row was affected) so that two
// concurrent requests cannot both use it. MatchRecoveryCode panics if key is
// shorter than RecoveryKeySize.
func MatchRecoveryCode(key []byte, code string, hashes [][]byte) (index int, ok bool) {
	h := HashRecoveryCode(key, code)
	index = -1
	found := 0
	for i, c := range hashes {
		eq := subtle.ConstantTimeCompare(h, c) // 0 for a different length
		first := eq &^ found                   // 1 only for the first match
		index = subtle.ConstantTimeSelect(first, i, index)
		found |= eq
	}
	if found == 0 {
		return -1, false
	}
	return index, true
}

// NormalizeRecoveryCode returns code as it is hashed: lower case, with
// spaces, dashes and other whitespace removed, and with the letters
// Crockford's base32 reads as digits mapped to them (o → 0, i and l → 1),
// since those letters never appear in a generated code.
func NormalizeRecoveryCode(code string) string {
	var b strings.Builder
	b.Grow(len(code))
	for _, r := range strings.ToLower(code) {
		switch r {
		case ' ', '-', '\t', '\n', '\r', '\u00a0':
			continue
		case 'o':
			r = '0'
		case 'i', 'l':
			r = '1'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// formatRecoveryCode inserts a dash every recoveryGroup characters.
func formatRecoveryCode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += recoveryGroup {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(s[i:min(i+recoveryGroup, len(s))])
	}
	return b.String()
}

func checkRecoveryKey(key []byte) {
	if len(key) < RecoveryKeySize {
		panic(fmt.Sprintf("totp: recovery code key is %d bytes, want at least %d", len(key), RecoveryKeySize))
	}
}
