package demo

import (
	"bytes"
	"testing"
	"time"

	"credtrack/internal/totp"
)

// The demo seeds are stable for one key (restarts print the same), differ
// between installations and accounts, and CurrentCode answers only for
// the demo accounts that have TOTP.
func TestDemoTOTP(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	owner := loginEmail("owner")
	first, again := TOTPSecret(k1, owner), TOTPSecret(k1, owner)
	if first != again || len(first) != 32 {
		t.Fatal("seed not stable or not 32 characters")
	}
	if TOTPSecret(k1, owner) == TOTPSecret(k2, owner) || TOTPSecret(k1, owner) == TOTPSecret(k1, loginEmail("admin")) {
		t.Fatal("seeds repeat across installations or accounts")
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	code, ok := CurrentCode(k1, owner, now)
	if !ok {
		t.Fatal("no code for the owner")
	}
	if _, err := totp.Validate(TOTPSecret(k1, owner), code, now, 0); err != nil {
		t.Fatalf("the shown code does not validate: %v", err)
	}
	for _, email := range []string{loginEmail("auditor"), loginEmail("provider"), "someone@example.org"} {
		if _, ok := CurrentCode(k1, email, now); ok {
			t.Errorf("a code was shown for %s", email)
		}
	}
}
