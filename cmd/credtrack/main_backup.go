package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/backup"
	"credtrack/internal/blob"
	"credtrack/internal/config"
	"credtrack/internal/jobs"
	"credtrack/internal/keyring"
	"credtrack/internal/sqlstore"
)

// backupFlags are the settings of backup and restore: the store's, the
// blob store's and the backup destination's.
func backupFlags() []string {
	names := append([]string{}, storeFlags...)
	c := config.Default()
	for _, f := range c.Fields() {
		if strings.HasPrefix(f.Flag, "blob-s3-") || strings.HasPrefix(f.Flag, "backup-") {
			names = append(names, f.Flag)
		}
	}
	return names
}

// backupKeys derives the backup keys from the master key: an AES-256-GCM
// key that encrypts backups and an Ed25519 key that signs them. Both
// depend on the master key only, so a backup restores wherever the master
// key is available and nowhere else.
func backupKeys(m *keyring.Master) backup.Keys {
	return backup.NewKeys(m.Derive("backup-encryption", 32), m.Derive("backup-signing", 32))
}

// newS3 opens one configured bucket.
func newS3(ctx context.Context, s config.S3) (*blob.S3, error) {
	st, err := blob.NewS3(blob.S3Config{Endpoint: s.Endpoint, Bucket: s.Bucket, Prefix: s.Prefix, Region: s.Region,
		AccessKey: s.AccessKey, SecretKey: s.SecretKey, UseTLS: !s.Insecure})
	if err != nil {
		return nil, err
	}
	if err := st.EnsureBucket(ctx); err != nil {
		return nil, fmt.Errorf("S3 bucket %s at %s: %w", s.Bucket, s.Endpoint, err)
	}
	return st, nil
}

// openBlobs returns the document blob store the configuration selects and
// its kind ("local" or "s3").
func openBlobs(ctx context.Context, cfg config.Config) (blob.Store, string, error) {
	if cfg.BlobS3.Set() {
		s, err := newS3(ctx, cfg.BlobS3)
		return s, "s3", err
	}
	l, err := blob.NewLocal(cfg.BlobDir())
	return l, "local", err
}

// backupTarget returns where backups go, or nil when none is configured.
func backupTarget(ctx context.Context, cfg config.Config) (blob.Store, error) {
	switch {
	case cfg.BackupS3.Set():
		return newS3(ctx, cfg.BackupS3)
	case cfg.BackupDir != "":
		return blob.NewLocal(cfg.BackupDir)
	}
	return nil, nil
}

// takeBackup writes one backup into dst and prunes the old ones.
func (a *app) takeBackup(ctx context.Context, dst blob.Store) (string, *backup.Header, error) {
	blobs, kind, err := openBlobs(ctx, a.cfg)
	if err != nil {
		return "", nil, err
	}
	src := backup.Source{DB: a.db, Blobs: blobs, BlobStore: kind, KeyCheck: a.master.Check(), Version: credtrack.Version,
		TempDir: a.cfg.DataDir}
	name, h, err := backup.Create(ctx, src, backupKeys(a.master), dst)
	if err != nil {
		return "", nil, err
	}
	pruned, err := backup.Prune(ctx, dst, backup.Retention{MaxAge: a.cfg.BackupRetention, MinKeep: int(a.cfg.BackupKeep)}, time.Now())
	for _, p := range pruned {
		a.log.Info("pruned an old backup", "name", p)
	}
	if err != nil {
		return name, h, fmt.Errorf("backup %s was written, but pruning old ones failed: %w", name, err)
	}
	return name, h, nil
}

// backupJob is the job kind serve runs every backup-interval when a backup
// destination is configured. It is a job like any other: claimed from the
// database, so with several serve processes exactly one takes each
// period's backup.
func (a *app) backupJob(dst blob.Store) jobs.Kind {
	return jobs.Kind{Every: a.cfg.BackupInterval, Handler: func(ctx context.Context, _ *credtrack.Job) error {
		start := time.Now()
		name, h, err := a.takeBackup(ctx, dst)
		if err != nil {
			return err
		}
		a.log.Info("backup written", "name", name, "schema_version", h.SchemaVersion, "blobs", len(h.Blobs),
			"duration", time.Since(start).Round(time.Millisecond).String())
		return a.recordBackup(ctx, "backup-job", name, h)
	}}
}

// runBackup implements `credtrack backup`.
func (m *Main) runBackup(ctx context.Context, args []string) error {
	cfg := config.Default()
	fs := m.newFlagSet("backup", "backup [--out FILE] [flags]")
	out := fs.String("out", "", "write the backup to this file instead of --backup-dir or --backup-s3-bucket (no pruning)")
	if err := parseErr(cfg.Load(fs, args, m.Getenv, backupFlags()...)); err != nil {
		return err
	}
	dst, err := backupTarget(ctx, cfg)
	if err != nil {
		return err
	}
	if *out == "" && dst == nil {
		fmt.Fprintln(m.Stderr, "credtrack backup: say where the backup goes: --out FILE, --backup-dir DIR or --backup-s3-bucket")
		return errUsage
	}
	a, err := m.openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	var name string
	var h *backup.Header
	if *out != "" {
		name = *out
		h, err = writeBackupFile(ctx, a, *out)
	} else {
		name, h, err = a.takeBackup(ctx, dst)
	}
	if err != nil {
		return err
	}
	if err := a.recordBackup(ctx, "cli", name, h); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "backup %s written: %s database at schema version %d, %d document blobs (%s)\n",
		name, h.Backend, h.SchemaVersion, len(h.Blobs), map[bool]string{true: "included", false: "listed; they stay in S3"}[h.BlobsIncluded])
	fmt.Fprintf(m.Stdout, "signed with Ed25519 public key %s\n", hex.EncodeToString(backupKeys(a.master).Public()))
	return nil
}

// recordBackup records backup.created on the instance's chain (outside
// any organization: a backup holds every organization) as the system
// actor who took it, "cli" or "backup-job". It runs after the backup is
// written, so the backup never holds its own event; if the event cannot
// be written the command fails, so that no backup goes unrecorded
// silently.
func (a *app) recordBackup(ctx context.Context, actor, name string, h *backup.Header) error {
	ev := &credtrack.AuditEvent{Action: "backup.created", TargetType: "backup", TargetID: name, Outcome: credtrack.OutcomeSuccess,
		Details: map[string]string{"size_bytes": strconv.FormatInt(h.Size, 10), "schema_version": strconv.Itoa(h.SchemaVersion),
			"backend": h.Backend, "blobs": strconv.Itoa(len(h.Blobs))}}
	if err := a.db.RecordEvent(credtrack.NewContextWithActor(ctx, credtrack.SystemActor(actor, "")), ev); err != nil {
		return fmt.Errorf("backup %s was written, but its audit event could not be recorded: %w", name, err)
	}
	return nil
}

func writeBackupFile(ctx context.Context, a *app, out string) (*backup.Header, error) {
	blobStore, kind, err := openBlobs(ctx, a.cfg)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", out, errors.Unwrap(err))
	}
	h, err := backup.Write(ctx, f, backup.Source{DB: a.db, Blobs: blobStore, BlobStore: kind, KeyCheck: a.master.Check(),
		Version: credtrack.Version, TempDir: a.cfg.DataDir}, backupKeys(a.master))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return nil, err
	}
	if st, err := os.Stat(out); err == nil {
		h.Size = st.Size()
	}
	return h, nil
}

// runRestore implements `credtrack restore`.
func (m *Main) runRestore(ctx context.Context, args []string) error {
	cfg := config.Default()
	fs := m.newFlagSet("restore", "restore (--file FILE | --name NAME | --latest) [--check] [flags]")
	file := fs.String("file", "", "the backup file to restore")
	name := fs.String("name", "", "the backup to restore from --backup-dir or --backup-s3-bucket")
	latest := fs.Bool("latest", false, "restore the newest backup in --backup-dir or --backup-s3-bucket")
	check := fs.Bool("check", false, "only check the backup's signature and integrity; restore nothing")
	if err := parseErr(cfg.Load(fs, args, m.Getenv, backupFlags()...)); err != nil {
		return err
	}
	n := 0
	for _, set := range []bool{*file != "", *name != "", *latest} {
		if set {
			n++
		}
	}
	if n != 1 {
		fmt.Fprintln(m.Stderr, "credtrack restore: name the backup with exactly one of --file, --name and --latest")
		return errUsage
	}
	// The master key must come from the operator: restore never generates one.
	var master *keyring.Master
	var err error
	if cfg.MasterKey != "" {
		master, err = keyring.FromHex(cfg.MasterKey)
	} else {
		master, err = keyring.LoadFile(cfg.KeyFile())
		if errors.Is(err, keyring.ErrNoKeyFile) {
			return fmt.Errorf("restore needs the master key the backup was made with: pass --master-key-file (or CREDTRACK_MASTER_KEY_FILE), or put it in %s", cfg.KeyFile())
		}
	}
	if err != nil {
		return err
	}
	// The data directory holds the downloaded backup while it is checked
	// (not /tmp, which may be a small tmpfs in a container).
	if err := prepareDataDir(cfg.DataDir); err != nil {
		return err
	}
	path := *file
	if path == "" {
		dst, err := backupTarget(ctx, cfg)
		if err != nil {
			return err
		}
		if dst == nil {
			fmt.Fprintln(m.Stderr, "credtrack restore: --name and --latest need --backup-dir or --backup-s3-bucket")
			return errUsage
		}
		if *latest {
			names, err := backup.List(ctx, dst)
			if err != nil {
				return err
			}
			if len(names) == 0 {
				return errors.New("there is no backup in the backup destination")
			}
			*name = names[0]
		}
		if path, err = backup.Fetch(ctx, dst, *name, cfg.DataDir); err != nil {
			return err
		}
		defer os.Remove(path)
	}
	bf, err := backup.Open(path, backupKeys(master))
	if err != nil {
		return err
	}
	defer bf.Close()
	h := bf.Header
	fmt.Fprintf(m.Stdout, "backup of %s: signature and integrity verified (%s database at schema version %d, taken %s, %d document blobs)\n",
		filepath.Base(path), h.Backend, h.SchemaVersion, h.CreatedAt.Format(time.RFC3339), len(h.Blobs))
	if *check {
		return nil
	}
	if h.KeyCheck != master.Check() {
		return sqlstore.ErrWrongKey
	}
	if (h.Backend == string(sqlstore.Postgres)) != (cfg.DatabaseURL != "") {
		return fmt.Errorf("the backup is of a %s database: restore it with %s", h.Backend,
			map[bool]string{true: "--database-url naming a new, empty PostgreSQL database", false: "no --database-url and an empty --data-dir"}[h.Backend == string(sqlstore.Postgres)])
	}
	blobs, _, err := openBlobs(ctx, cfg)
	if err != nil {
		return err
	}
	t := backup.Target{Blobs: blobs}
	if h.Backend == string(sqlstore.SQLite) {
		t.SQLitePath = cfg.SQLitePath()
		if err := bf.Restore(ctx, t); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(cfg.DataDir, keyCheckFile), []byte(master.Check()+"\n"), 0o600); err != nil {
			return err
		}
	} else {
		db, err := sqlstore.Open(ctx, storeOptions(cfg, master, nil))
		if err != nil {
			return err
		}
		t.Postgres = db
		err = bf.Restore(ctx, t)
		db.Close()
		if err != nil {
			return err
		}
	}
	fmt.Fprintln(m.Stdout, "data restored; verifying the audit chains")
	cfg.MasterKey = master.Hex()
	a, err := m.openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	// A backup from an older credtrack is brought up to this one's schema.
	if err := a.migrateOrCheck(ctx, true); err != nil {
		return err
	}
	broken, err := a.verifyAudit(ctx, m.Stdout, nil)
	if err != nil {
		return err
	}
	if broken > 0 {
		return fmt.Errorf("the restored data is in place, but %d audit chain(s) failed verification: investigate before serving it", broken)
	}
	// Only a restore whose chains verified is recorded, on the restored
	// instance's own chain, after the events it brought back.
	restored := *name // --latest has set it
	if restored == "" {
		restored = filepath.Base(*file)
	}
	ev := &credtrack.AuditEvent{Action: "backup.restored", TargetType: "backup", TargetID: restored, Outcome: credtrack.OutcomeSuccess,
		Details: map[string]string{"taken_at": h.CreatedAt.UTC().Format(time.RFC3339), "schema_version": strconv.Itoa(h.SchemaVersion),
			"backend": h.Backend, "blobs": strconv.Itoa(len(h.Blobs))}}
	if err := a.db.RecordEvent(credtrack.NewContextWithActor(ctx, credtrack.SystemActor("cli", "")), ev); err != nil {
		return fmt.Errorf("the restored data is in place and its audit chains verified, but the restore could not be recorded: %w", err)
	}
	fmt.Fprintln(m.Stdout, "restore complete")
	return nil
}
