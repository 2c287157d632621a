package blob_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"credtrack/internal/blob"
)

func TestHealth(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t.Run("local", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "blobs")
		s, err := blob.NewLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := blob.Health(ctx, s); err != nil {
			t.Fatalf("healthy store: %v", err)
		}
		left, _ := os.ReadDir(dir)
		if len(left) != 0 {
			t.Errorf("the check left %d files behind", len(left))
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := blob.Health(ctx, s); err == nil {
			t.Error("a store whose directory is gone is healthy")
		}
		if err := os.WriteFile(dir, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := blob.Health(ctx, s); err == nil {
			t.Error("a store whose directory is a file is healthy")
		}
	})
	t.Run("s3", func(t *testing.T) {
		srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
		cfg := blob.S3Config{Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "docs", Region: "us-east-1",
			AccessKey: "test", SecretKey: "test-secret"}
		s, err := blob.NewS3(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Health(ctx); err == nil {
			t.Error("a missing bucket is healthy")
		}
		if err := s.EnsureBucket(ctx); err != nil {
			t.Fatal(err)
		}
		if err := blob.Health(ctx, s); err != nil {
			t.Fatalf("healthy store: %v", err)
		}
		srv.Close()
		if err := blob.Health(ctx, s); err == nil {
			t.Error("an unreachable S3 endpoint is healthy")
		}
	})
}
