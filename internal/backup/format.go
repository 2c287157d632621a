// Package backup writes and reads credtrack backups: one file holding a
// tar archive (a consistent database snapshot, the blob store's manifest
// and, for the local blob store, the blobs) that is encrypted with
// AES-256-GCM and signed with Ed25519, both under keys derived from the
// master key, and restores them into an empty installation.
//
// # File format (version 1)
//
//	magic      "CTBACKUP1\n"                       10 bytes
//	salt       random                               32 bytes
//	chunks     repeated: length (4 bytes, big endian) || AES-256-GCM(chunk)
//	signature  Ed25519 over "credtrack-backup-v1" || SHA-256(magic..chunks)   64 bytes
//
// The file key is HMAC-SHA256(encryption key, "credtrack backup file key" ||
// salt), so no two backups share a key and nonces can be counters: the
// nonce of chunk i is i (8 bytes, big endian) followed by 4 bytes that are
// 1 on the last chunk and 0 elsewhere, so a file cut at a chunk boundary
// does not decrypt. The magic and salt are the additional data of every
// chunk. Plaintext chunks are 64 KiB except the last.
//
// Reading checks the signature over the whole file before decrypting a
// byte, so a forged or altered backup is refused before anything is
// restored; the per-chunk tags and the per-entry SHA-256 sums of the
// archive's manifest are checked again while reading.
package backup

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

const (
	magic     = "CTBACKUP1\n"
	saltSize  = 32
	chunkSize = 64 << 10
	sigDomain = "credtrack-backup-v1"
)

// ErrForged is returned for a file whose signature does not verify: it was
// altered, truncated, or not made with this installation's keys.
var ErrForged = errors.New("backup: the signature does not verify: the file was altered, truncated, or made with another master key; nothing was restored")

// ErrNotBackup is returned for a file that is not a credtrack backup.
var ErrNotBackup = errors.New("backup: not a credtrack backup file")

// Keys are the backup keys, derived from the master key by the caller
// (see cmd/credtrack): a 32-byte AES-256-GCM key and an Ed25519 key pair.
type Keys struct {
	Encrypt []byte
	Sign    ed25519.PrivateKey
}

// NewKeys builds the keys from a 32-byte encryption key and a 32-byte
// Ed25519 seed.
func NewKeys(enc, signSeed []byte) Keys {
	return Keys{Encrypt: enc, Sign: ed25519.NewKeyFromSeed(signSeed)}
}

// Public returns the verification key.
func (k Keys) Public() ed25519.PublicKey { return k.Sign.Public().(ed25519.PublicKey) }

func fileAEAD(encKey, salt []byte) (cipher.AEAD, error) {
	m := hmac.New(sha256.New, encKey)
	m.Write([]byte("credtrack backup file key"))
	m.Write(salt)
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func chunkNonce(i uint64, final bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n, i)
	if final {
		n[11] = 1
	}
	return n
}

// sealWriter encrypts what is written to it into w and, on Close, signs it.
type sealWriter struct {
	w    io.Writer
	h    hash.Hash
	aead cipher.AEAD
	ad   []byte
	key  ed25519.PrivateKey
	buf  []byte
	n    uint64
	err  error
}

// newSealWriter writes the header to w and returns the writer of the
// plaintext. Close must be called to write the last chunk and the
// signature.
func newSealWriter(w io.Writer, k Keys) (*sealWriter, error) {
	if len(k.Encrypt) != 32 || len(k.Sign) != ed25519.PrivateKeySize {
		return nil, errors.New("backup: keys are not set")
	}
	salt := make([]byte, saltSize)
	rand.Read(salt)
	aead, err := fileAEAD(k.Encrypt, salt)
	if err != nil {
		return nil, err
	}
	s := &sealWriter{w: w, h: sha256.New(), aead: aead, key: k.Sign, buf: make([]byte, 0, chunkSize)}
	s.ad = append([]byte(magic), salt...)
	s.write(s.ad)
	return s, s.err
}

func (s *sealWriter) write(p []byte) {
	if s.err != nil {
		return
	}
	s.h.Write(p)
	_, s.err = s.w.Write(p)
}

func (s *sealWriter) flush(final bool) {
	ct := s.aead.Seal(nil, chunkNonce(s.n, final), s.buf, s.ad)
	s.n++
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(ct))) // #nosec G115 -- a sealed chunk is at most chunkSize (64 KiB) plus the 16-byte tag
	s.write(l[:])
	s.write(ct)
	s.buf = s.buf[:0]
}

func (s *sealWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 && s.err == nil {
		if len(s.buf) == chunkSize {
			s.flush(false)
		}
		n := copy(s.buf[len(s.buf):chunkSize], p)
		s.buf = s.buf[:len(s.buf)+n]
		p = p[n:]
	}
	if s.err != nil {
		return 0, s.err
	}
	return total, nil
}

// Close writes the final chunk and the signature.
func (s *sealWriter) Close() error {
	s.flush(true)
	if s.err != nil {
		return s.err
	}
	sig := ed25519.Sign(s.key, append([]byte(sigDomain), s.h.Sum(nil)...))
	_, err := s.w.Write(sig)
	return err
}

// Verify checks the signature of the backup in r (size bytes long) with
// pub. It reads the whole file once and decrypts nothing.
func Verify(r io.ReaderAt, size int64, pub ed25519.PublicKey) error {
	if size < int64(len(magic)+saltSize+ed25519.SignatureSize) {
		return ErrNotBackup
	}
	head := make([]byte, len(magic))
	if _, err := r.ReadAt(head, 0); err != nil {
		return err
	}
	if string(head) != magic {
		return ErrNotBackup
	}
	body := size - ed25519.SignatureSize
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, body)); err != nil {
		return err
	}
	sig := make([]byte, ed25519.SignatureSize)
	if _, err := r.ReadAt(sig, body); err != nil {
		return err
	}
	if !ed25519.Verify(pub, append([]byte(sigDomain), h.Sum(nil)...), sig) {
		return ErrForged
	}
	return nil
}

// openReader returns the decrypted content of a backup whose signature
// Verify has accepted.
func openReader(r io.ReaderAt, size int64, encKey []byte) (io.Reader, error) {
	ad := make([]byte, len(magic)+saltSize)
	if _, err := r.ReadAt(ad, 0); err != nil {
		return nil, err
	}
	aead, err := fileAEAD(encKey, ad[len(magic):])
	if err != nil {
		return nil, err
	}
	body := io.NewSectionReader(r, int64(len(ad)), size-ed25519.SignatureSize-int64(len(ad)))
	return &openReaderT{r: bufio.NewReaderSize(body, chunkSize+64), aead: aead, ad: ad}, nil
}

type openReaderT struct {
	r    *bufio.Reader
	aead cipher.AEAD
	ad   []byte
	buf  []byte
	n    uint64
	done bool
	err  error
}

func (o *openReaderT) Read(p []byte) (int, error) {
	for len(o.buf) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.done {
			return 0, io.EOF
		}
		var l [4]byte
		if _, err := io.ReadFull(o.r, l[:]); err != nil {
			o.err = fmt.Errorf("backup: truncated: %w", ErrForged)
			return 0, o.err
		}
		n := binary.BigEndian.Uint32(l[:])
		if n > chunkSize+uint32(o.aead.Overhead()) { // #nosec G115 -- the GCM overhead is 16 bytes
			o.err = ErrForged
			return 0, o.err
		}
		ct := make([]byte, n)
		if _, err := io.ReadFull(o.r, ct); err != nil {
			o.err = fmt.Errorf("backup: truncated: %w", ErrForged)
			return 0, o.err
		}
		// The last chunk is the one followed by nothing.
		_, peekErr := o.r.Peek(1)
		final := peekErr == io.EOF
		pt, err := o.aead.Open(ct[:0], chunkNonce(o.n, final), ct, o.ad)
		if err != nil {
			o.err = fmt.Errorf("backup: a chunk does not decrypt: %w", ErrForged)
			return 0, o.err
		}
		o.n++
		o.buf = pt
		o.done = final
	}
	n := copy(p, o.buf)
	o.buf = o.buf[n:]
	return n, nil
}
