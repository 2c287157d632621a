package password_test

import (
	"strings"
	"testing"

	"credtrack/internal/password"
)

func TestHashVerify(t *testing.T) {
	h := password.NewHasher(password.Default, 2)
	for _, pw := range []string{"correct horse battery", strings.Repeat("ä", 64), strings.Repeat("x", 128)} {
		enc, err := h.Hash(pw)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Fatalf("hash %q lacks the ASVS parameters", enc)
		}
		if !h.Verify(enc, pw) || h.Verify(enc, pw[:len(pw)-1]) || h.Verify(enc, strings.ToUpper(pw)) {
			t.Fatalf("verify failed for a %d-char password (or accepted a truncated/case-folded one)", len(pw))
		}
		if h.NeedsRehash(enc) {
			t.Fatal("fresh hash needs rehash")
		}
	}
	cheap := password.NewHasher(password.Params{Time: 1, Memory: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 1)
	old, _ := cheap.Hash("a long passphrase")
	if !h.Verify(old, "a long passphrase") || !h.NeedsRehash(old) {
		t.Fatal("old parameters should verify and need a rehash")
	}
	if h.Verify("$argon2id$garbage", "x") || h.Verify("", "") {
		t.Fatal("malformed hash verified")
	}
}

func TestCheckLength(t *testing.T) {
	if password.CheckLength("short") == nil || password.CheckLength("eight ch") != nil ||
		password.CheckLength(strings.Repeat("x", 64)) != nil || password.CheckLength(strings.Repeat("x", 1025)) == nil {
		t.Fatal("length bounds wrong")
	}
}
