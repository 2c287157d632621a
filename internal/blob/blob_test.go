package blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"credtrack/internal/blob"
)

// stores runs the shared contract against every implementation.
func stores(t *testing.T, fn func(t *testing.T, s blob.Store)) {
	t.Run("local", func(t *testing.T) {
		s, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		fn(t, s)
	})
	t.Run("s3", func(t *testing.T) {
		fn(t, NewFakeS3(t))
	})
}

// NewFakeS3 starts an in-process gofakes3 server and returns a store on it.
func NewFakeS3(t testing.TB) *blob.S3 {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	s, err := blob.NewS3(blob.S3Config{
		Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "docs", Region: "us-east-1",
		AccessKey: "test", SecretKey: "test-secret", Prefix: "ct/",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

type failingReader struct {
	r     io.Reader
	after int
	n     int
}

var errBoom = errors.New("boom")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n >= f.after {
		return 0, errBoom
	}
	if len(p) > f.after-f.n {
		p = p[:f.after-f.n]
	}
	n, err := f.r.Read(p)
	f.n += n
	return n, err
}

func TestContract(t *testing.T) {
	stores(t, func(t *testing.T, s blob.Store) {
		ctx := context.Background()
		// Big enough to span several S3 parts (5 MiB each).
		data := make([]byte, 11<<20+123)
		rand.Read(data)
		if ok, err := s.Exists(ctx, "a/b1"); err != nil || ok {
			t.Fatalf("Exists before Put = %v, %v", ok, err)
		}
		if _, err := s.Get(ctx, "a/b1"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Get missing: %v, want ErrNotFound", err)
		}
		if err := s.Put(ctx, "a/b1", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Exists(ctx, "a/b1"); err != nil || !ok {
			t.Fatalf("Exists after Put = %v, %v", ok, err)
		}
		rc, err := s.Get(ctx, "a/b1")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip: %d bytes, err %v", len(got), err)
		}
		// Overwrite replaces.
		if err := s.Put(ctx, "a/b1", strings.NewReader("small")); err != nil {
			t.Fatal(err)
		}
		rc, _ = s.Get(ctx, "a/b1")
		got, _ = io.ReadAll(rc)
		rc.Close()
		if string(got) != "small" {
			t.Fatalf("after overwrite: %q", got)
		}
		// Empty blob.
		if err := s.Put(ctx, "empty", bytes.NewReader(nil)); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.Exists(ctx, "empty"); !ok {
			t.Error("empty blob not stored")
		}
		// A failing reader leaves nothing behind, even past the first part.
		err = s.Put(ctx, "a/failed", &failingReader{r: bytes.NewReader(data), after: 6 << 20})
		if !errors.Is(err, errBoom) && (err == nil || !strings.Contains(err.Error(), "boom")) {
			t.Fatalf("Put from failing reader: %v", err)
		}
		if ok, err := s.Exists(ctx, "a/failed"); err != nil || ok {
			t.Fatalf("failed Put left an object: %v, %v", ok, err)
		}
		// List sees finished objects only, by prefix.
		list := func(prefix string) []string {
			var keys []string
			if err := s.List(ctx, prefix, func(o blob.Object) error {
				if o.ModTime.IsZero() {
					t.Errorf("%s: no modification time", o.Key)
				}
				keys = append(keys, o.Key)
				return nil
			}); err != nil {
				t.Fatalf("List(%q): %v", prefix, err)
			}
			slices.Sort(keys)
			return keys
		}
		if got := list(""); !slices.Equal(got, []string{"a/b1", "empty"}) {
			t.Errorf("List all = %v", got)
		}
		if got := list("a/"); !slices.Equal(got, []string{"a/b1"}) {
			t.Errorf("List a/ = %v", got)
		}
		if got := list("nothing/"); len(got) != 0 {
			t.Errorf("List nothing/ = %v", got)
		}
		if err := s.List(ctx, "../", func(blob.Object) error { return nil }); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("List(../) = %v", err)
		}
		// Delete, and delete again.
		if err := s.Delete(ctx, "a/b1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "a/b1"); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
		if ok, _ := s.Exists(ctx, "a/b1"); ok {
			t.Error("deleted blob still exists")
		}
		// Keys that could escape the namespace are refused by every method.
		for _, k := range []string{"", "../x", "a/../../x", "/abs", "a//b", "a/", "a\\b", "a/./b", "sp ace", "\x00"} {
			if err := s.Put(ctx, k, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
			}
			if _, err := s.Get(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Get(%q) = %v, want ErrInvalidKey", k, err)
			}
			if err := s.Delete(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Delete(%q) = %v, want ErrInvalidKey", k, err)
			}
			if _, err := s.Exists(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Exists(%q) = %v, want ErrInvalidKey", k, err)
			}
		}
	})
}

func TestLocalPermissionsAndNoTempLeft(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := blob.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, "org/doc", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	s.Put(ctx, "org/bad", &failingReader{r: strings.NewReader("xxxxxxxx"), after: 3})
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o700}, {filepath.Join(dir, "org"), 0o700}, {filepath.Join(dir, "org", "doc"), 0o600}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.mode {
			t.Errorf("%s mode %v, want %v", c.path, fi.Mode().Perm(), c.mode)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "org"))
	if len(entries) != 1 {
		t.Errorf("org dir holds %d entries, want only the finished blob (no temp files)", len(entries))
	}
}
