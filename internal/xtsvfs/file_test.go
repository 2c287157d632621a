package xtsvfs

import (
	"bytes"
	"crypto/aes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/xts"

	"github.com/ncruces/go-sqlite3/vfs"
)

// osFile is the base file of the file-level tests: a plain *os.File with
// the few vfs.File methods the wrapper calls.
type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
func (osFile) Lock(vfs.LockLevel) error                        { return nil }
func (osFile) Unlock(vfs.LockLevel) error                      { return nil }
func (osFile) CheckReservedLock() (bool, error)                { return false, nil }
func (osFile) SectorSize() int                                 { return 0 }
func (osFile) DeviceCharacteristics() vfs.DeviceCharacteristic { return 0 }
func (f osFile) Sync(vfs.SyncFlag) error                       { return nil }

func testKey() []byte {
	key := make([]byte, 64)
	for i := range key {
		key[i] = byte(i*7 + 1)
	}
	return key
}

func newOSFile(t testing.TB, name string) osFile {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return osFile{f}
}

// refFile is the library's algorithm (github.com/ncruces/go-sqlite3
// v0.37.0 vfs/xts, MIT License, Copyright (c) 2023 Nuno Cruces): one
// sector per read and write call. The tests run the same operations
// through it and through xtsFile and compare results and raw bytes.
type refFile struct {
	osFile
	cipher *xts.Cipher
	sector [sectorSize]byte
}

func (x *refFile) ReadAt(p []byte, off int64) (n int, err error) {
	min := roundDown(off)
	max := roundUp(off + int64(len(p)))
	for ; min < max; min += sectorSize {
		m, err := x.osFile.ReadAt(x.sector[:], min)
		if m != sectorSize {
			return n, err
		}
		data := x.sector[:]
		x.cipher.Decrypt(data, x.sector[:], uint64(min/sectorSize))
		if off > min {
			data = data[off-min:]
		}
		n += copy(p[n:], data)
	}
	return n, nil
}

func (x *refFile) WriteAt(p []byte, off int64) (n int, err error) {
	min := roundDown(off)
	max := roundUp(off + int64(len(p)))
	for ; min < max; min += sectorSize {
		data := x.sector[:]
		sectorNum := uint64(min / sectorSize)
		if off > min || off+int64(len(p)) < min+sectorSize {
			m, err := x.osFile.ReadAt(x.sector[:], min)
			if m == sectorSize {
				x.cipher.Decrypt(data, x.sector[:], sectorNum)
			} else if err != io.EOF {
				return n, err
			} else {
				clear(data)
			}
			if off > min {
				data = data[off-min:]
			}
		}
		t := copy(data, p[n:])
		x.cipher.Encrypt(x.sector[:], x.sector[:], sectorNum)
		m, err := x.osFile.WriteAt(x.sector[:], min)
		if m != sectorSize {
			return n, err
		}
		n += t
	}
	return n, nil
}

// op is one read or write of the property tests.
type op struct {
	write bool
	off   int64
	n     int
}

// runOps applies ops to the library's algorithm, to xtsFile and to a
// plaintext reference, and fails on any difference: read results (bytes,
// count, EOF), and the raw encrypted files after every write.
// With wal, xtsFile holds back 24-byte writes (WAL frame headers) until
// the next call; the raw files are compared whenever nothing is held back,
// and at the end after a Sync.
func runOps(t *testing.T, ops []op, rnd *rand.Rand, wal bool) {
	t.Helper()
	key := testKey()
	c, err := xts.NewCipher(aes.NewCipher, key)
	if err != nil {
		t.Fatal(err)
	}
	ref := &refFile{osFile: newOSFile(t, "ref"), cipher: c}
	ours := &xtsFile{File: newOSFile(t, "ours"), cipher: newCipher(key), wal: wal}
	sameFiles := func(i int, o op) {
		a, _ := os.ReadFile(ref.Name())
		b, _ := os.ReadFile(ours.File.(osFile).Name())
		if !bytes.Equal(a, b) {
			t.Fatalf("op %d write(%d, %d): the encrypted files differ", i, o.off, o.n)
		}
	}
	defer func() {
		if t.Failed() {
			return
		}
		if err := ours.Sync(0); err != nil {
			t.Fatal(err)
		}
		sameFiles(len(ops), op{})
	}()
	var plain []byte
	for i, o := range ops {
		if o.write {
			// SQLite never leaves a hole of whole sectors between the end
			// of a file and a write; keep writes within or at the end.
			o.off = min(o.off, int64(len(plain)))
			p := make([]byte, o.n)
			for j := range p {
				p[j] = byte(rnd.Uint32())
			}
			n1, err1 := ref.WriteAt(p, o.off)
			n2, err2 := ours.WriteAt(p, o.off)
			if n1 != n2 || (err1 == nil) != (err2 == nil) || n2 != len(p) {
				t.Fatalf("op %d write(%d, %d): library %d %v, ours %d %v", i, o.off, o.n, n1, err1, n2, err2)
			}
			if end := roundUp(int(o.off) + o.n); end > len(plain) {
				// The file grows by whole sectors; what the write does
				// not cover of its last sector reads as zeros.
				plain = append(plain, make([]byte, end-len(plain))...)
			}
			copy(plain[o.off:], p)
			if !ours.buffered() {
				sameFiles(i, o)
			}
			continue
		}
		p1, p2 := make([]byte, o.n), make([]byte, o.n)
		n1, err1 := ref.ReadAt(p1, o.off)
		n2, err2 := ours.ReadAt(p2, o.off)
		if n1 != n2 || !errors.Is(err1, io.EOF) != !errors.Is(err2, io.EOF) || (err1 == nil) != (err2 == nil) {
			t.Fatalf("op %d read(%d, %d): library %d %v, ours %d %v", i, o.off, o.n, n1, err1, n2, err2)
		}
		if !bytes.Equal(p1[:n1], p2[:n2]) {
			t.Fatalf("op %d read(%d, %d): the bytes read differ from the library's", i, o.off, o.n)
		}
		// Against the plaintext: a complete read returns exactly it.
		if int(o.off)+o.n <= len(plain) {
			if n2 != o.n || !bytes.Equal(p2, plain[o.off:int(o.off)+o.n]) {
				t.Fatalf("op %d read(%d, %d): %d bytes, not the plaintext written", i, o.off, o.n, n2)
			}
		}
	}
}

// edges are the offsets and lengths around sector boundaries.
var edges = []int{0, 1, 16, 23, 24, 32, 496, 511, 512, 513, 528, 1023, 1024, 1025, 4095, 4096, 4097, 4112, 4120, 4608, 8192 + 24}

func TestEveryEdge(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var ops []op
	// Fill 20 KiB first so that reads and overwrites land inside the file.
	ops = append(ops, op{write: true, off: 0, n: 20 << 10})
	for _, off := range edges {
		for _, n := range edges {
			if n == 0 {
				continue
			}
			ops = append(ops, op{true, int64(off), n}, op{false, int64(off), n})
			ops = append(ops, op{false, int64(off) + 512, n}, op{false, int64(off) + 7, n})
		}
	}
	runOps(t, ops, rnd, false)
	runOps(t, ops, rand.New(rand.NewPCG(1, 2)), true)
}

func TestRandomOps(t *testing.T) {
	for seed := range uint64(20) {
		rnd := rand.New(rand.NewPCG(seed, 99))
		ops := make([]op, 300)
		for i := range ops {
			ops[i] = op{write: rnd.IntN(2) == 0, off: int64(rnd.IntN(40 << 10)), n: 1 + rnd.IntN(3*sectorSize+700)}
			switch rnd.IntN(5) {
			case 0:
				ops[i].n = 1 + rnd.IntN(70<<10) // longer than one run buffer
			case 1:
				ops[i].n = walFrameHeader // held back in WAL files
			case 2:
				// Whole 16-byte blocks, not whole sectors.
				ops[i].off &^= blockSize - 1
				ops[i].n = blockSize * (1 + rnd.IntN(300))
			}
		}
		runOps(t, ops, rnd, seed%2 == 1)
	}
}

// TestWALFrames writes what SQLite writes to a WAL (a 32-byte header,
// then 24-byte frame headers each followed by a 4 KiB page) and reads the
// pages back as readers do.
func TestWALFrames(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 7))
	ops := []op{{true, 0, 32}}
	for i := range 20 {
		frame := 32 + int64(i)*(24+4096)
		ops = append(ops, op{true, frame, 24}, op{true, frame + 24, 4096})
	}
	for i := range 20 {
		frame := 32 + int64(i)*(24+4096)
		ops = append(ops, op{false, frame, 24}, op{false, frame + 24, 4096})
	}
	// Rewrite frames from the start, as after a WAL restart, and read a
	// whole frame, as recovery does.
	for i := range 5 {
		frame := 32 + int64(i)*(24+4096)
		ops = append(ops, op{true, frame, 24}, op{true, frame + 24, 4096}, op{false, frame, 24 + 4096})
	}
	runOps(t, ops, rnd, false)
	runOps(t, ops, rand.New(rand.NewPCG(7, 7)), true)
}

// FuzzReadWrite drives runOps with operations decoded from the input.
func FuzzReadWrite(f *testing.F) {
	f.Add([]byte{0, 0, 0, 32, 1, 1, 0, 0, 16, 0, 2, 0, 0, 24, 0})
	f.Add(bytes.Repeat([]byte{1, 0xff, 1, 0x10, 2}, 10))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ops []op
		for len(data) >= 5 {
			off := int64(binary.BigEndian.Uint16(data[1:3]))
			n := 1 + int(binary.BigEndian.Uint16(data[3:5]))%(9*sectorSize)
			ops = append(ops, op{write: data[0]&1 == 1, off: off, n: n})
			data = data[5:]
		}
		runOps(t, ops, rand.New(rand.NewPCG(uint64(len(ops)), 1)), len(ops)%2 == 1)
	})
}

// TestCipherIsTheLibrarys checks the sector encryption against
// golang.org/x/crypto/xts directly: sector k of the file is XTS(key)
// encryption of the plaintext with tweak k.
func TestCipherIsTheLibrarys(t *testing.T) {
	key := testKey()
	f := &xtsFile{File: newOSFile(t, "f"), cipher: newCipher(key)}
	plain := make([]byte, 5*sectorSize)
	for i := range plain {
		plain[i] = byte(i * 31)
	}
	if _, err := f.WriteAt(plain, 0); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(f.File.(osFile).Name())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := xts.NewCipher(aes.NewCipher, key)
	want := make([]byte, len(plain))
	for s := 0; s < len(plain); s += sectorSize {
		c.Encrypt(want[s:s+sectorSize], plain[s:s+sectorSize], uint64(s/sectorSize))
	}
	if !bytes.Equal(raw, want) {
		t.Fatal("the file is not AES-XTS of the plaintext with sector-number tweaks")
	}
	if bytes.Contains(raw, plain[:64]) {
		t.Fatal("plaintext on disk")
	}
}

func TestSectorCipherMatchesXTS(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{32, 48, 64} {
		key := make([]byte, size)
		for i := range key {
			key[i] = byte(rnd.Uint32())
		}
		ref, err := xts.NewCipher(aes.NewCipher, key)
		if err != nil {
			t.Fatal(err)
		}
		c := newCipher(key)
		for _, num := range []uint64{0, 1, 2, 255, 1 << 20, 1<<63 + 5, ^uint64(0)} {
			plain := make([]byte, sectorSize)
			for i := range plain {
				plain[i] = byte(rnd.Uint32())
			}
			want, got := make([]byte, sectorSize), make([]byte, sectorSize)
			ref.Encrypt(want, plain, num)
			c.Encrypt(got, plain, num)
			if !bytes.Equal(got, want) {
				t.Fatalf("key %d bytes, sector %d: ciphertext differs from x/crypto/xts", size, num)
			}
			c.Decrypt(got, got, num)
			if !bytes.Equal(got, plain) {
				t.Fatalf("key %d bytes, sector %d: decryption does not invert", size, num)
			}
		}
	}
	for _, bad := range []int{0, 16, 31, 33, 65} {
		if newCipher(make([]byte, bad)) != nil {
			t.Errorf("a %d-byte key was accepted", bad)
		}
	}
}

func BenchmarkEncryptSector(b *testing.B) {
	key := testKey()
	ref, _ := xts.NewCipher(aes.NewCipher, key)
	c := newCipher(key)
	buf := make([]byte, sectorSize)
	b.Run("x/crypto/xts", func(b *testing.B) {
		b.SetBytes(sectorSize)
		for i := 0; b.Loop(); i++ {
			ref.Encrypt(buf, buf, uint64(i))
		}
	})
	b.Run("sectorCipher", func(b *testing.B) {
		b.SetBytes(sectorSize)
		for i := 0; b.Loop(); i++ {
			c.Encrypt(buf, buf, uint64(i))
		}
	})
}
