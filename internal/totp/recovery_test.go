package totp

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

var recoveryKey = bytes.Repeat([]byte{0x42}, RecoveryKeySize)

func TestRecoveryAlphabet(t *testing.T) {
	if len(recoveryAlphabet) != 32 {
		t.Fatalf("alphabet has %d symbols", len(recoveryAlphabet))
	}
	seen := map[rune]bool{}
	for _, r := range recoveryAlphabet {
		if seen[r] {
			t.Fatalf("duplicate %q", r)
		}
		seen[r] = true
		if strings.ContainsRune("ilou", r) || (r < '0' || r > '9') && (r < 'a' || r > 'z') {
			t.Fatalf("confusable or non-lower-alphanumeric symbol %q", r)
		}
	}
}

func TestNewRecoveryCodes(t *testing.T) {
	plain, hashes, err := NewRecoveryCodes(recoveryKey, DefaultRecoveryCodes)
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != 10 || len(hashes) != 10 {
		t.Fatalf("%d codes, %d hashes", len(plain), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range plain {
		if seen[c] {
			t.Fatalf("duplicate code %s", c)
		}
		seen[c] = true
		// Shape: xxxx-xxxx-xxxx-xxxx over the 32-symbol alphabet.
		groups := strings.Split(c, "-")
		if len(groups) != 4 {
			t.Fatalf("code %q: %d groups", c, len(groups))
		}
		symbols := 0
		for _, g := range groups {
			if len(g) != 4 {
				t.Fatalf("code %q: group %q", c, g)
			}
			for _, r := range g {
				if !strings.ContainsRune(recoveryAlphabet, r) {
					t.Fatalf("code %q: symbol %q outside the alphabet", c, r)
				}
			}
			symbols += len(g)
		}
		// Entropy: each symbol carries log2(32) = 5 bits, and the 16
		// symbols encode exactly RecoveryCodeBytes random bytes.
		bits := float64(symbols) * math.Log2(float64(len(recoveryAlphabet)))
		if bits < 64 || bits != 8*RecoveryCodeBytes {
			t.Fatalf("code %q carries %.0f bits", c, bits)
		}
		if raw, err := recoveryEncoding.DecodeString(NormalizeRecoveryCode(c)); err != nil || len(raw) != RecoveryCodeBytes {
			t.Fatalf("code %q decodes to %d bytes, %v", c, len(raw), err)
		}

		h := hashes[i]
		if len(h) != 32 || !bytes.Equal(h, HashRecoveryCode(recoveryKey, c)) {
			t.Fatalf("hash %d: %x", i, h)
		}
		for _, form := range []string{c, NormalizeRecoveryCode(c), strings.ToUpper(c)} {
			if bytes.Contains(h, []byte(form)) {
				t.Fatalf("hash %d contains the code", i)
			}
		}
		if idx, ok := MatchRecoveryCode(recoveryKey, c, hashes); !ok || idx != i {
			t.Fatalf("Match(%s) = %d, %v; want %d", c, idx, ok, i)
		}
	}

	// Two sets differ.
	plain2, _, err := NewRecoveryCodes(recoveryKey, DefaultRecoveryCodes)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plain2 {
		if seen[c] {
			t.Fatalf("code %s repeated across sets", c)
		}
	}

	for _, n := range []int{0, -1, MaxRecoveryCodes + 1} {
		if _, _, err := NewRecoveryCodes(recoveryKey, n); err == nil {
			t.Errorf("n=%d accepted", n)
		}
	}
	if p, h, err := NewRecoveryCodes(recoveryKey, 1); err != nil || len(p) != 1 || len(h) != 1 {
		t.Fatalf("n=1: %v %v %v", p, h, err)
	}
}

func TestMatchRecoveryCodeNormalization(t *testing.T) {
	plain, hashes, err := NewRecoveryCodes(recoveryKey, DefaultRecoveryCodes)
	if err != nil {
		t.Fatal(err)
	}
	c := plain[3]
	compact := strings.ReplaceAll(c, "-", "")
	for _, in := range []string{
		strings.ToUpper(c),
		" " + c + " ",
		compact,
		strings.ToUpper(compact[:4]) + " " + compact[4:8] + " - " + strings.ToUpper(compact[8:12]) + "\t" + compact[12:],
		strings.Join(strings.Split(compact, ""), " "),
		strings.NewReplacer("0", "O", "1", "l").Replace(c), // Crockford: O reads as 0, l as 1
	} {
		if idx, ok := MatchRecoveryCode(recoveryKey, in, hashes); !ok || idx != 3 {
			t.Errorf("Match(%q) = %d, %v; want 3", in, idx, ok)
		}
	}
	if got := NormalizeRecoveryCode(" ABCD-efgh - IJKL mnOP "); got != "abcdefgh1jk1mn0p" {
		t.Errorf("Normalize = %q", got)
	}
}

func TestMatchRecoveryCodeRejects(t *testing.T) {
	plain, hashes, err := NewRecoveryCodes(recoveryKey, DefaultRecoveryCodes)
	if err != nil {
		t.Fatal(err)
	}
	c := plain[0]
	// Change one symbol to another symbol of the alphabet.
	sym := c[len(c)-1]
	repl := byte('0')
	if sym == '0' {
		repl = '2'
	}
	wrong := c[:len(c)-1] + string(repl)
	for _, in := range []string{wrong, "", "-", c[:len(c)-1], c + "0", "zzzz-zzzz-zzzz-zzzz"} {
		if idx, ok := MatchRecoveryCode(recoveryKey, in, hashes); ok || idx != -1 {
			t.Errorf("Match(%q) = %d, %v; want -1, false", in, idx, ok)
		}
	}
	// Another key does not match.
	other := bytes.Repeat([]byte{0x43}, RecoveryKeySize)
	if _, ok := MatchRecoveryCode(other, c, hashes); ok {
		t.Error("matched under another key")
	}
	// A used code (slot cleared by the caller) no longer matches, and the
	// other indexes are unchanged.
	used := append([][]byte(nil), hashes...)
	used[0] = nil
	if _, ok := MatchRecoveryCode(recoveryKey, c, used); ok {
		t.Error("cleared slot matched")
	}
	if idx, ok := MatchRecoveryCode(recoveryKey, plain[9], used); !ok || idx != 9 {
		t.Errorf("Match(last) = %d, %v", idx, ok)
	}
	if _, ok := MatchRecoveryCode(recoveryKey, c, nil); ok {
		t.Error("matched an empty list")
	}
	// Duplicated stored hash: the first index is reported.
	dup := [][]byte{hashes[1], hashes[0], hashes[0]}
	if idx, ok := MatchRecoveryCode(recoveryKey, c, dup); !ok || idx != 1 {
		t.Errorf("Match(dup) = %d, %v; want 1", idx, ok)
	}
}

func TestRecoveryKeyTooShort(t *testing.T) {
	for name, f := range map[string]func(){
		"Hash":  func() { HashRecoveryCode(nil, "abcd") },
		"Match": func() { MatchRecoveryCode(make([]byte, RecoveryKeySize-1), "abcd", nil) },
		"New":   func() { _, _, _ = NewRecoveryCodes([]byte("short"), 10) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic for a short key")
				}
			}()
			f()
		})
	}
}
