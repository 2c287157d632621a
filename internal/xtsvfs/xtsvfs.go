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
// shared-memory I/O lock).
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
	"crypto/aes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"

	"golang.org/x/crypto/xts"

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

// newCipher returns the AES-XTS cipher for key, or nil when the key has
// the wrong length.
func newCipher(key []byte) *xts.Cipher {
	c, err := xts.NewCipher(aes.NewCipher, key)
	if err != nil {
		return nil
	}
	return c
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

	var cipher *xts.Cipher
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
			return &xtsFile{File: file, shm: shm}, flags, nil
		}
		cipher = newCipher(key)
	}

	if cipher == nil {
		file.Close()
		return nil, flags, sqlite3.IOERR_BADKEY
	}
	return &xtsFile{File: file, cipher: cipher, shm: shm}, flags, nil
}

// sectorSize is the XTS data unit: the library's, which is the smallest
// SQLite page size. Changing it would change the file format.
const sectorSize = 512

// maxRun bounds the buffer of one run write; longer writes are cut into
// runs of this size (a multiple of sectorSize).
const maxRun = 64 << 10

func roundDown(i int64) int64 {
	return i &^ (sectorSize - 1)
}

func roundUp[T int | int64](i T) T {
	return (i + (sectorSize - 1)) &^ (sectorSize - 1)
}

type xtsFile struct {
	vfs.File
	cipher *xts.Cipher
	shm    vfs.SharedMemory
	sector [sectorSize]byte
	buf    []byte // run buffer of WriteAt, reused
}

func (x *xtsFile) Pragma(name, value string) (string, error) {
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

	end := off + int64(len(p))
	for pos := off; pos < end; {
		sec := roundDown(pos)
		if pos > sec || end < sec+sectorSize {
			// A sector only partially covered by this read may be
			// concurrently rewritten by another connection: read it
			// alone, under the shared I/O lock, as the library does.
			m, err := x.readSector(sec, true)
			if m != sectorSize {
				return n, err
			}
			x.cipher.Decrypt(x.sector[:], x.sector[:], uint64(sec/sectorSize))
			t := copy(p[n:], x.sector[pos-sec:])
			n += t
			pos += int64(t)
			continue
		}
		// A run of whole sectors: one read into p, decrypted in place.
		// SQLite never reads what another connection is writing, so
		// whole sectors need no lock (the library takes none either).
		runEnd := roundDown(end)
		dst := p[n : n+int(runEnd-pos)]
		m, err := x.File.ReadAt(dst, pos)
		whole := m &^ (sectorSize - 1)
		for i := 0; i < whole; i += sectorSize {
			s := dst[i : i+sectorSize]
			x.cipher.Decrypt(s, s, uint64((pos+int64(i))/sectorSize))
		}
		n += whole
		if m != len(dst) {
			if err == nil {
				err = errShort
			}
			return n, err
		}
		pos = runEnd
	}
	return n, nil
}

func (x *xtsFile) WriteAt(p []byte, off int64) (n int, err error) {
	if x.cipher == nil {
		return 0, sqlite3.READONLY
	}

	end := off + int64(len(p))
	for pos := off; pos < end; {
		sec := roundDown(pos)
		if pos > sec || end < sec+sectorSize {
			t, err := x.writePartial(p[n:], pos, sec)
			if err != nil {
				return n, err
			}
			n += t
			pos += int64(t)
			continue
		}
		// A run of whole sectors: encrypted into the run buffer and
		// written with one call.
		size := min(roundDown(end)-pos, maxRun)
		if int64(cap(x.buf)) < size {
			x.buf = make([]byte, size)
		}
		buf := x.buf[:size]
		src := p[n : n+int(size)]
		for i := 0; i < len(buf); i += sectorSize {
			x.cipher.Encrypt(buf[i:i+sectorSize], src[i:i+sectorSize], uint64((pos+int64(i))/sectorSize))
		}
		m, err := x.File.WriteAt(buf, pos)
		if m != len(buf) {
			if err == nil {
				err = errShort
			}
			return n + m&^(sectorSize-1), err
		}
		n += len(buf)
		pos += size
	}
	return n, nil
}

// writePartial writes the part of p that falls in the sector at sec,
// starting at pos, as the library does: read the sector, decrypt, patch,
// encrypt, write under the exclusive I/O lock. It returns how many bytes
// of p it wrote.
func (x *xtsFile) writePartial(p []byte, pos, sec int64) (int, error) {
	sectorNum := uint64(sec / sectorSize)
	// We're the single writer, so our read needs no locking.
	m, err := x.readSector(sec, false)
	if m == sectorSize {
		x.cipher.Decrypt(x.sector[:], x.sector[:], sectorNum)
	} else if err != io.EOF {
		if err == nil {
			err = errShort
		}
		return 0, err
	} else {
		// Writing past the EOF: either a new sector, or a final sector
		// that was only partly written, which can't be decrypted and is
		// as good as corrupt. Either way, zero pad to the sector size.
		clear(x.sector[:])
	}
	t := copy(x.sector[pos-sec:], p)
	x.cipher.Encrypt(x.sector[:], x.sector[:], sectorNum)
	m, err = x.writeSector(sec, true)
	if m != sectorSize {
		if err == nil {
			err = errShort
		}
		return 0, err
	}
	return t, nil
}

func (x *xtsFile) readSector(off int64, partial bool) (int, error) {
	if partial && x.shm != nil {
		if err := x.shm.IOLock(vfs.LOCK_SHARED, off); err != nil {
			return 0, err
		}
		defer x.shm.IOLock(vfs.LOCK_NONE, off)
	}
	return x.File.ReadAt(x.sector[:], off)
}

func (x *xtsFile) writeSector(off int64, partial bool) (int, error) {
	if partial && x.shm != nil {
		if err := x.shm.IOLock(vfs.LOCK_EXCLUSIVE, off); err != nil {
			return 0, err
		}
		defer x.shm.IOLock(vfs.LOCK_NONE, off)
	}
	return x.File.WriteAt(x.sector[:], off)
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

func (x *xtsFile) Truncate(size int64) error {
	return x.File.Truncate(roundUp(size))
}

func (x *xtsFile) ChunkSize(size int) {
	vfsutil.WrapChunkSize(x.File, roundUp(size))
}

func (x *xtsFile) SizeHint(size int64) error {
	return vfsutil.WrapSizeHint(x.File, roundUp(size))
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
	return vfsutil.WrapHasMoved(x.File)
}

func (x *xtsFile) Overwrite() error {
	return vfsutil.WrapOverwrite(x.File)
}

func (x *xtsFile) SyncSuper(super string) error {
	return vfsutil.WrapSyncSuper(x.File, super)
}

func (x *xtsFile) CommitPhaseTwo() error {
	return vfsutil.WrapCommitPhaseTwo(x.File)
}

func (x *xtsFile) BeginAtomicWrite() error {
	return vfsutil.WrapBeginAtomicWrite(x.File)
}

func (x *xtsFile) CommitAtomicWrite() error {
	return vfsutil.WrapCommitAtomicWrite(x.File)
}

func (x *xtsFile) RollbackAtomicWrite() error {
	return vfsutil.WrapRollbackAtomicWrite(x.File)
}

func (x *xtsFile) CheckpointStart() {
	vfsutil.WrapCheckpointStart(x.File)
}

func (x *xtsFile) CheckpointDone() {
	vfsutil.WrapCheckpointDone(x.File)
}

func (x *xtsFile) BusyHandler(handler func() bool) {
	vfsutil.WrapBusyHandler(x.File, handler)
}
