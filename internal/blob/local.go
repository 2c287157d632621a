package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Local stores blobs as files under a directory (by default
// <data dir>/blobs): directories 0700, files 0600. A blob is written to a
// temporary file in the same directory, synced, and renamed into place,
// so a crash never leaves half a blob under its final name.
type Local struct {
	root string
}

// NewLocal opens (creating if needed) a local store rooted at dir.
func NewLocal(dir string) (*Local, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob: create %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &Local{root: abs}, nil
}

func (l *Local) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", ErrInvalidKey
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader) (err error) {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	// Make the rename durable too.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Get implements Store.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Exists implements Store.
func (l *Local) Exists(ctx context.Context, key string) (bool, error) {
	p, err := l.path(key)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// List implements Store. Temporary files of unfinished writes are skipped.
func (l *Local) List(ctx context.Context, prefix string, fn func(Object) error) error {
	if prefix != "" && !ValidKey(strings.TrimSuffix(prefix, "/")) {
		return ErrInvalidKey
	}
	start := filepath.Join(l.root, filepath.FromSlash(prefix))
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return fn(Object{Key: filepath.ToSlash(rel), Size: info.Size(), ModTime: info.ModTime()})
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// RemoveStaleTemp deletes temporary files older than age: the remains of
// writes that a crash interrupted before their rename. It returns how many
// it removed.
func (l *Local) RemoveStaleTemp(age time.Duration) (int, error) {
	cutoff := time.Now().Add(-age)
	n := 0
	err := filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasPrefix(d.Name(), ".tmp-") {
			if info, err := d.Info(); err == nil && info.ModTime().Before(cutoff) {
				if os.Remove(p) == nil { // #nosec G122 -- only files under the store's own 0700 root are removed; swapping in a symlink needs write access to it, which already gives everything
					n++
				}
			}
		}
		return nil
	})
	return n, err
}

// Health implements Checker: the root must be a directory in which this
// process can create (and then removes) a file, which catches a missing
// mount, a read-only file system and lost permissions.
func (l *Local) Health(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := os.Stat(l.root)
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("blob: %s is not a directory", l.root)
	}
	f, err := os.CreateTemp(l.root, ".tmp-health-*")
	if err != nil {
		return fmt.Errorf("blob: not writable: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}
