package backup

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"credtrack/internal/blob"
)

func testKeys(b byte) Keys {
	return NewKeys(bytes.Repeat([]byte{b}, 32), bytes.Repeat([]byte{b + 1}, 32))
}

type memFile []byte

func (m memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func seal(t *testing.T, k Keys, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := newSealWriter(&buf, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSealRoundTripAndTampering(t *testing.T) {
	k := testKeys(1)
	plain := bytes.Repeat([]byte("credential scan "), 3*chunkSize/16+77) // several chunks and a partial one
	file := seal(t, k, plain)
	if bytes.Contains(file, []byte("credential scan")) {
		t.Fatal("plaintext in the sealed file")
	}
	if err := Verify(memFile(file), int64(len(file)), k.Public()); err != nil {
		t.Fatal(err)
	}
	r, err := openReader(memFile(file), int64(len(file)), k.Encrypt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("round trip: %v, equal %v", err, bytes.Equal(got, plain))
	}
	// Every single-byte change anywhere is refused by the signature.
	for _, off := range []int{0, len(magic) + 3, len(file) / 2, len(file) - ed25519.SignatureSize - 1, len(file) - 1} {
		bad := bytes.Clone(file)
		bad[off] ^= 0x20
		if err := Verify(memFile(bad), int64(len(bad)), k.Public()); err == nil {
			t.Fatalf("a change at byte %d was not detected", off)
		}
	}
	// Another installation's key does not verify it.
	if err := Verify(memFile(file), int64(len(file)), testKeys(9).Public()); !errors.Is(err, ErrForged) {
		t.Fatalf("foreign key: %v", err)
	}
	// A file cut at a chunk boundary and re-signed by someone holding the
	// signing key still does not decrypt: the last chunk is marked.
	cut := file[:len(magic)+saltSize+4+chunkSize+16]
	r, _ = openReader(memFile(append(bytes.Clone(cut), make([]byte, ed25519.SignatureSize)...)), int64(len(cut)+ed25519.SignatureSize), k.Encrypt)
	if _, err := io.ReadAll(r); !errors.Is(err, ErrForged) {
		t.Fatalf("truncated at a chunk boundary: %v", err)
	}
	if err := Verify(memFile("not a backup at all, just some text that is long enough to pass the size check easily ok"), 92, k.Public()); !errors.Is(err, ErrNotBackup) {
		t.Fatalf("not a backup: %v", err)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	dst, err := blob.NewLocal(filepath.Join(t.TempDir(), "b"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for d := 0; d < 20; d++ {
		if err := dst.Put(ctx, Name(now.Add(-time.Duration(d)*24*time.Hour)), strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	dst.Put(ctx, "unrelated.txt", strings.NewReader("keep me"))
	// A retention under seven days is raised to seven days.
	deleted, err := Prune(ctx, dst, Retention{MaxAge: time.Hour, MinKeep: 3}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 13 {
		t.Fatalf("deleted %d backups, want 13 (20 minus the 7 of the last seven days)", len(deleted))
	}
	names, _ := List(ctx, dst)
	if len(names) != 7 || names[0] != Name(now) {
		t.Fatalf("left %v", names)
	}
	// MinKeep keeps old backups when no new ones were taken.
	deleted, _ = Prune(ctx, dst, Retention{MaxAge: 7 * 24 * time.Hour, MinKeep: 7}, now.Add(365*24*time.Hour))
	if len(deleted) != 0 {
		t.Fatalf("deleted %v although they are the last seven", deleted)
	}
	if ok, _ := dst.Exists(ctx, "unrelated.txt"); !ok {
		t.Fatal("pruning removed a file that is not a backup")
	}
}

// BenchmarkSeal measures encrypting and signing a backup stream, and
// verifying and decrypting it, against SHA-256 of the same bytes (the
// baseline, in the same run: what a plain checksummed copy would cost).
func BenchmarkSeal(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16) // 4 MiB
	k := testKeys(3)
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			h := sha256.New()
			io.Copy(h, bytes.NewReader(data))
			h.Sum(nil)
		}
	})
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			w, _ := newSealWriter(io.Discard, k)
			io.Copy(w, bytes.NewReader(data))
			w.Close()
		}
	})
	b.Run("verify+open", func(b *testing.B) {
		var buf bytes.Buffer
		w, _ := newSealWriter(&buf, k)
		w.Write(data)
		w.Close()
		file := memFile(buf.Bytes())
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := Verify(file, int64(len(file)), k.Public()); err != nil {
				b.Fatal(err)
			}
			r, _ := openReader(file, int64(len(file)), k.Encrypt)
			io.Copy(io.Discard, r)
		}
	})
}
