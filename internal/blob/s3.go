package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config locates an S3-compatible bucket.
type S3Config struct {
	Endpoint  string // host[:port], no scheme
	Bucket    string
	Region    string
	AccessKey string
	SecretKey string
	UseTLS    bool
	// Prefix is prepended to every key ("credtrack/"), so one bucket can
	// be shared; it must itself be a valid key prefix or empty.
	Prefix string
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
}

// S3 stores blobs in S3-compatible object storage with minio-go (the
// smaller of the two clients SECURITY.md §3 checked). Path-style
// addressing is used so that MinIO, Ceph, gofakes3 and AWS all work.
type S3 struct {
	c      *minio.Client
	bucket string
	prefix string
}

// s3PartSize bounds the memory of one streaming upload: minio-go buffers
// one part at a time for a reader of unknown length. 5 MiB is S3's minimum.
const s3PartSize = 5 << 20

// NewS3 returns an S3 store. It does not create the bucket; see
// EnsureBucket.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" || cfg.Endpoint == "" {
		return nil, errors.New("blob: S3 endpoint and bucket are required")
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       cfg.UseTLS,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
		Transport:    cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: S3 client: %w", err)
	}
	return &S3{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

// EnsureBucket creates the bucket if it does not exist.
func (s *S3) EnsureBucket(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	return s.c.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{})
}

func (s *S3) name(key string) (string, error) {
	if !ValidKey(key) {
		return "", ErrInvalidKey
	}
	return s.prefix + key, nil
}

// Put implements Store. The upload is multipart with unknown length; if r
// fails, minio-go aborts the multipart upload, so no object appears.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) error {
	n, err := s.name(key)
	if err != nil {
		return err
	}
	// An empty body must be sent with an explicit zero length (S3 answers
	// MissingContentLength otherwise).
	var first [1]byte
	k, err := io.ReadFull(r, first[:])
	size := int64(-1)
	switch {
	case errors.Is(err, io.EOF):
		size = 0
	case err != nil:
		return err
	}
	r = io.MultiReader(bytes.NewReader(first[:k]), r)
	_, err = s.c.PutObject(ctx, s.bucket, n, r, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    s3PartSize,
		// Without TLS minio-go would sign each part with the aws-chunked
		// streaming signature, which some S3-compatible servers (gofakes3
		// on multipart parts) store undecoded. Payload integrity does not
		// rest on it: blobs are AEAD-encrypted and their plaintext
		// SHA-256 is checked on every download.
		DisableContentSha256: true,
	})
	return err
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	n, err := s.name(key)
	if err != nil {
		return nil, err
	}
	obj, err := s.c.GetObject(ctx, s.bucket, n, minio.GetObjectOptions{})
	if err != nil {
		return nil, mapS3(err)
	}
	// GetObject is lazy; Stat surfaces a missing key now rather than on
	// the first Read.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, mapS3(err)
	}
	return obj, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	n, err := s.name(key)
	if err != nil {
		return err
	}
	if err := s.c.RemoveObject(ctx, s.bucket, n, minio.RemoveObjectOptions{}); err != nil {
		if errors.Is(mapS3(err), ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// Exists implements Store.
func (s *S3) Exists(ctx context.Context, key string) (bool, error) {
	n, err := s.name(key)
	if err != nil {
		return false, err
	}
	_, err = s.c.StatObject(ctx, s.bucket, n, minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if errors.Is(mapS3(err), ErrNotFound) {
		return false, nil
	}
	return false, err
}

func mapS3(err error) error {
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey, "NotFound":
		return ErrNotFound
	}
	if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
		return ErrNotFound
	}
	return err
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string, fn func(Object) error) error {
	if prefix != "" && !ValidKey(strings.TrimSuffix(prefix, "/")) {
		return ErrInvalidKey
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine if fn fails
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return obj.Err
		}
		if err := fn(Object{Key: strings.TrimPrefix(obj.Key, s.prefix), Size: obj.Size, ModTime: obj.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Health implements Checker: the bucket must exist and the credentials
// must be accepted (a HEAD on the bucket).
func (s *S3) Health(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("blob: S3: %w", mapS3(err))
	}
	if !ok {
		return fmt.Errorf("blob: S3 bucket %q does not exist", s.bucket)
	}
	return nil
}
