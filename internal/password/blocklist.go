package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// commonPasswordsGz is the common-password list of @zxcvbn-ts/language-common
// 4.1.3 (MIT, see data/LICENSE-zxcvbn-ts.txt and data/README.md), lowercased,
// sorted, one per line, gzipped.
//
//go:embed data/common-passwords.txt.gz
var commonPasswordsGz []byte

// Blocklist is a set of passwords that are rejected whatever their strength
// score (ASVS 6.2.4). Entries are compared case-insensitively. It is safe
// for concurrent use.
type Blocklist struct {
	words []string // lowercase, sorted, unique
}

// minStrippedLen is how many characters must remain after stripping trailing
// digits and symbols for the stripped form to be looked up ("password123!"
// → "password"), so that "1234" or "abc!" do not match every short stem.
const minStrippedLen = 4

// NewBlocklist returns a Blocklist of words (any case; blank lines ignored).
func NewBlocklist(words []string) *Blocklist {
	b := &Blocklist{words: make([]string, 0, len(words))}
	for _, w := range words {
		if w = strings.TrimSpace(w); w != "" {
			b.words = append(b.words, strings.ToLower(w))
		}
	}
	slices.Sort(b.words)
	b.words = slices.Compact(b.words)
	return b
}

// CommonPasswords returns the embedded list of common passwords (49,233
// entries from @zxcvbn-ts/language-common 4.1.3). It is decoded on first
// use and shared.
var CommonPasswords = sync.OnceValue(func() *Blocklist {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		panic("password: embedded common-password list: " + err.Error())
	}
	var words []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		words = append(words, sc.Text())
	}
	if err := sc.Err(); err != nil {
		panic("password: embedded common-password list: " + err.Error())
	}
	return NewBlocklist(words)
})

// Len returns the number of entries.
func (b *Blocklist) Len() int { return len(b.words) }

// Contains reports whether pw, lowercased, is on the list, either as it is or
// with some or all of its trailing digits, punctuation, symbols and spaces
// removed, as long as at least 4 characters remain ("Password123!" matches
// "password", "Summer2024!!" matches "summer2024" and "summer").
func (b *Blocklist) Contains(pw string) bool {
	lower := strings.ToLower(pw)
	if b.has(lower) {
		return true
	}
	// Drop trailing non-letters one at a time, so that an entry which itself
	// ends in digits ("abc12345") is found with more appended ("abc123451!").
	for s := lower; ; {
		r, size := utf8.DecodeLastRuneInString(s)
		if size == 0 || unicode.IsLetter(r) || unicode.IsMark(r) {
			return false
		}
		s = s[:len(s)-size]
		if utf8.RuneCountInString(s) < minStrippedLen {
			return false
		}
		if b.has(s) {
			return true
		}
	}
}

func (b *Blocklist) has(w string) bool {
	_, ok := slices.BinarySearch(b.words, w)
	return ok
}
