package roster_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"credtrack/internal/roster"
)

func TestSpoolEncryptsAndRoundTrips(t *testing.T) {
	dir := t.TempDir()
	src, _ := io.ReadAll(roster.Synthetic(3000)) // several 64 KiB chunks
	s, err := roster.NewSpool(dir, bytes.NewReader(src), 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Size() != int64(len(src)) {
		t.Fatalf("size %d, want %d", s.Size(), len(src))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("files: %v", files)
	}
	raw, _ := os.ReadFile(files[0])
	for _, plain := range []string{roster.SyntheticNPI(7), roster.SyntheticDEA(7), "Given7", "provider_ref"} {
		if bytes.Contains(raw, []byte(plain)) {
			t.Errorf("the spooled file holds %q in plaintext", plain)
		}
	}
	for range 2 { // read twice, as all-or-nothing does
		r, err := s.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("read back %d bytes, err %v", len(got), err)
		}
	}
	// A truncated file is noticed, not read as a shorter roster.
	os.WriteFile(files[0], raw[:len(raw)-100], 0o600)
	r, _ := s.Open()
	if _, err := io.ReadAll(r); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("truncated spool: %v", err)
	}
	r.Close()
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}

	// The limit.
	if _, err := roster.NewSpool(dir, bytes.NewReader(src), 1000); !errors.Is(err, roster.ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("files left behind: %v", files)
	}
}
