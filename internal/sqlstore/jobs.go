package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"credtrack"
)

// EnqueueJob adds a job unless one with the same kind and key exists
// already, so that schedulers on several nodes may all enqueue "the
// hourly purge for 10:00" and it still runs once. It reports whether a
// job was added.
func (db *DB) EnqueueJob(ctx context.Context, j *credtrack.Job) (bool, error) {
	var added bool
	err := db.update(ctx, func(tx *Tx) error {
		j.ID, j.State, j.CreatedAt = credtrack.NewID(), "queued", tx.now
		if j.RunAfter.IsZero() {
			j.RunAfter = tx.now
		}
		args := string(j.Args)
		if args == "" {
			args = "{}"
		}
		var org any
		if j.OrgID != "" {
			org = j.OrgID
		}
		res, err := tx.exec(`INSERT INTO jobs (id, org_id, kind, key, args, state, run_after, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?) ON CONFLICT (kind, key) DO NOTHING`,
			j.ID, org, j.Kind, j.Key, args, ts(j.RunAfter), ts(tx.now), ts(tx.now))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		added = n == 1
		return nil
	})
	return added, err
}

// ClaimJob takes the oldest runnable job of the given kinds for worker,
// leasing it for lease. A job whose lease ran out (its worker died) is
// runnable again. On PostgreSQL, FOR UPDATE SKIP LOCKED lets several
// nodes claim concurrently without ever taking the same job; on SQLite
// the single writer serializes claims. ENOTFOUND when nothing is due.
func (db *DB) ClaimJob(ctx context.Context, worker string, kinds []string, lease time.Duration) (*credtrack.Job, error) {
	lock := ""
	if db.backend == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var j credtrack.Job
	err := db.update(ctx, func(tx *Tx) error {
		now := ts(tx.now)
		args := []any{ts(tx.now.Add(lease)), worker, now, now, now}
		for _, k := range kinds {
			args = append(args, k)
		}
		var org sql.NullString
		var runAfter, created sql.NullInt64
		var jargs string
		if err := tx.queryRow(`UPDATE jobs SET state = 'running', locked_until = ?, locked_by = ?, attempts = attempts + 1, updated_at = ?
			WHERE id = (SELECT id FROM jobs
				WHERE (state = 'queued' OR (state = 'running' AND locked_until < ?)) AND run_after <= ? AND kind IN (`+placeholders(len(kinds))+`)
				ORDER BY run_after, id LIMIT 1`+lock+`)
			RETURNING id, org_id, kind, key, args, attempts, run_after, created_at`, args...).Scan(
			&j.ID, &org, &j.Kind, &j.Key, &jargs, &j.Attempts, &runAfter, &created); err != nil {
			return err
		}
		// The handler needs the job's organization and arguments.
		j.OrgID, j.Args, j.RunAfter, j.CreatedAt, j.State = org.String, []byte(jargs), fromTS(runAfter), fromTS(created), "running"
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// FinishJob marks a claimed job done, or failed with its error text; a
// failed job with retryAfter > 0 is queued again for a later attempt.
func (db *DB) FinishJob(ctx context.Context, id string, jobErr error, retryAfter time.Duration) error {
	return db.update(ctx, func(tx *Tx) error {
		if jobErr == nil {
			_, err := tx.exec("UPDATE jobs SET state = 'done', progress = 100, locked_until = NULL, updated_at = ? WHERE id = ?", ts(tx.now), id)
			return err
		}
		state, runAfter := "failed", tx.now
		if retryAfter > 0 {
			state, runAfter = "queued", tx.now.Add(retryAfter)
		}
		msg := jobErr.Error()
		if len(msg) > 500 {
			msg = msg[:500]
		}
		_, err := tx.exec("UPDATE jobs SET state = ?, run_after = ?, locked_until = NULL, last_error = ?, updated_at = ? WHERE id = ?",
			state, ts(runAfter), msg, ts(tx.now), id)
		return err
	})
}

// PurgeSessions deletes sessions past their absolute lifetime or idle for
// longer than idle, and returns how many went. Audited as one
// "session.purged" system event.
func (db *DB) PurgeSessions(ctx context.Context, idle time.Duration) (int, error) {
	var n int64
	err := db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec("DELETE FROM sessions WHERE expires_at < ? OR last_seen_at < ?", ts(tx.now), ts(tx.now.Add(-idle)))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if n == 0 {
			return nil
		}
		return tx.appendEvent(&credtrack.AuditEvent{ActorKind: credtrack.ActorSystem, ActorID: "jobs", Action: "session.purged",
			Outcome: credtrack.OutcomeSuccess, Details: map[string]string{"count": itoa(int(n))}})
	})
	return int(n), err
}

// JobCounts returns the number of jobs in each state (queued, running,
// done, failed) and how many of the queued ones are due now, for the
// queue-depth metrics. Jobs are operational rows outside any
// organization, so this reads across all of them.
func (db *DB) JobCounts(ctx context.Context) (byState map[string]int, due int, err error) {
	byState = map[string]int{}
	err = db.view(ctx, func(tx *Tx) error {
		rows, err := tx.query("SELECT state, COUNT(*) FROM jobs GROUP BY state")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var state string
			var n int
			if err := rows.Scan(&state, &n); err != nil {
				return err
			}
			byState[state] = n
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return tx.queryRow("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND run_after <= ?", ts(tx.now)).Scan(&due)
	})
	return byState, due, err
}
