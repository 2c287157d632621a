package sqlstore

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestWALSyncer: one fsync covers every commit finished before it
// started, a commit is never reported durable by an fsync that began
// before it, and a closed syncer refuses to wait.
func TestWALSyncer(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "ct.db")
	if err := os.WriteFile(dbPath+"-wal", []byte("frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newWALSyncer(dbPath)
	for range 3 {
		s.committedOne()
	}
	if err := s.wait(3); err != nil {
		t.Fatal(err)
	}
	if s.syncs != 1 || s.synced != 3 {
		t.Fatalf("after wait(3): %d syncs, synced %d; want 1, 3", s.syncs, s.synced)
	}
	if err := s.wait(2); err != nil || s.syncs != 1 {
		t.Fatalf("wait for an already synced commit: %v, %d syncs", err, s.syncs)
	}
	n := s.committedOne()
	if err := s.wait(n); err != nil || s.syncs != 2 || s.synced != 4 {
		t.Fatalf("a commit after the last sync: %v, %d syncs, synced %d", err, s.syncs, s.synced)
	}

	// Many concurrent committers: everyone returns, and fsyncs are shared.
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.wait(s.committedOne()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if s.synced != s.committed || s.syncs > 2+64 {
		t.Fatalf("after 64 concurrent commits: synced %d of %d with %d syncs", s.synced, s.committed, s.syncs)
	}

	s.close()
	if err := s.wait(s.committedOne()); err == nil {
		t.Fatal("a closed syncer reported a commit durable")
	}

	// A WAL file that cannot be opened is an error, not a silent success.
	missing := newWALSyncer(filepath.Join(t.TempDir(), "none.db"))
	if err := missing.wait(missing.committedOne()); err == nil {
		t.Fatal("syncing a missing WAL succeeded")
	}
}
