package docs

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"io"
)

// Blob format (version 1), the STREAM construction of Hoang, Reyhanitabar,
// Rogaway and Vizár ("Online Authenticated-Encryption and its
// Nonce-Reuse Misuse-Resistance", 2015) over AES-256-GCM:
//
//	"CTD1"                       4-byte magic and version
//	chunk 0 … chunk n            each AES-256-GCM(plaintext ≤ 64 KiB) + 16-byte tag
//
// The nonce of chunk i is the 8-byte big-endian counter i, three zero
// bytes, and a final flag byte (1 on the last chunk, 0 otherwise). The
// associated data is the magic plus the document ID. So:
//   - reordering or swapping chunks changes their counters: the tag fails;
//   - truncating at a chunk boundary leaves a last chunk sealed as
//     non-final: the tag fails; dropping every chunk is a missing final chunk;
//   - a blob moved to another document (another ID) fails;
//   - appending data after the final chunk fails (a full chunk is final only
//     when nothing follows it).
//
// Every document has a fresh random 32-byte key, so the deterministic
// nonces are never reused under one key. The last chunk may be empty only
// when the whole document is (an empty document is still one sealed chunk).
const (
	magic     = "CTD1"
	chunkSize = 64 << 10
	tagSize   = 16
)

// ErrCorrupt is returned while reading a blob that does not decrypt: the
// wrong key, a blob moved, truncated, reordered or altered. Bytes already
// returned were authenticated chunk by chunk, but the document as a whole
// is not good.
var ErrCorrupt = errors.New("docs: document blob is corrupt or was tampered with")

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func nonce(buf *[12]byte, counter uint64, final bool) []byte {
	binary.BigEndian.PutUint64(buf[:8], counter)
	buf[8], buf[9], buf[10], buf[11] = 0, 0, 0, 0
	if final {
		buf[11] = 1
	}
	return buf[:]
}

// encryptReader reads plaintext from src and yields the blob format.
// It holds one chunk of plaintext and one of ciphertext: memory is constant
// whatever the document's size.
type encryptReader struct {
	src     *bufio.Reader
	aead    cipher.AEAD
	aad     []byte
	pt, out []byte
	pending []byte
	counter uint64
	nonce   [12]byte
	done    bool
	err     error
}

func newEncryptReader(key []byte, docID string, src io.Reader) (io.Reader, error) {
	a, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	e := &encryptReader{
		src: bufio.NewReaderSize(src, chunkSize), aead: a, aad: []byte(magic + docID),
		pt: make([]byte, chunkSize), out: make([]byte, 0, chunkSize+tagSize),
	}
	e.pending = append(e.out[:0], magic...)
	return e, nil
}

func (e *encryptReader) Read(p []byte) (int, error) {
	for len(e.pending) == 0 {
		if e.err != nil {
			return 0, e.err
		}
		if e.done {
			return 0, io.EOF
		}
		n, err := io.ReadFull(e.src, e.pt)
		final := false
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			final = true
		case err != nil:
			e.err = err
			return 0, err
		default:
			// A full chunk is the last one only if nothing follows.
			if _, perr := e.src.Peek(1); perr == io.EOF {
				final = true
			} else if perr != nil {
				e.err = perr
				return 0, perr
			}
		}
		e.pending = e.aead.Seal(e.out[:0], nonce(&e.nonce, e.counter, final), e.pt[:n], e.aad)
		e.counter++
		e.done = final
	}
	n := copy(p, e.pending)
	e.pending = e.pending[n:]
	return n, nil
}

// decryptReader reads the blob format from src and yields plaintext,
// returning ErrCorrupt at the first chunk that does not authenticate or
// when the final chunk is missing.
type decryptReader struct {
	src     *bufio.Reader
	closer  io.Closer
	aead    cipher.AEAD
	aad     []byte
	ct      []byte
	pending []byte
	counter uint64
	nonce   [12]byte
	started bool
	done    bool
	err     error
}

func newDecryptReader(key []byte, docID string, src io.ReadCloser) (*decryptReader, error) {
	a, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &decryptReader{
		src: bufio.NewReaderSize(src, chunkSize+tagSize+1), closer: src, aead: a, aad: []byte(magic + docID),
		ct: make([]byte, chunkSize+tagSize),
	}, nil
}

func (d *decryptReader) Read(p []byte) (int, error) {
	for len(d.pending) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		if d.done {
			return 0, io.EOF
		}
		if !d.started {
			var m [len(magic)]byte
			if _, err := io.ReadFull(d.src, m[:]); err != nil || string(m[:]) != magic {
				d.err = ErrCorrupt
				if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
					d.err = err
				}
				continue
			}
			d.started = true
		}
		n, err := io.ReadFull(d.src, d.ct)
		final := false
		switch {
		case err == io.EOF:
			d.err = ErrCorrupt // the final chunk is missing
			continue
		case err == io.ErrUnexpectedEOF:
			final = true
		case err != nil:
			d.err = err
			continue
		default:
			if _, perr := d.src.Peek(1); perr == io.EOF {
				final = true
			} else if perr != nil {
				d.err = perr
				continue
			}
		}
		if n < tagSize {
			d.err = ErrCorrupt
			continue
		}
		pt, oerr := d.aead.Open(d.ct[:0], nonce(&d.nonce, d.counter, final), d.ct[:n], d.aad)
		if oerr != nil {
			d.err = ErrCorrupt
			continue
		}
		d.counter++
		d.pending, d.done = pt, final
	}
	n := copy(p, d.pending)
	d.pending = d.pending[n:]
	return n, nil
}

func (d *decryptReader) Close() error { return d.closer.Close() }
