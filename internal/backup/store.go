package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"credtrack/internal/blob"
)

// Backups are kept in a blob.Store (a local directory through blob.Local,
// or an S3 bucket and prefix through blob.S3) under names that sort by
// time: credtrack-20261202T030000Z.ctbk.

const (
	namePrefix = "credtrack-"
	nameSuffix = ".ctbk"
	nameLayout = "20060102T150405Z"
)

// Name returns the name of a backup taken at t.
func Name(t time.Time) string { return namePrefix + t.UTC().Format(nameLayout) + nameSuffix }

// parseName returns the time in a backup's name.
func parseName(name string) (time.Time, bool) {
	if !strings.HasPrefix(name, namePrefix) || !strings.HasSuffix(name, nameSuffix) {
		return time.Time{}, false
	}
	t, err := time.Parse(nameLayout, strings.TrimSuffix(strings.TrimPrefix(name, namePrefix), nameSuffix))
	return t, err == nil
}

// Retention is how long backups are kept: at least MinKeep backups are
// always kept, and any backup younger than MaxAge. MaxAge must be at least
// seven days (MinRetention).
type Retention struct {
	MaxAge  time.Duration
	MinKeep int
}

// MinRetention is the shortest retention accepted.
const MinRetention = 7 * 24 * time.Hour

// Create writes a backup of src into dst under Name(now) and returns the
// name and header. The backup is assembled in a temporary file first, so
// dst only ever holds complete, signed backups.
func Create(ctx context.Context, src Source, keys Keys, dst blob.Store) (string, *Header, error) {
	f, err := os.CreateTemp(src.TempDir, "credtrack-backup-*.ctbk")
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h, err := Write(ctx, f, src, keys)
	if err != nil {
		return "", nil, err
	}
	if err := f.Sync(); err != nil {
		return "", nil, err
	}
	if st, err := f.Stat(); err == nil {
		h.Size = st.Size()
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", nil, err
	}
	name := Name(h.CreatedAt)
	if err := dst.Put(ctx, name, f); err != nil {
		return "", nil, fmt.Errorf("backup: store %s: %w", name, err)
	}
	return name, h, nil
}

// Prune deletes the backups in dst that retention no longer keeps and
// returns their names.
func Prune(ctx context.Context, dst blob.Store, r Retention, now time.Time) ([]string, error) {
	if r.MaxAge < MinRetention {
		r.MaxAge = MinRetention
	}
	if r.MinKeep < 1 {
		r.MinKeep = 7
	}
	type item struct {
		name string
		at   time.Time
	}
	var all []item
	err := dst.List(ctx, "", func(o blob.Object) error {
		if t, ok := parseName(o.Key); ok {
			all = append(all, item{o.Key, t})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.After(all[j].at) })
	var deleted []string
	for i, it := range all {
		if i < r.MinKeep || now.Sub(it.at) < r.MaxAge {
			continue
		}
		if err := dst.Delete(ctx, it.name); err != nil {
			return deleted, err
		}
		deleted = append(deleted, it.name)
	}
	return deleted, nil
}

// List returns the names of the backups in dst, newest first.
func List(ctx context.Context, dst blob.Store) ([]string, error) {
	var names []string
	err := dst.List(ctx, "", func(o blob.Object) error {
		if _, ok := parseName(o.Key); ok {
			names = append(names, o.Key)
		}
		return nil
	})
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	return names, err
}

// Fetch copies the backup name from dst into a temporary file (restore
// reads a backup several times) and returns its path; the caller removes it.
func Fetch(ctx context.Context, dst blob.Store, name, tempDir string) (string, error) {
	r, err := dst.Get(ctx, name)
	if err != nil {
		return "", fmt.Errorf("backup: %s: %w", name, err)
	}
	defer r.Close()
	f, err := os.CreateTemp(tempDir, "credtrack-restore-*.ctbk")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
