package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"sync/atomic"
	"time"
)

// rateLimitIdle is how long a bucket is kept after its last request: far
// longer than any throttle takes to refill, so deleting it loses nothing.
const rateLimitIdle = 10 * time.Minute

// lastRateSweep is when this process last deleted idle buckets (unix
// microseconds); the sweep runs at most once a minute per process.
var lastRateSweep atomic.Int64

// TakeToken takes one token from the bucket key, which refills at
// perSecond tokens a second up to burst, and reports whether there was
// one; when there was none it reports how long until there is. A refused
// request takes nothing. The read, refill and take are one atomic upsert,
// so concurrent requests on any number of nodes share one bucket: this is
// the per-address sign-in throttle of several serve processes
// (migrations/postgres/0009_rate_limits.sql).
func (db *DB) TakeToken(ctx context.Context, key string, perSecond float64, burst int) (bool, time.Duration, error) {
	if perSecond <= 0 || burst < 1 {
		return false, 0, errors.New("sqlstore: bad rate limit")
	}
	perMicro := perSecond / 1e6
	b := float64(burst)
	var ok bool
	var wait time.Duration
	err := db.update(ctx, func(tx *Tx) error {
		now := tx.now.UnixMicro()
		q := `INSERT INTO rate_limits (key, tokens, updated_at) VALUES ($1, $2::float8 - 1, $3)
			ON CONFLICT (key) DO UPDATE SET
				tokens = LEAST($2::float8, rate_limits.tokens + GREATEST(0, $3 - rate_limits.updated_at) * $4::float8) - 1,
				updated_at = GREATEST(rate_limits.updated_at, $3)
			WHERE LEAST($2::float8, rate_limits.tokens + GREATEST(0, $3 - rate_limits.updated_at) * $4::float8) >= 0.999999
			RETURNING tokens`
		if tx.db.backend == SQLite {
			q = `INSERT INTO rate_limits (key, tokens, updated_at) VALUES (?1, ?2 - 1, ?3)
			ON CONFLICT (key) DO UPDATE SET
				tokens = min(?2, rate_limits.tokens + max(0, ?3 - rate_limits.updated_at) * ?4) - 1,
				updated_at = max(rate_limits.updated_at, ?3)
			WHERE min(?2, rate_limits.tokens + max(0, ?3 - rate_limits.updated_at) * ?4) >= 0.999999
			RETURNING tokens`
		}
		// (0.999999 rather than 1: the refill is floating point, and a
		// bucket that has waited exactly the refill time must pass.)
		var left float64
		err := tx.tx.QueryRowContext(tx.ctx, q, key, b, now, perMicro).Scan(&left)
		if err == nil {
			ok = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var tokens float64
		var at int64
		if err := tx.queryRow("SELECT tokens, updated_at FROM rate_limits WHERE key = ?", key).Scan(&tokens, &at); err != nil {
			return err
		}
		have := math.Min(b, tokens+math.Max(0, float64(now-at))*perMicro)
		wait = time.Duration(math.Ceil((1-have)/perMicro)) * time.Microsecond
		if wait < time.Second {
			wait = time.Second
		}
		return nil
	})
	if err != nil {
		return false, 0, err
	}
	now := db.now().UnixMicro()
	if last := lastRateSweep.Load(); now-last > time.Minute.Microseconds() && lastRateSweep.CompareAndSwap(last, now) {
		db.update(context.WithoutCancel(ctx), func(tx *Tx) error {
			_, err := tx.exec("DELETE FROM rate_limits WHERE updated_at < ?", now-rateLimitIdle.Microseconds())
			return err
		})
	}
	return ok, wait, nil
}
