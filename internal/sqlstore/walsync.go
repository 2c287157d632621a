package sqlstore

import (
	"os"
	"sync"

	"credtrack"
)

// walSyncer makes SQLite commits durable with one fsync of the WAL file
// shared by every commit made before it started, off the writer
// connection.
//
// Why: with synchronous=FULL SQLite fsyncs the WAL inside each COMMIT,
// on the single writer connection, so nothing else can be written while
// the disk flushes; concurrent audited reads then wait for one flush after
// another. With --sqlite-synchronous full the store instead runs the
// connections at NORMAL (the WAL is written at commit, synced at
// checkpoints) and, after each commit, waits here until an fsync that
// began after the commit has finished. Callers still return only once
// their transaction is on disk, exactly as with FULL, but the writer
// goes on with the next transaction while the previous ones flush, and
// one flush covers every commit that finished before it started
// (fsync flushes the file, whichever descriptor wrote it).
type walSyncer struct {
	path string

	mu        sync.Mutex
	cond      *sync.Cond
	f         *os.File
	committed uint64 // commits finished so far
	synced    uint64 // commits known to be on disk
	syncing   bool
	closed    bool
	syncs     uint64 // fsyncs done, for tests and curiosity
}

func newWALSyncer(dbPath string) *walSyncer {
	s := &walSyncer{path: dbPath + "-wal"}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// committedOne records a finished commit and returns its number, to pass
// to wait. The writer connection calls it right after COMMIT returns.
func (s *walSyncer) committedOne() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed++
	return s.committed
}

// wait returns once commit n is on disk: it either starts an fsync that
// covers every commit finished so far, or waits for the one in flight and
// then, if that began before commit n, for the next.
func (s *walSyncer) wait(n uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.synced < n {
		if s.syncing {
			s.cond.Wait()
			continue
		}
		if s.closed {
			return credtrack.Errorf(credtrack.EUNAVAILABLE, "the store is closing")
		}
		s.syncing = true
		target := s.committed
		s.mu.Unlock()
		err := s.sync()
		s.mu.Lock()
		s.syncing = false
		if err == nil {
			s.syncs++
			s.synced = max(s.synced, target)
		}
		if s.closed && s.f != nil {
			s.f.Close()
			s.f = nil
		}
		s.cond.Broadcast()
		if err != nil {
			return err
		}
	}
	return nil
}

// sync fsyncs the WAL file, opening it on first use. The file exists from
// the first write of the database in WAL mode, and SQLite keeps the same
// file (it rewinds it rather than recreating it) while connections are
// open; the store closes the syncer before its connections.
func (s *walSyncer) sync() error {
	if s.f == nil {
		f, err := os.Open(s.path) // #nosec G304 -- the store's own WAL file, next to the database it opened
		if err != nil {
			return err
		}
		s.f = f
	}
	return dataSync(s.f)
}

func (s *walSyncer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.f != nil && !s.syncing {
		s.f.Close()
		s.f = nil
	}
	s.cond.Broadcast()
}
