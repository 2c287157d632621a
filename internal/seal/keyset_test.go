package seal_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"credtrack/internal/seal"
)

var f1 = seal.Field{OrgID: "org1", Table: "providers", Column: "npi", RowID: "p1"}

// TestRotateAndDisable follows a rotation: values under the old key still
// open after the new key became primary, new values use the new key, and
// after the old key is disabled only re-encrypted values open.
func TestRotateAndDisable(t *testing.T) {
	s := seal.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	st, err := s.NewKeyset("org1")
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.Seal(f1, "1234567893")
	if err != nil {
		t.Fatal(err)
	}
	if !s.IsCurrent("org1", old) {
		t.Fatal("a fresh value is not under the primary key")
	}
	st2, newID, err := s.Rotate(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Install(st2); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Primary("org1"); p != newID {
		t.Fatalf("primary %d, want %d", p, newID)
	}
	if s.IsCurrent("org1", old) {
		t.Fatal("old value reported current after rotation")
	}
	if got, err := s.Open(f1, old); err != nil || got != "1234567893" {
		t.Fatalf("old value after rotation: %q, %v", got, err)
	}
	fresh, err := s.Seal(f1, "1234567893")
	if err != nil || !s.IsCurrent("org1", fresh) {
		t.Fatalf("new value not under the new key: %v", err)
	}
	st3, off, err := s.DisableOld(st2)
	if err != nil || len(off) != 1 {
		t.Fatalf("DisableOld: %v, %v", off, err)
	}
	if err := s.Install(st3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(f1, old); err == nil {
		t.Fatal("a value under a disabled key still opens")
	}
	if got, err := s.Open(f1, fresh); err != nil || got != "1234567893" {
		t.Fatalf("re-encrypted value: %q, %v", got, err)
	}
	keys, err := s.Keys(st3)
	if err != nil || len(keys) != 2 {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
	// An older generation never replaces a newer one.
	if err := s.Install(st); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Primary("org1"); p != newID {
		t.Fatal("an older keyset generation replaced the installed one")
	}
}

// TestWrongMasterKeyRefused: a keyset does not unwrap under another master
// key, nor under another organization's name.
func TestWrongMasterKeyRefused(t *testing.T) {
	s := seal.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	st, err := s.NewKeyset("org1")
	if err != nil {
		t.Fatal(err)
	}
	other := seal.New(bytes.Repeat([]byte{9}, 32), bytes.Repeat([]byte{2}, 32))
	if err := other.Install(st); !errors.Is(err, seal.ErrUnwrap) {
		t.Fatalf("wrong master key: err = %v, want ErrUnwrap", err)
	}
	moved := *st
	moved.OrgID = "org2"
	if err := s.Install(&moved); !errors.Is(err, seal.ErrUnwrap) {
		t.Fatalf("keyset moved to another org: err = %v, want ErrUnwrap", err)
	}
	if _, err := other.Seal(f1, "x"); !errors.Is(err, seal.ErrNoKeyset) {
		t.Fatalf("Seal without a keyset: %v", err)
	}
}

// TestLoaderPicksUpAnotherProcessRotation: a second Sealer (another server
// process) opens values sealed under a key it has not seen by reloading.
func TestLoaderPicksUpAnotherProcessRotation(t *testing.T) {
	a := seal.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	st, err := a.NewKeyset("org1")
	if err != nil {
		t.Fatal(err)
	}
	stored := st
	b := seal.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	loads := 0
	b.SetLoader(func(ctx context.Context, org string) (*seal.Stored, error) { loads++; return stored, nil }, 0)
	ct, _ := a.Seal(f1, "x")
	if got, err := b.Open(f1, ct); err != nil || got != "x" {
		t.Fatalf("b.Open: %q, %v", got, err)
	}
	rotated, _, err := a.Rotate(st)
	if err != nil {
		t.Fatal(err)
	}
	a.Install(rotated)
	stored = rotated
	ct2, _ := a.Seal(f1, "y")
	if got, err := b.Open(f1, ct2); err != nil || got != "y" {
		t.Fatalf("b.Open after rotation elsewhere: %q, %v", got, err)
	}
	mine, _ := b.Seal(f1, "z")
	if !a.IsCurrent("org1", mine) {
		t.Fatal("b seals with a stale primary after reloading")
	}
	if loads < 2 {
		t.Fatalf("loads = %d", loads)
	}
}

// TestConcurrentUseDuringRotation: sealing and opening from many
// goroutines while a rotated keyset is installed (run with -race).
func TestConcurrentUseDuringRotation(t *testing.T) {
	s := seal.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	st, err := s.NewKeyset("org1")
	if err != nil {
		t.Fatal(err)
	}
	stored := st
	var mu sync.Mutex
	s.SetLoader(func(context.Context, string) (*seal.Stored, error) { mu.Lock(); defer mu.Unlock(); return stored, nil }, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				ct, err := s.Seal(f1, "1234567893")
				if err == nil {
					var got string
					got, err = s.Open(f1, ct)
					if err == nil && got != "1234567893" {
						err = errors.New("wrong plaintext")
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	next, _, err := s.Rotate(st)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	stored = next
	mu.Unlock()
	if err := s.Install(next); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
