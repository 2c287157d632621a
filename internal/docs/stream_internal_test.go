package docs

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestStreamSizes(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	for _, n := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3 * chunkSize, 3*chunkSize + 7} {
		pt := make([]byte, n)
		rand.Read(pt)
		// OneByteReader makes the encryptor cope with short reads.
		enc, err := newEncryptReader(key, "doc1", iotest.OneByteReader(bytes.NewReader(pt)))
		if err != nil {
			t.Fatal(err)
		}
		ct, err := io.ReadAll(enc)
		if err != nil {
			t.Fatal(err)
		}
		chunks := max(1, (n+chunkSize-1)/chunkSize)
		if want := len(magic) + n + chunks*tagSize; len(ct) != want {
			t.Errorf("n=%d: %d ciphertext bytes, want %d", n, len(ct), want)
		}
		dec, _ := newDecryptReader(key, "doc1", io.NopCloser(bytes.NewReader(ct)))
		got, err := io.ReadAll(dec)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("n=%d: round trip %d bytes, %v", n, len(got), err)
		}
		// Bound to the document ID.
		dec, _ = newDecryptReader(key, "doc2", io.NopCloser(bytes.NewReader(ct)))
		if _, err := io.ReadAll(dec); !errors.Is(err, ErrCorrupt) {
			t.Errorf("n=%d: other doc ID: %v", n, err)
		}
	}
}

func TestFingerprintCheckedAtEnd(t *testing.T) {
	data := []byte("%PDF-1.7 hello")
	sum := sha256.Sum256(data)
	read := func(want []byte, size int64) error {
		v := &verifyingReader{r: bytes.NewReader(data), c: io.NopCloser(nil), h: sha256.New(), want: want, size: size}
		_, err := io.ReadAll(v)
		return err
	}
	if err := read(sum[:], int64(len(data))); err != nil {
		t.Fatal(err)
	}
	bad := sum
	bad[0] ^= 1
	if err := read(bad[:], int64(len(data))); !errors.Is(err, ErrFingerprint) {
		t.Errorf("wrong hash: %v", err)
	}
	if err := read(sum[:], int64(len(data))+1); !errors.Is(err, ErrFingerprint) {
		t.Errorf("wrong size: %v", err)
	}
}
