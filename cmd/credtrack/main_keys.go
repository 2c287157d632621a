package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"credtrack"
	"credtrack/internal/config"
	"credtrack/internal/jobs"
	"credtrack/internal/sqlstore"
)

// `credtrack keys rotate` and `credtrack keys status`: the per-organization
// data keys (issue 5, docs/keys.md). A rotation adds a new primary key to
// each organization's keyset, then re-encrypts every sealed value in
// batches, resumably, while servers keep serving; the old keys are
// disabled only when no value needs them. The command does the work itself
// and prints its progress; it also queues a "keys.rotation" job so that a
// running server finishes the rotation if the command is stopped (or at
// once with --detach).

// keyRotationJob is the job kind that continues a rotation in a server.
const keyRotationJob = "keys.rotation"

type keyRotationArgs struct {
	Rotation string `json:"rotation"`
}

// runKeys implements `credtrack keys rotate|status`.
func (m *Main) runKeys(ctx context.Context, args []string) error {
	verb, rest, err := m.subcommand("keys", args, "rotate", "status")
	if err != nil {
		return err
	}
	cfg := config.Default()
	var org *string
	var batch *int
	var detach *bool
	var grace *time.Duration
	var fs = m.newFlagSet("keys "+verb, "keys "+verb+" [flags]")
	if verb == "rotate" {
		fs = m.newFlagSet("keys rotate", "keys rotate [--org ORG] [--batch N] [--detach] [flags]")
		org = fs.String("org", "", "rotate only this organization's keys (ID or exact name); default: every organization and the instance keyset")
		batch = fs.Int("batch", 500, "rows re-encrypted per transaction")
		detach = fs.Bool("detach", false, "start the rotation and leave the re-encryption to the running server's background jobs")
		grace = fs.Duration("grace", sqlstore.RotationGrace, "wait after the new key before the final pass, for running servers to load it (0 only when no server runs)")
	}
	if err := parseErr(cfg.Load(fs, rest, m.Getenv, storeFlags...)); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(m.Stderr, "credtrack keys %s: unexpected argument %q\n", verb, fs.Arg(0))
		return errUsage
	}
	a, err := m.openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	if verb == "status" {
		return a.keysStatus(ctx, m.Stdout)
	}
	var orgs []string
	if *org != "" {
		o, err := a.resolveOrg(ctx, *org)
		if err != nil {
			return err
		}
		orgs = []string{o.ID}
	} else if orgs, err = a.db.RotationOrgs(ctx); err != nil {
		return err
	}
	var rots []*sqlstore.KeyRotation
	for _, id := range orgs {
		r, err := a.db.StartRotation(ctx, id)
		if err != nil {
			return err
		}
		rots = append(rots, r)
		verbText := "started"
		if r.RowsDone > 0 || r.Pass > 1 {
			verbText = "resumed"
		}
		fmt.Fprintf(m.Stdout, "%s: rotation %s %s, new primary key %d, %d rows to re-encrypt\n",
			orgLabel(id), r.ID, verbText, r.NewKeyID, r.RowsTotal)
		argsJSON, _ := json.Marshal(keyRotationArgs{Rotation: r.ID})
		if _, err := a.db.EnqueueJob(ctx, &credtrack.Job{Kind: keyRotationJob, Key: r.ID, OrgID: id, Args: argsJSON}); err != nil {
			return err
		}
	}
	if *detach {
		fmt.Fprintln(m.Stdout, "the running server re-encrypts in the background; follow it with `credtrack keys status`")
		return nil
	}
	for _, r := range rots {
		if err := m.followRotation(ctx, a, r, *batch, *grace); err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(m.Stdout, "stopped; the progress is saved: run `credtrack keys rotate` again, or a running server continues it")
			}
			return err
		}
	}
	return nil
}

// followRotation runs a rotation to its end, printing progress at most
// once a second and at each change of table or pass.
func (m *Main) followRotation(ctx context.Context, a *app, r *sqlstore.KeyRotation, batch int, grace time.Duration) error {
	label := orgLabel(r.OrgID)
	start, last := time.Now(), time.Time{}
	var lastKey string
	firstDone := r.Reencrypted
	done, err := a.db.RunRotation(ctx, r.ID, sqlstore.RotateOptions{Batch: batch, Grace: grace,
		Progress: func(p sqlstore.KeyRotation) {
			key := fmt.Sprintf("%d/%s/%t", p.Pass, p.Table, p.Waiting)
			if key == lastKey && time.Since(last) < time.Second && p.State == "running" {
				return
			}
			lastKey, last = key, time.Now()
			switch {
			case p.State != "running":
			case p.Waiting:
				fmt.Fprintf(m.Stdout, "%s: pass %d done; waiting up to %s for every server to load the new key before the final pass\n",
					label, p.Pass, grace)
			default:
				rate := float64(p.Reencrypted-firstDone) / time.Since(start).Seconds()
				fmt.Fprintf(m.Stdout, "%s: pass %d, %s, %d/%d rows, %d values re-encrypted (%.0f values/s)\n",
					label, p.Pass, orDash(p.Table), p.RowsDone, p.RowsTotal, p.Reencrypted, rate)
			}
		}})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s: completed in %s: %d values re-encrypted in %d passes; the old keys are disabled\n",
		label, time.Since(start).Round(time.Millisecond), done.Reencrypted, done.Pass)
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orgLabel(id string) string {
	if id == "" {
		return "instance"
	}
	return "organization " + id
}

// keysStatus prints every keyset's keys and the rotations.
func (a *app) keysStatus(ctx context.Context, w io.Writer) error {
	infos, err := a.db.KeyInfo(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "Data keys (AES-256-GCM, Tink keysets wrapped by the master key):")
	for _, in := range infos {
		var ks []string
		for _, k := range in.Keys {
			s := fmt.Sprint(k.ID)
			switch {
			case k.Primary:
				s += " (primary)"
			case !k.Enabled:
				s += " (disabled)"
			default:
				s += " (enabled)"
			}
			ks = append(ks, s)
		}
		fmt.Fprintf(w, "  %s: generation %d, keys %s\n", orgLabel(in.OrgID), in.Generation, strings.Join(ks, ", "))
	}
	rots, err := a.db.Rotations(ctx, false)
	if err != nil {
		return err
	}
	if len(rots) == 0 {
		fmt.Fprintln(w, "No rotations yet.")
		return nil
	}
	fmt.Fprintln(w, "Rotations (newest first):")
	for _, r := range rots {
		state := r.State
		if r.State == "running" {
			state = fmt.Sprintf("running: pass %d, %s, %d/%d rows", r.Pass, orDash(r.Table), r.RowsDone, r.RowsTotal)
		} else if !r.CompletedAt.IsZero() {
			state += " " + r.CompletedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "  %s %s: started %s, new key %d, %d values re-encrypted, %s\n",
			r.ID, orgLabel(r.OrgID), r.StartedAt.Format(time.RFC3339), r.NewKeyID, r.Reencrypted, state)
	}
	return nil
}

// errRotationPause stops a rotation job while it waits for the grace
// period; the job is queued again for when the wait ends.
var errRotationPause = errors.New("rotation waits")

// keyRotationJobs is the job kind with which servers continue rotations
// (started by `credtrack keys rotate`, stopped or detached). One job runs
// a bounded number of batches, then queues its successor, so that a long
// rotation never holds up a server's shutdown.
func keyRotationJobs(a *app) map[string]jobs.Kind {
	return map[string]jobs.Kind{keyRotationJob: {Handler: func(ctx context.Context, j *credtrack.Job) error {
		var args keyRotationArgs
		if err := json.Unmarshal(j.Args, &args); err != nil || args.Rotation == "" {
			return fmt.Errorf("keys.rotation job without a rotation: %v", err)
		}
		var wait time.Duration
		r, err := a.db.RunRotation(ctx, args.Rotation, sqlstore.RotateOptions{Grace: sqlstore.RotationGrace, StopAfter: 200,
			Sleep: func(_ context.Context, d time.Duration) error { wait = d; return errRotationPause }})
		if err != nil && !errors.Is(err, errRotationPause) {
			return err
		}
		if r != nil && r.State == "completed" {
			a.log.Info("key rotation completed", "rotation", r.ID, "reencrypted", r.Reencrypted)
			return nil
		}
		cur, err := a.db.Rotation(ctx, args.Rotation)
		if err != nil {
			return err
		}
		if cur.State != "running" {
			return nil
		}
		a.log.Info("key rotation progress", "rotation", cur.ID, "pass", cur.Pass, "rows_done", cur.RowsDone,
			"rows_total", cur.RowsTotal, "reencrypted", cur.Reencrypted)
		next := &credtrack.Job{Kind: keyRotationJob, OrgID: j.OrgID, Args: j.Args,
			Key: fmt.Sprintf("%s@%d", args.Rotation, cur.UpdatedAt.UnixMicro()), RunAfter: credtrack.Now().Add(wait)}
		_, err = a.db.EnqueueJob(ctx, next)
		return err
	}}}
}
