package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// openPostgres opens a pgx pool through database/sql. Reads and writes
// share the pool: PostgreSQL handles concurrent writers itself.
func (db *DB) openPostgres(ctx context.Context, opts Options) error {
	cfg, err := pgx.ParseConfig(opts.DatabaseURL)
	if err != nil {
		// pgx's message may echo the URL, password included; say less.
		return errors.New("database-url is not a valid PostgreSQL URL")
	}
	where := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
	s := stdlib.OpenDB(*cfg)
	s.SetMaxOpenConns(20)
	// As many idle connections as open ones: group commit releases requests in
	// bursts, and a smaller idle pool would close and reopen connections (a
	// new server process each) on every burst.
	s.SetMaxIdleConns(20)
	pctx, cancel := contextWithTimeout(ctx)
	defer cancel()
	if err := s.PingContext(pctx); err != nil {
		s.Close()
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return fmt.Errorf("PostgreSQL at %s refused the connection to database %q: %s (%s)", where, cfg.Database, pe.Message, pe.Code)
		}
		return fmt.Errorf("cannot reach PostgreSQL at %s: check that it is running and that --database-url is right", where)
	}
	db.write, db.read = s, s
	return nil
}

func pgUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// CreatePostgresDatabase creates a new, empty database next to the one
// baseURL names and returns its URL and a function that drops it. Tests
// use it so that each gets its own database and parallel runs never
// collide.
func CreatePostgresDatabase(ctx context.Context, baseURL, name string) (string, func() error, error) {
	cfg, err := pgx.ParseConfig(baseURL)
	if err != nil {
		return "", nil, errors.New("not a valid PostgreSQL URL")
	}
	admin := stdlib.OpenDB(*cfg)
	defer admin.Close()
	quoted := pgx.Identifier{name}.Sanitize()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+quoted); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() error {
		a := stdlib.OpenDB(*cfg)
		defer a.Close()
		_, err := a.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)")
		return err
	}
	return u.String(), drop, nil
}
