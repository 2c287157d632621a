package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"credtrack/internal/blob"
	"credtrack/internal/sqlstore"
)

// Archive entry names.
const (
	headerName   = "header.json"
	manifestName = "manifest.json"
	sqliteName   = "db/credtrack.db"
	pgDir        = "db/postgres/"
	blobDir      = "blobs/"
)

// Header describes a backup; it is the archive's first entry.
type Header struct {
	Format        int                `json:"format"`
	CreatedAt     time.Time          `json:"created_at"`
	Version       string             `json:"credtrack_version"`
	Backend       string             `json:"backend"`
	SchemaVersion int                `json:"schema_version"`
	KeyCheck      string             `json:"key_check"`
	Tables        []sqlstore.PGTable `json:"tables,omitempty"`
	// BlobStore is "local" or "s3"; BlobsIncluded says whether the blobs
	// themselves are in the archive (local) or only their list (s3, whose
	// durability is the object store's: use bucket versioning).
	BlobStore     string     `json:"blob_store"`
	BlobsIncluded bool       `json:"blobs_included"`
	Blobs         []BlobInfo `json:"blobs"`
	// Size is the archive's size in bytes, set by Create once it is
	// written (for the backup.created audit event); it is not part of the
	// archive, whose size is unknown while its header is written.
	Size int64 `json:"-"`
}

// BlobInfo is one blob of the blob store manifest.
type BlobInfo struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

// manifest is the archive's last entry: the SHA-256 of every other entry.
type manifest struct {
	Entries map[string]string `json:"entries"`
}

// Source is what a backup is taken of.
type Source struct {
	DB *sqlstore.DB
	// Blobs is the document blob store; BlobStore names its kind ("local"
	// or "s3"). The blobs are copied into the backup for "local" only.
	Blobs     blob.Store
	BlobStore string
	KeyCheck  string
	Version   string
	// TempDir holds the snapshot while the backup is written ("" means the
	// system's).
	TempDir string
	Now     func() time.Time
}

// Write writes a backup of src to w.
func Write(ctx context.Context, w io.Writer, src Source, keys Keys) (*Header, error) {
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	tmp, err := os.MkdirTemp(src.TempDir, "credtrack-backup-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	h := &Header{Format: 1, CreatedAt: now().UTC(), Version: src.Version, Backend: string(src.DB.Backend()),
		KeyCheck: src.KeyCheck, BlobStore: src.BlobStore, BlobsIncluded: src.BlobStore == "local"}
	// The database first, then the blob list: a document's blob is stored
	// before its row commits, so every document in the snapshot has its
	// blob in the list (blobs newer than the snapshot are harmless orphans).
	var files []string // entry names, in order, with their paths in tmp
	paths := map[string]string{}
	switch src.DB.Backend() {
	case sqlstore.SQLite:
		p := filepath.Join(tmp, "snapshot.db")
		if err := src.DB.SnapshotSQLite(ctx, p); err != nil {
			return nil, err
		}
		if h.SchemaVersion, _, err = src.DB.SchemaStatus(ctx); err != nil {
			return nil, err
		}
		files, paths[sqliteName] = append(files, sqliteName), p
	case sqlstore.Postgres:
		dir := filepath.Join(tmp, "pg")
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, err
		}
		if h.Tables, h.SchemaVersion, err = src.DB.DumpPostgres(ctx, dir); err != nil {
			return nil, err
		}
		for _, t := range h.Tables {
			name := pgDir + t.File
			files, paths[name] = append(files, name), filepath.Join(dir, t.File)
		}
	}
	if src.Blobs != nil {
		err := src.Blobs.List(ctx, "", func(o blob.Object) error {
			h.Blobs = append(h.Blobs, BlobInfo{Key: o.Key, Size: o.Size})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("backup: list blobs: %w", err)
		}
		sort.Slice(h.Blobs, func(i, j int) bool { return h.Blobs[i].Key < h.Blobs[j].Key })
	}
	sw, err := newSealWriter(w, keys)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(sw)
	man := manifest{Entries: map[string]string{}}
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: h.CreatedAt, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		sum := sha256.New()
		n, err := io.Copy(tw, io.TeeReader(r, sum))
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("backup: %s changed size while being copied", name)
		}
		man.Entries[name] = hex.EncodeToString(sum.Sum(nil))
		return nil
	}
	addJSON := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			return err
		}
		return add(name, int64(len(b)), strings.NewReader(string(b)))
	}
	if err := addJSON(headerName, h); err != nil {
		return nil, err
	}
	for _, name := range files {
		if err := addFile(add, name, paths[name]); err != nil {
			return nil, err
		}
	}
	if h.BlobsIncluded {
		for _, b := range h.Blobs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r, err := src.Blobs.Get(ctx, b.Key)
			if err != nil {
				return nil, fmt.Errorf("backup: read blob %s: %w", b.Key, err)
			}
			err = add(blobDir+b.Key, b.Size, r)
			r.Close()
			if err != nil {
				return nil, err
			}
		}
	}
	delete(man.Entries, headerName) // Open reads the header itself rather than summing it
	if err := addJSON(manifestName, man); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return h, sw.Close()
}

func addFile(add func(string, int64, io.Reader) error, name, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return add(name, st.Size(), f)
}

// File is a backup opened for reading: its signature has been checked.
type File struct {
	f      *os.File
	size   int64
	encKey []byte
	Header *Header
}

// Open opens the backup at p, checks its signature, then reads it through
// once, checking every chunk's tag and every entry's SHA-256 against the
// manifest, and returns it with its header. Nothing is restored by Open.
func Open(p string, keys Keys) (*File, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	bf := &File{f: f, size: st.Size(), encKey: keys.Encrypt}
	if err := Verify(f, st.Size(), keys.Public()); err != nil {
		f.Close()
		return nil, err
	}
	sums := map[string]string{}
	err = bf.walk(func(name string, r io.Reader) error {
		switch name {
		case headerName:
			bf.Header = &Header{}
			return json.NewDecoder(r).Decode(bf.Header)
		case manifestName:
			var m manifest
			if err := json.NewDecoder(r).Decode(&m); err != nil {
				return err
			}
			if len(m.Entries) != len(sums) {
				return fmt.Errorf("backup: the manifest lists %d entries, the archive holds %d", len(m.Entries), len(sums))
			}
			for n, s := range m.Entries {
				if sums[n] != s {
					return fmt.Errorf("backup: entry %s does not match its checksum", n)
				}
			}
			return nil
		}
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return err
		}
		sums[name] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err == nil && bf.Header == nil {
		err = ErrNotBackup
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if bf.Header.Format != 1 {
		f.Close()
		return nil, fmt.Errorf("backup: format %d is not supported by this credtrack", bf.Header.Format)
	}
	return bf, nil
}

// Close closes the file.
func (b *File) Close() error { return b.f.Close() }

// walk calls fn for each entry of the archive, in order.
func (b *File) walk(fn func(name string, r io.Reader) error) error {
	r, err := openReader(b.f, b.size, b.encKey)
	if err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg || path.Clean(h.Name) != h.Name || strings.HasPrefix(h.Name, "/") || strings.Contains(h.Name, "..") {
			return fmt.Errorf("backup: unexpected entry %q", h.Name)
		}
		if err := fn(h.Name, tr); err != nil {
			return err
		}
	}
}

// Target says where Restore puts the data. Everything it names must be
// empty: restore never merges into or overwrites an installation.
type Target struct {
	// SQLitePath is the database file to create (SQLite backups).
	SQLitePath string
	// Postgres is the target database (PostgreSQL backups), opened
	// without migrating; its schema must hold no table.
	Postgres *sqlstore.DB
	// Blobs is the blob store to fill (local backups) or to check for the
	// listed blobs (s3 backups).
	Blobs blob.Store
}

// ErrNotEmpty is returned when the restore target already holds data.
var ErrNotEmpty = errors.New("restore: the target is not empty")

// Restore puts the backup into t, refusing a target that holds data.
func (b *File) Restore(ctx context.Context, t Target) error {
	h := b.Header
	// Check every target before writing anything.
	switch h.Backend {
	case string(sqlstore.SQLite):
		if t.SQLitePath == "" {
			return errors.New("restore: the backup is of an SQLite database; restore it with an empty --data-dir and no --database-url")
		}
		if _, err := os.Stat(t.SQLitePath); err == nil {
			return fmt.Errorf("%w: %s exists", ErrNotEmpty, t.SQLitePath)
		}
	case string(sqlstore.Postgres):
		if t.Postgres == nil || t.Postgres.Backend() != sqlstore.Postgres {
			return errors.New("restore: the backup is of a PostgreSQL database; restore it with --database-url")
		}
		empty, err := t.Postgres.IsEmptyPostgres(ctx)
		if err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("%w: the PostgreSQL database already has tables (restore into a new, empty database)", ErrNotEmpty)
		}
	default:
		return fmt.Errorf("restore: unknown backend %q", h.Backend)
	}
	if t.Blobs == nil {
		return errors.New("restore: no blob store to restore into")
	}
	if h.BlobsIncluded {
		any := false
		err := t.Blobs.List(ctx, "", func(blob.Object) error { any = true; return errStop })
		if err != nil && !errors.Is(err, errStop) {
			return err
		}
		if any {
			return fmt.Errorf("%w: the blob store already holds documents", ErrNotEmpty)
		}
	} else {
		missing := 0
		for _, bi := range h.Blobs {
			ok, err := t.Blobs.Exists(ctx, bi.Key)
			if err != nil {
				return err
			}
			if !ok {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("restore: %d of the %d documents listed in the backup are missing from the S3 blob store (restore the bucket from its versioning first)", missing, len(h.Blobs))
		}
	}

	if h.Backend == string(sqlstore.Postgres) {
		if _, err := t.Postgres.MigrateTo(ctx, h.SchemaVersion); err != nil {
			return err
		}
		cur, _, err := t.Postgres.SchemaStatus(ctx)
		if err != nil {
			return err
		}
		if cur != h.SchemaVersion {
			return fmt.Errorf("restore: migrated the target to version %d, the backup has %d", cur, h.SchemaVersion)
		}
		// COPY streams come from the archive in order: each table's entry
		// is handed over as it is reached.
		if err := b.loadPostgres(ctx, t.Postgres); err != nil {
			return err
		}
	}
	return b.walk(func(name string, r io.Reader) error {
		switch {
		case name == sqliteName:
			return writeFileAtomic(t.SQLitePath, r)
		case strings.HasPrefix(name, blobDir):
			return t.Blobs.Put(ctx, strings.TrimPrefix(name, blobDir), r)
		}
		return nil
	})
}

var errStop = errors.New("stop")

// loadPostgres feeds the dump's entries to LoadPostgres. The archive is
// read sequentially; LoadPostgres asks for the tables in the same order.
func (b *File) loadPostgres(ctx context.Context, db *sqlstore.DB) error {
	r, err := openReader(b.f, b.size, b.encKey)
	if err != nil {
		return err
	}
	tr := tar.NewReader(r)
	return db.LoadPostgres(ctx, b.Header.Tables, func(file string) (io.ReadCloser, error) {
		for {
			h, err := tr.Next()
			if err != nil {
				return nil, fmt.Errorf("restore: %s is missing from the backup", file)
			}
			if h.Name == pgDir+file {
				return io.NopCloser(tr), nil
			}
		}
	})
}

func writeFileAtomic(p string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".restore-*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	// Link rather than rename: it fails if the file appeared meanwhile.
	if err := os.Link(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Remove(tmp.Name())
}
