package sqlstore_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"

	pqtotp "github.com/pquerna/otp/totp"
)

const mfaSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// mfaSession creates a user with TOTP (seed mfaSecret) and n sessions.
func mfaSession(t *testing.T, db *sqlstore.DB, email string, n int) (*credtrack.User, []string) {
	t.Helper()
	ctx, _ := storetest.NewOrg(t, db, "Org "+email)
	u := &credtrack.User{Email: email, PasswordHash: "x"}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := db.SetTOTP(ctx, u.ID, mfaSecret); err != nil {
		t.Fatal(err)
	}
	var toks []string
	for i := 0; i < n; i++ {
		tok, err := db.CreateSession(context.Background(), &credtrack.Session{UserID: u.ID}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	return u, toks
}

// TestTOTPSeedSealed: the seed is not stored in plain text, and a sealed
// seed copied to another user's row does not open there.
func TestTOTPSeedSealed(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		a, ta := mfaSession(t, db, "a@seal.example", 1)
		b, tb := mfaSession(t, db, "b@seal.example", 1)
		q := func(s string) string {
			if db.Backend() == sqlstore.Postgres {
				return map[string]string{
					"sel": "SELECT totp_secret_enc FROM users WHERE id = $1",
					"upd": "UPDATE users SET totp_secret_enc = $1 WHERE id = $2"}[s]
			}
			return map[string]string{
				"sel": "SELECT totp_secret_enc FROM users WHERE id = ?",
				"upd": "UPDATE users SET totp_secret_enc = ? WHERE id = ?"}[s]
		}
		var sealed []byte
		if err := db.WriteDB().QueryRow(q("sel"), a.ID).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if len(sealed) == 0 || bytes.Contains(sealed, []byte(mfaSecret)) {
			t.Fatalf("seed stored as %q", sealed)
		}
		code, _ := pqtotp.GenerateCode(mfaSecret, clock.Now())
		if _, err := db.VerifyTOTP(context.Background(), ta[0], code); err != nil {
			t.Fatalf("own seed: %v", err)
		}
		if _, err := db.WriteDB().Exec(q("upd"), sealed, b.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.VerifyTOTP(context.Background(), tb[0], code); err == nil || credtrack.ErrorCode(err) == credtrack.EINVALID {
			t.Fatalf("a seed moved to another user opened there: %v", err)
		}
	})
}

// TestTOTPConcurrentSameCode: of several requests with the same code at
// once, exactly one passes.
func TestTOTPConcurrentSameCode(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		_, toks := mfaSession(t, db, "race@seal.example", 4)
		code, _ := pqtotp.GenerateCode(mfaSecret, clock.Now())
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for _, tok := range toks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if res, err := db.VerifyTOTP(context.Background(), tok, code); err == nil && res.Token != "" {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d requests passed with one code, want 1", ok)
		}
	})
}
