package keyring_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"credtrack/internal/keyring"
)

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if _, err := keyring.LoadFile(path); err != keyring.ErrNoKeyFile {
		t.Fatalf("missing file: %v", err)
	}
	m, err := keyring.CreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	if _, err := keyring.CreateFile(path); err == nil {
		t.Fatal("CreateFile overwrote an existing key")
	}
	again, err := keyring.LoadFile(path)
	if err != nil || again.Check() != m.Check() {
		t.Fatalf("reload: %v", err)
	}
	os.WriteFile(path, []byte("not hex"), 0o600)
	if _, err := keyring.LoadFile(path); err == nil {
		t.Fatal("damaged key file accepted")
	}
}

func TestDerive(t *testing.T) {
	m := keyring.Generate()
	a, b := m.Derive("sqlite-xts", 64), m.Derive("audit-chain", 32)
	if len(a) != 64 || len(b) != 32 || bytes.Equal(a[:32], b) || !bytes.Equal(a, m.Derive("sqlite-xts", 64)) {
		t.Fatal("derivation is not stable and purpose-separated")
	}
	if keyring.Generate().Check() == m.Check() {
		t.Fatal("two keys share a check value")
	}
	if _, err := keyring.FromHex("abcd"); err == nil {
		t.Fatal("short key accepted")
	}
}
