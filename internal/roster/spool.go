package roster

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"os"
)

// Spool holds an uploaded roster in a temporary file, encrypted with
// AES-256-GCM under a random key that exists only in memory, so that the
// plaintext of a roster (SSNs, NPIs, license numbers) never reaches the
// disk and a file left behind by a crash cannot be read by anyone. The
// file is written once, read any number of times, and removed by Remove.
type Spool struct {
	path string
	aead cipher.AEAD
	size int64 // plaintext bytes
}

const spoolChunk = 64 << 10

// ErrTooLarge is returned by NewSpool when the upload passes its limit.
var ErrTooLarge = errors.New("roster: the file is larger than the limit")

// NewSpool copies r (at most limit bytes) into an encrypted temporary file
// in dir ("" for the system's).
func NewSpool(dir string, r io.Reader, limit int64) (*Spool, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "roster-upload-*.enc")
	if err != nil {
		return nil, err
	}
	s := &Spool{path: f.Name(), aead: aead}
	fail := func(err error) (*Spool, error) {
		f.Close()
		os.Remove(s.path)
		return nil, err
	}
	buf := make([]byte, spoolChunk)
	out := make([]byte, 0, 4+spoolChunk+aead.Overhead())
	var counter uint64
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			s.size += int64(n)
			if limit > 0 && s.size > limit {
				return fail(ErrTooLarge)
			}
			out = binary.BigEndian.AppendUint32(out[:0], uint32(n+aead.Overhead())) // #nosec G115 -- n ≤ spoolChunk (64 KiB) read into a fixed buffer
			out = aead.Seal(out, nonce(counter), buf[:n], nil)
			counter++
			if _, err := f.Write(out); err != nil {
				return fail(err)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fail(rerr)
		}
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	return s, nil
}

func nonce(counter uint64) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[4:], counter)
	return n
}

// Size is the plaintext size of the spooled file.
func (s *Spool) Size() int64 { return s.size }

// Open returns a reader of the plaintext.
func (s *Spool) Open() (io.ReadCloser, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	return &spoolReader{f: f, aead: s.aead, want: s.size}, nil
}

// Remove deletes the file.
func (s *Spool) Remove() error { return os.Remove(s.path) }

type spoolReader struct {
	f       *os.File
	aead    cipher.AEAD
	counter uint64
	want    int64 // plaintext size, so that a truncated file is noticed
	got     int64
	buf     []byte // decrypted, not yet returned
	ct      []byte
}

func (r *spoolReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		var hdr [4]byte
		if _, err := io.ReadFull(r.f, hdr[:]); err != nil {
			if err == io.EOF && r.got == r.want {
				return 0, io.EOF
			}
			return 0, errors.New("roster: the spooled upload is damaged")
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > spoolChunk+uint32(r.aead.Overhead()) { // #nosec G115 -- the GCM overhead is 16 bytes
			return 0, errors.New("roster: the spooled upload is damaged")
		}
		r.ct = append(r.ct[:0], make([]byte, n)...)
		if _, err := io.ReadFull(r.f, r.ct); err != nil {
			return 0, errors.New("roster: the spooled upload is damaged")
		}
		pt, err := r.aead.Open(r.ct[:0], nonce(r.counter), r.ct, nil)
		if err != nil {
			return 0, errors.New("roster: the spooled upload is damaged")
		}
		r.counter++
		r.got += int64(len(pt))
		r.buf = pt
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *spoolReader) Close() error { return r.f.Close() }
