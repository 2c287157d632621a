package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"credtrack/internal/seal"
)

func newSealer() *seal.Sealer {
	s := seal.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	for _, org := range []string{"org1", "org2"} {
		if _, err := s.NewKeyset(org); err != nil {
			panic(err)
		}
	}
	return s
}

func TestSealRoundTripAndBinding(t *testing.T) {
	s := newSealer()
	f := seal.Field{OrgID: "org1", Table: "providers", Column: "ssn", RowID: "p1"}
	ct, err := s.Seal(f, "123456789")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("123456789")) {
		t.Fatal("ciphertext holds the plaintext")
	}
	if got, err := s.Open(f, ct); err != nil || got != "123456789" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	moved := []seal.Field{
		{OrgID: "org2", Table: "providers", Column: "ssn", RowID: "p1"},
		{OrgID: "org1", Table: "providers", Column: "npi", RowID: "p1"},
		{OrgID: "org1", Table: "providers", Column: "ssn", RowID: "p2"},
	}
	for _, m := range moved {
		if _, err := s.Open(m, ct); !errors.Is(err, seal.ErrDecrypt) {
			t.Errorf("Open with %+v: err = %v, want ErrDecrypt", m, err)
		}
	}
	ct[len(ct)-1] ^= 1
	if _, err := s.Open(f, ct); !errors.Is(err, seal.ErrDecrypt) {
		t.Errorf("flipped byte: err = %v, want ErrDecrypt", err)
	}
	if ct, _ := s.Seal(f, ""); ct != nil {
		t.Error("empty value should seal to nil")
	}
}

func TestIndex(t *testing.T) {
	s := newSealer()
	a := s.Index("org1", "npi", "1234567893")
	if !bytes.Equal(a, s.Index("org1", "npi", " 1234567893 ")) {
		t.Error("index is not stable under whitespace")
	}
	if bytes.Equal(a, s.Index("org2", "npi", "1234567893")) {
		t.Error("the same value in two orgs gives the same index")
	}
	if len(a) != 16 {
		t.Errorf("index length %d, want 16", len(a))
	}
}
