package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"credtrack/internal/blob"
	"credtrack/internal/config"
	"credtrack/internal/docs"
	"credtrack/internal/keyring"
	"credtrack/internal/mail"
	"credtrack/internal/password"
	"credtrack/internal/psv"
	"credtrack/internal/seal"
	"credtrack/internal/sqlstore"
)

// app is what every command that touches data opens: the configuration,
// the master key, the store and a logger.
type app struct {
	cfg    config.Config
	log    *slog.Logger
	master *keyring.Master
	db     *sqlstore.DB
	hasher *password.Hasher
	// blobs is the document blob store (S3 or DATA_DIR/blobs); /readyz
	// checks it.
	blobs blob.Store
	// docs stores documents encrypted in the local blob directory.
	docs *docs.Service
	// mail sends account emails; nil until newMailer or the demo sets it.
	mail mail.Sender
	// demoTOTPCode, set only by `credtrack demo`, gives the MFA prompt the
	// current code of a demo account (see web.Options.DemoTOTPCode).
	demoTOTPCode func(email string) (string, bool)
	// psv is the verification service, built by verification().
	psv *psv.Service
	// quietAlerts, set by `credtrack demo`, keeps alert and reminder
	// emails out of the demo's terminal (its demo data has dozens of
	// credentials expiring soon): they show on /alerts only.
	quietAlerts bool
}

// newMailer returns the SMTP sender when smtp-host is set, else fallback.
func newMailer(cfg config.Config, fallback mail.Sender) (mail.Sender, error) {
	if cfg.SMTPHost == "" {
		return fallback, nil
	}
	return mail.NewSMTP(mail.SMTPConfig{Host: cfg.SMTPHost, Port: int(cfg.SMTPPort), Username: cfg.SMTPUsername,
		Password: cfg.SMTPPassword, From: cfg.SMTPFrom, TLS: cfg.SMTPTLS})
}

func (a *app) Close() error {
	if a.db != nil {
		return a.db.Close()
	}
	return nil
}

func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// keyCheckFile sits beside the SQLite database and holds the master key's
// check value, so that a wrong key is named as such instead of as "file
// is not a database".
const keyCheckFile = "keycheck"

// openApp prepares the data directory, loads (or on first start creates)
// the master key and opens the store. It refuses, changing nothing, when
// the data directory is not writable, when a database exists but its key
// does not, or when the key does not match the data.
func (m *Main) openApp(ctx context.Context, cfg config.Config) (*app, error) {
	a := &app{cfg: cfg, log: newLogger(m.Stderr, cfg), hasher: password.NewHasher(password.Default, 4)}
	sqlite := cfg.DatabaseURL == ""
	if err := prepareDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	dbExists := fileExists(cfg.SQLitePath())
	var err error
	switch {
	case cfg.MasterKey != "":
		a.master, err = keyring.FromHex(cfg.MasterKey)
	default:
		a.master, err = keyring.LoadFile(cfg.KeyFile())
		if errors.Is(err, keyring.ErrNoKeyFile) {
			if sqlite && dbExists {
				return nil, fmt.Errorf("%s holds a database but no master.key: supply the key it was created with (--master-key-file or CREDTRACK_MASTER_KEY_FILE)", cfg.DataDir)
			}
			a.master, err = keyring.CreateFile(cfg.KeyFile())
			if err == nil {
				a.log.Info("generated a new master key; back it up: without it the data cannot be read", "file", cfg.KeyFile())
			}
		}
	}
	if err != nil {
		return nil, err
	}
	check := a.master.Check()
	if sqlite && dbExists {
		if b, err := os.ReadFile(filepath.Join(cfg.DataDir, keyCheckFile)); err == nil && strings.TrimSpace(string(b)) != check {
			return nil, sqlstore.ErrWrongKey
		}
	}
	a.db, err = sqlstore.Open(ctx, storeOptions(cfg, a.master, a.log))
	if err != nil {
		return nil, err
	}
	// Documents go to the S3 bucket of --blob-s3-* when set (shared by
	// several serve processes), else to DATA_DIR/blobs.
	if a.blobs, _, err = openBlobs(ctx, cfg); err != nil {
		a.Close()
		return nil, err
	}
	a.docs = &docs.Service{Store: a.db, Blobs: a.blobs, MaxSize: cfg.MaxUploadBytes}
	if sqlite {
		p := filepath.Join(cfg.DataDir, keyCheckFile)
		if !fileExists(p) {
			if err := os.WriteFile(p, []byte(check+"\n"), 0o600); err != nil {
				a.Close()
				return nil, fmt.Errorf("cannot write %s: %w", p, err)
			}
		}
	}
	return a, nil
}

// storeOptions are the options of the store cfg selects, with every key
// derived from the master key (openApp and restore use them).
func storeOptions(cfg config.Config, master *keyring.Master, log *slog.Logger) sqlstore.Options {
	return sqlstore.Options{
		DatabaseURL:       cfg.DatabaseURL,
		SQLitePath:        cfg.SQLitePath(),
		SQLiteSynchronous: cfg.SQLiteSynchronous,
		SQLiteKey:         master.Derive("sqlite-xts", 64),
		Sealer:            seal.New(master.Derive("field-encryption", 32), master.Derive("blind-index", 32)),
		AuditKey:          master.Derive("audit-chain", 32),
		KeyCheck:          master.Check(),
		Logger:            log,
	}
}

// prepareDataDir creates the data directory with mode 0700, or checks that
// an existing one is a writable directory.
func prepareDataDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("cannot create the data directory %s: %w", dir, errors.Unwrap(err))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot use the data directory %s: %w", dir, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return fmt.Errorf("the data directory %s is a file, not a directory", dir)
	}
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("the data directory %s is not writable by this user: fix its permissions or choose another --data-dir", dir)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// migrateOrCheck applies pending migrations (migrate=true) or refuses an
// outdated schema; a schema newer than the binary is always refused.
func (a *app) migrateOrCheck(ctx context.Context, migrate bool) error {
	if migrate {
		n, err := a.db.Migrate(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			a.log.Info("database migrated", "applied", n)
		}
		return nil
	}
	if err := a.db.CheckSchema(ctx); err != nil {
		return err
	}
	return a.db.CheckKey(ctx)
}
