// Package xtsvfs is an SQLite VFS that encrypts files with AES-XTS in the
// exact on-disk format of github.com/ncruces/go-sqlite3/vfs/xts (the "xts"
// VFS with its default AES construction), but moves runs of whole sectors
// with one read or write call each.
//
// The library's VFS encrypts and writes one 512-byte sector per pwrite
// (and reads one per pread). A 4 KiB database page is then 8 system calls,
// and a WAL frame (a 24-byte header and a page at an offset that is not a
// multiple of 512) is 10 writes and 3 reads. Profiles of the audited read
// path put about 40% of the process's CPU there (docs/benchmarks.md).
// This VFS encrypts the whole sectors of a request into a reusable buffer
// and writes them with one call, reads them with one call and decrypts
// them in place, and only handles the partial first and last sectors the
// way the library does (read, decrypt, patch, encrypt, write, under the
// shared-memory I/O lock). A WAL transaction's frames go out as one
// write at its commit frame (see WriteAt), and a read of whole 16-byte XTS
// blocks needs no sector around it.
//
// Format: 512-byte sectors, sector number = file offset / 512, AES-128,
// -192 or -256 XTS for a 32, 48 or 64-byte key (key, hexkey or textkey URI
// parameter, or the same PRAGMAs), PBKDF2-HMAC-SHA512 with the library's
// pepper for a text key, random keys for temporary files, super journals
// and memory files not encrypted. A database written by either VFS opens
// through the other (TestFormatCompatibility).
//
// Derived from github.com/ncruces/go-sqlite3 v0.37.0, vfs/xts
// (xts.go, aes.go, api.go): Copyright (c) 2023 Nuno Cruces, MIT License.
// The structure of the file wrapper, the key handling and the locking of
// partial sectors follow that code; the run handling is ours.
package xtsvfs

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"
)

// Name is the name this package registers its VFS under; use it as the
// vfs URI parameter (file:/path/db?vfs=credtrack-xts).
const Name = "credtrack-xts"

func init() {
	vfs.Register(Name, Wrap(vfs.Find("")))
}

// Wrap wraps a base VFS to create an encrypting VFS.
func Wrap(base vfs.VFS) vfs.VFS {
	return &xtsVFS{VFS: base}
}

// pepper is the salt of the text-key KDF. It must stay the library's
// default so that a textkey derives the same key through either VFS.
const pepper = "github.com/ncruces/go-sqlite3/vfs/xts"

// kdf derives an XTS key from a secret; an empty secret gets a random key
// (temporary files).
func kdf(text string) []byte {
	if text == "" {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic(err)
		}
		return key
	}
	key, err := pbkdf2.Key(sha512.New, text, []byte(pepper), 10_000, 32)
	if err != nil {
		panic(err)
	}
	return key
}

type xtsVFS struct {
	vfs.VFS
}

func (x *xtsVFS) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	// SQLite calls OpenFilename instead, except for unnamed files.
	if name == "" {
		return x.OpenFilename(nil, flags)
	}
	return nil, flags, sqlite3.CANTOPEN
}

func (x *xtsVFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (file vfs.File, _ vfs.OpenFlag, err error) {
	file, flags, err = vfsutil.WrapOpenFilename(x.VFS, name, flags)

	// Encrypt everything except super journals and memory files.
	if err != nil || flags&(vfs.OPEN_SUPER_JOURNAL|vfs.OPEN_MEMORY) != 0 {
		return file, flags, err
	}

	var cipher *sectorCipher
	var shm vfs.SharedMemory
	if f, ok := vfsutil.UnwrapFile[*xtsFile](name.DatabaseFile()); ok {
		// Journals and WAL files use their database's cipher and lock.
		cipher = f.cipher
		shm = f.shm
	} else {
		if flags&vfs.OPEN_MAIN_DB != 0 {
			shm = vfsutil.WrapSharedMemory(file)
		}
		var key []byte
		if params := name.URIParameters(); name == nil {
			key = kdf("") // Temporary files get a random key.
		} else if t, ok := params["key"]; ok {
			key = []byte(t[0])
		} else if t, ok := params["hexkey"]; ok {
			key, _ = hex.DecodeString(t[0])
		} else if t, ok := params["textkey"]; ok && len(t[0]) > 0 {
			key = kdf(t[0])
		} else if flags&vfs.OPEN_MAIN_DB != 0 {
			// Main databases may have their key specified as a PRAGMA.
			return &xtsFile{File: file, shm: shm, wal: flags&vfs.OPEN_WAL != 0}, flags, nil
		}
		cipher = newCipher(key)
	}

	if cipher == nil {
		file.Close()
		return nil, flags, sqlite3.IOERR_BADKEY
	}
	return &xtsFile{File: file, cipher: cipher, shm: shm, wal: flags&vfs.OPEN_WAL != 0}, flags, nil
}

// sectorSize is the XTS data unit: the library's, which is the smallest
// SQLite page size. Changing it would change the file format.
const sectorSize = 512

// maxRun bounds the buffer of one run write; longer writes are cut into
// runs of this size (a multiple of sectorSize).
const maxRun = 256 << 10

// sectorNum is the XTS tweak of the sector at file offset off: off / 512,
// as in the library.
func sectorNum(off int64) uint64 {
	return uint64(off / sectorSize) // #nosec G115 -- SQLite file offsets are never negative
}

func roundDown(i int64) int64 {
	return i &^ (sectorSize - 1)
}

func roundUp[T int | int64](i T) T {
	return (i + (sectorSize - 1)) &^ (sectorSize - 1)
}

type xtsFile struct {
	vfs.File
	cipher *sectorCipher
	shm    vfs.SharedMemory
	wal    bool   // a WAL file: frame headers are merged with their page
	buf    []byte // write buffer, reused
	rbuf   []byte // read buffer for spans with partial sectors, reused

	// A WAL file's run: plaintext of consecutive writes not yet written
	// (see WriteAt). runCommit is set when the last frame header in the
	// run marks a commit, so the run goes out after that frame's page.
	run       []byte
	runOff    int64
	runCommit bool
	walEnd    int64 // the end of the furthest write since the WAL header was last written
	flushErr  error // a flush failure in a method without an error result
}

// maxWALRun bounds the plaintext a WAL file holds back before writing it.
const maxWALRun = 1 << 20

// buffered reports whether writes are held back (for tests).
func (x *xtsFile) buffered() bool { return len(x.run) > 0 }

func (x *xtsFile) Pragma(name, value string) (string, error) {
	if err := x.flush(); err != nil {
		return "", err
	}
	var key []byte
	switch name {
	case "key":
		key = []byte(value)
	case "hexkey":
		key, _ = hex.DecodeString(value)
	case "textkey":
		if len(value) > 0 {
			key = kdf(value)
		}
	default:
		return vfsutil.WrapPragma(x.File, name, value)
	}

	if x.cipher = newCipher(key); x.cipher != nil {
		return "ok", nil
	}
	return "", sqlite3.IOERR_BADKEY
}

// errShort reports a short read or write that the base file did not
// explain with an error.
var errShort = errors.New("xtsvfs: short read or write")

// walFrameHeader is the size of a WAL frame header. SQLite writes each
// frame as two calls, the header and then the page right after it; the
// header write is held back and merged with the page write (see WriteAt).
const walFrameHeader = 24

// blockSize is the AES block: XTS encrypts each 16-byte block of a sector
// independently (no ciphertext stealing: sectors are whole blocks).
const blockSize = 16

func (x *xtsFile) ReadAt(p []byte, off int64) (n int, err error) {
	if x.cipher == nil {
		// Only OPEN_MAIN_DB can have a missing key.
		if off == 0 && len(p) == 100 {
			// SQLite is trying to read the header of a database file.
			// Pretend the file is empty so the key may be specified as a PRAGMA.
			return 0, io.EOF
		}
		return 0, sqlite3.CANTOPEN
	}
	if err := x.flush(); err != nil {
		return 0, err
	}

	end := off + int64(len(p))
	lo, hi := roundDown(off), roundUp(end)
	if off%blockSize == 0 && end%blockSize == 0 {
		// Whole 16-byte XTS blocks (whole sectors, or a WAL page that
		// starts on a block boundary): one read into p, decrypted in
		// place block by block. SQLite never reads what another
		// connection is writing, and a writer that rewrites a partial
		// sector rewrites the blocks it does not change with the same
		// bytes (XTS is deterministic per block), so these need no lock
		// (the library takes none for whole sectors either).
		m, err := x.File.ReadAt(p, off)
		valid := m
		if m != len(p) {
			// As in the library, a short read counts only whole sectors.
			valid = int(max(roundDown(off+int64(m))-off, 0))
		}
		for pos := off; pos < off+int64(valid); {
			sec := roundDown(pos)
			to := min(sec+sectorSize, off+int64(valid))
			b := p[pos-off : to-off]
			if pos == sec && to == sec+sectorSize {
				x.cipher.Decrypt(b, b, sectorNum(sec))
			} else {
				x.cipher.DecryptBlocks(b, sectorNum(sec), int(pos-sec))
			}
			pos = to
		}
		if m != len(p) {
			if err == nil {
				err = errShort
			}
			return valid, err
		}
		return m, nil
	}

	// Partial first or last sectors may be concurrently rewritten by
	// another connection (the bytes of them that this read does not want
	// may belong to a frame being written): hold the shared I/O lock of
	// each, then read the whole span with one call into the read buffer.
	// Holding two shared locks cannot deadlock with a writer, because a
	// writer (this VFS's or the library's) holds at most one I/O lock at
	// a time and waits for nothing while holding it.
	headPartial := off > lo || end < lo+sectorSize
	tailSec := roundDown(end)
	tailPartial := end > tailSec && tailSec != lo
	if headPartial {
		if err := x.ioLock(vfs.LOCK_SHARED, lo); err != nil {
			return 0, err
		}
		defer x.ioLock(vfs.LOCK_NONE, lo)
	}
	if tailPartial {
		if err := x.ioLock(vfs.LOCK_SHARED, tailSec); err != nil {
			return 0, err
		}
		defer x.ioLock(vfs.LOCK_NONE, tailSec)
	}
	if int64(cap(x.rbuf)) < hi-lo {
		x.rbuf = make([]byte, hi-lo)
	}
	buf := x.rbuf[:hi-lo]
	m, err := x.File.ReadAt(buf, lo)
	whole := m &^ (sectorSize - 1)
	for i := 0; i < whole; i += sectorSize {
		s := buf[i : i+sectorSize]
		x.cipher.Decrypt(s, s, sectorNum(lo+int64(i)))
	}
	if int64(whole) <= off-lo {
		if err == nil {
			err = errShort
		}
		return 0, err
	}
	n = copy(p, buf[off-lo:whole])
	if n != len(p) {
		if err == nil {
			err = errShort
		}
		return n, err
	}
	return n, nil
}

func (x *xtsFile) ioLock(lock vfs.LockLevel, off int64) error {
	if x.shm == nil {
		return nil
	}
	return x.shm.IOLock(lock, off)
}

// WriteAt encrypts and writes p at off.
//
// A WAL file holds back consecutive writes and writes them as one run:
// SQLite writes a transaction's frames one after another, each as a
// 24-byte header and then its page, and each write that starts or ends
// inside a sector costs a read of that sector, an I/O lock and a write.
// Held back, a commit of n frames costs one of each instead of n. The
// run is written right after the page of a frame whose header marks a
// commit (so the commit is in the file before SQLite publishes it in
// the WAL-index for other connections), when it reaches maxWALRun, when
// a write does not follow it, and before every other method on the file
// (read, sync, size, truncate, lock, close…), so nothing can observe the
// file without it. Frames that are not a commit's are read by no other
// connection until their commit is published, and after a crash SQLite
// keeps only frames up to the last complete commit, so holding them
// back changes nothing anyone can see.
func (x *xtsFile) WriteAt(p []byte, off int64) (n int, err error) {
	if x.cipher == nil {
		return 0, sqlite3.READONLY
	}
	if !x.wal {
		if err := x.write(p, off); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if off == 0 {
		x.walEnd = 0 // the WAL header: SQLite (re)starts the log
	}
	frontier := off >= x.walEnd
	x.walEnd = max(x.walEnd, off+int64(len(p)))
	if len(x.run) > 0 && off != x.runOff+int64(len(x.run)) {
		if err := x.flush(); err != nil {
			return 0, err
		}
	}
	if !frontier && len(x.run) == 0 {
		// Behind the end of the log: a page rewritten in place or a
		// header whose checksum SQLite recomputes, possibly the last
		// write of a commit. Nothing follows it that a run could wait for.
		if err := x.write(p, off); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if len(x.run) == 0 {
		x.runOff, x.runCommit = off, false
	}
	x.run = append(x.run, p...)
	switch {
	case len(p) == walFrameHeader:
		// A frame header: bytes 4-7 hold the database size in pages
		// after a commit, and zero in every other frame.
		x.runCommit = p[4]|p[5]|p[6]|p[7] != 0
	case x.runCommit || len(x.run) >= maxWALRun:
		if err := x.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush writes a held-back WAL run, and returns the error of an earlier
// flush from a method that could not return one.
func (x *xtsFile) flush() error {
	if len(x.run) > 0 {
		run, off := x.run, x.runOff
		x.run, x.runCommit = x.run[:0], false
		if err := x.write(run, off); err != nil {
			return err
		}
	}
	err := x.flushErr
	x.flushErr = nil
	return err
}

// flushLater is flush for methods that cannot return an error.
func (x *xtsFile) flushLater() {
	if err := x.flush(); err != nil {
		x.flushErr = err
	}
}

// write encrypts p into the run buffer, sector by sector, and writes it
// at off in one call per maxRun bytes. A partial first or last sector is
// read and decrypted first (we're the single writer, so that read needs
// no lock) and patched. Writing a partial sector that held data rewrites
// bytes a concurrent partial read may be reading, so it happens under
// that sector's exclusive I/O lock, as in the library; a sector that lay
// past the end of the file held nothing anyone could read, and needs no
// lock. At most one lock is held at a time: when both ends need one, the
// last sector is written by a second call.
func (x *xtsFile) write(p []byte, off int64) error {
	end := off + int64(len(p))
	for off < end {
		lo := roundDown(off)
		hi := min(roundUp(end), lo+maxRun)
		chunkEnd := min(end, hi)
		if int64(cap(x.buf)) < hi-lo {
			x.buf = make([]byte, hi-lo)
		}
		buf := x.buf[:hi-lo]

		var lockHead, lockTail bool
		var err error
		if off > lo || chunkEnd < lo+sectorSize {
			if lockHead, err = x.loadSector(buf[:sectorSize], lo); err != nil {
				return err
			}
		}
		tailSec := roundDown(chunkEnd)
		if chunkEnd > tailSec && tailSec != lo {
			if lockTail, err = x.loadSector(buf[tailSec-lo:], tailSec); err != nil {
				return err
			}
		} else {
			tailSec = hi
		}
		t := copy(buf[off-lo:], p[:chunkEnd-off])
		for i := 0; i < len(buf); i += sectorSize {
			s := buf[i : i+sectorSize]
			x.cipher.Encrypt(s, s, sectorNum(lo+int64(i)))
		}

		switch {
		case lockHead && lockTail:
			if err := x.writeLocked(buf[:tailSec-lo], lo, lo); err != nil {
				return err
			}
			if err := x.writeLocked(buf[tailSec-lo:], tailSec, tailSec); err != nil {
				return err
			}
		case lockHead:
			err = x.writeLocked(buf, lo, lo)
		case lockTail:
			err = x.writeLocked(buf, lo, tailSec)
		default:
			err = x.writeLocked(buf, lo, -1)
		}
		if err != nil {
			return err
		}
		p = p[t:]
		off = chunkEnd
	}
	return nil
}

// loadSector reads and decrypts the sector at off into s for a partial
// write, and reports whether it held data. Past the end of the file, or
// when the last sector was only partly written (it can't be decrypted and
// is as good as corrupt), s is zeroed, as in the library.
func (x *xtsFile) loadSector(s []byte, off int64) (existed bool, err error) {
	s = s[:sectorSize]
	m, err := x.File.ReadAt(s, off)
	if m == sectorSize {
		x.cipher.Decrypt(s, s, sectorNum(off))
		return true, nil
	}
	if err != io.EOF {
		if err == nil {
			err = errShort
		}
		return false, err
	}
	clear(s)
	return m > 0, nil
}

// writeLocked writes buf at off, holding the exclusive I/O lock of the
// sector at lock (none if lock < 0).
func (x *xtsFile) writeLocked(buf []byte, off, lock int64) error {
	if lock >= 0 && x.shm != nil {
		if err := x.shm.IOLock(vfs.LOCK_EXCLUSIVE, lock); err != nil {
			return err
		}
		defer x.shm.IOLock(vfs.LOCK_NONE, lock)
	}
	m, err := x.File.WriteAt(buf, off)
	if m != len(buf) && err == nil {
		err = errShort
	}
	return err
}

func (x *xtsFile) DeviceCharacteristics() vfs.DeviceCharacteristic {
	return x.File.DeviceCharacteristics() & (0 |
		// These flags are safe:
		vfs.IOCAP_ATOMIC512 |
		vfs.IOCAP_IMMUTABLE |
		vfs.IOCAP_SEQUENTIAL |
		vfs.IOCAP_SUBPAGE_READ |
		vfs.IOCAP_BATCH_ATOMIC |
		vfs.IOCAP_UNDELETABLE_WHEN_OPEN)
}

func (x *xtsFile) SectorSize() int {
	return lcm(x.File.SectorSize(), sectorSize)
}

func lcm(m, n int) int {
	if m < 0 {
		m = -m
	}
	if n < 0 {
		n = -n
	}
	if m == 0 || n == 0 {
		return 0
	}
	a, b := m, n
	for b != 0 {
		a, b = b, a%b
	}
	return n * (m / a)
}

// Every method that reads, sizes, syncs, locks or closes the file first
// writes a held-back WAL frame header (flush).

func (x *xtsFile) Truncate(size int64) error {
	if err := x.flush(); err != nil {
		return err
	}
	return x.File.Truncate(roundUp(size))
}

func (x *xtsFile) ChunkSize(size int) {
	x.flushLater()
	vfsutil.WrapChunkSize(x.File, roundUp(size))
}

func (x *xtsFile) SizeHint(size int64) error {
	if err := x.flush(); err != nil {
		return err
	}
	return vfsutil.WrapSizeHint(x.File, roundUp(size))
}

func (x *xtsFile) Close() error {
	err := x.flush()
	return errors.Join(err, x.File.Close())
}

func (x *xtsFile) Sync(flags vfs.SyncFlag) error {
	if err := x.flush(); err != nil {
		return err
	}
	return x.File.Sync(flags)
}

func (x *xtsFile) Size() (int64, error) {
	if err := x.flush(); err != nil {
		return 0, err
	}
	return x.File.Size()
}

func (x *xtsFile) Lock(lock vfs.LockLevel) error {
	if err := x.flush(); err != nil {
		return err
	}
	return x.File.Lock(lock)
}

func (x *xtsFile) Unlock(lock vfs.LockLevel) error {
	if err := x.flush(); err != nil {
		return err
	}
	return x.File.Unlock(lock)
}

func (x *xtsFile) CheckReservedLock() (bool, error) {
	if err := x.flush(); err != nil {
		return false, err
	}
	return x.File.CheckReservedLock()
}

// The optional methods are passed to the base file.

func (x *xtsFile) Unwrap() vfs.File {
	return x.File
}

func (x *xtsFile) SharedMemory() vfs.SharedMemory {
	return vfsutil.WrapSharedMemory(x.File)
}

func (x *xtsFile) LockState() vfs.LockLevel {
	return vfsutil.WrapLockState(x.File)
}

func (x *xtsFile) PersistentWAL() bool {
	return vfsutil.WrapPersistWAL(x.File)
}

func (x *xtsFile) SetPersistentWAL(keepWAL bool) {
	vfsutil.WrapSetPersistWAL(x.File, keepWAL)
}

func (x *xtsFile) HasMoved() (bool, error) {
	if err := x.flush(); err != nil {
		return false, err
	}
	return vfsutil.WrapHasMoved(x.File)
}

func (x *xtsFile) Overwrite() error {
	if err := x.flush(); err != nil {
		return err
	}
	return vfsutil.WrapOverwrite(x.File)
}

func (x *xtsFile) SyncSuper(super string) error {
	if err := x.flush(); err != nil {
		return err
	}
	return vfsutil.WrapSyncSuper(x.File, super)
}

func (x *xtsFile) CommitPhaseTwo() error {
	if err := x.flush(); err != nil {
		return err
	}
	return vfsutil.WrapCommitPhaseTwo(x.File)
}

func (x *xtsFile) BeginAtomicWrite() error {
	if err := x.flush(); err != nil {
		return err
	}
	return vfsutil.WrapBeginAtomicWrite(x.File)
}

func (x *xtsFile) CommitAtomicWrite() error {
	if err := x.flush(); err != nil {
		return err
	}
	return vfsutil.WrapCommitAtomicWrite(x.File)
}

func (x *xtsFile) RollbackAtomicWrite() error {
	if err := x.flush(); err != nil {
		return err
	}
	return vfsutil.WrapRollbackAtomicWrite(x.File)
}

func (x *xtsFile) CheckpointStart() {
	x.flushLater()
	vfsutil.WrapCheckpointStart(x.File)
}

func (x *xtsFile) CheckpointDone() {
	x.flushLater()
	vfsutil.WrapCheckpointDone(x.File)
}

func (x *xtsFile) BusyHandler(handler func() bool) {
	vfsutil.WrapBusyHandler(x.File, handler)
}
