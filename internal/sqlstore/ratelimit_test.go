package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// TestTakeToken checks the shared token bucket: burst requests pass, the
// next is refused with the time until a token is back, refused requests
// take nothing, the bucket refills with time, and buckets are per key.
func TestTakeToken(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		ctx := context.Background()
		take := func(key string) (bool, time.Duration) {
			t.Helper()
			ok, wait, err := db.TakeToken(ctx, key, 1.0/6, 3) // 10 a minute, 3 at once
			if err != nil {
				t.Fatal(err)
			}
			return ok, wait
		}
		for i := range 3 {
			if ok, _ := take("login:192.0.2.7"); !ok {
				t.Fatalf("request %d of the burst refused", i+1)
			}
		}
		for range 5 {
			ok, wait := take("login:192.0.2.7")
			if ok || wait < 5*time.Second || wait > 6*time.Second+time.Millisecond {
				t.Fatalf("over the burst: ok %v, wait %v (want about 6s)", ok, wait)
			}
		}
		if ok, _ := take("login:192.0.2.8"); !ok {
			t.Fatal("another address shares the bucket")
		}
		clock.Advance(6 * time.Second)
		if ok, _ := take("login:192.0.2.7"); !ok {
			t.Fatal("no token after the refill time (refused requests took tokens?)")
		}
		if ok, _ := take("login:192.0.2.7"); ok {
			t.Fatal("two tokens after one refill period")
		}
		clock.Advance(time.Hour)
		for range 3 {
			if ok, _ := take("login:192.0.2.7"); !ok {
				t.Fatal("bucket not full after an hour")
			}
		}
	})
}
