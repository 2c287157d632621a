package seal

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// TestVersion1StillOpens: values sealed before the keysets (AES-256-GCM
// under the HKDF-derived per-org key, version byte 1) keep opening, are
// never "current" (so a rotation re-encrypts them), and re-seal as
// version 2.
func TestVersion1StillOpens(t *testing.T) {
	s := New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if _, err := s.NewKeyset("org1"); err != nil {
		t.Fatal(err)
	}
	f := Field{OrgID: "org1", Table: "providers", Column: "ssn", RowID: "p1"}
	a, err := s.aeadV1("org1")
	if err != nil {
		t.Fatal(err)
	}
	v1 := make([]byte, 1+a.NonceSize())
	v1[0] = version1
	rand.Read(v1[1:])
	v1 = a.Seal(v1, v1[1:], []byte("900123456"), f.aad())
	if got, err := s.Open(f, v1); err != nil || got != "900123456" {
		t.Fatalf("v1 value: %q, %v", got, err)
	}
	if s.IsCurrent("org1", v1) {
		t.Fatal("a v1 value counts as current: a rotation would skip it")
	}
	if _, err := s.Open(Field{OrgID: "org1", Table: "providers", Column: "ssn", RowID: "p2"}, v1); err != ErrDecrypt {
		t.Fatalf("v1 value moved to another row: %v", err)
	}
	v2, err := s.Seal(f, "900123456")
	if err != nil || v2[0] != version2 || !s.IsCurrent("org1", v2) {
		t.Fatalf("re-sealed: %x, %v", v2[:6], err)
	}
}
