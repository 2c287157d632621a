package auth_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"credtrack"
	"credtrack/internal/auth"
	"credtrack/internal/mail"
	"credtrack/internal/mail/mailtest"
	"credtrack/internal/sqlstore"
	"credtrack/internal/storetest"
)

// strongPassword passes the production policy and has nothing in common
// with the test user's address.
const strongPassword = "violet harbour trombone quietly"

const baseURL = "https://credtrack.example"

// withMail points svc at a fresh in-process SMTP server.
func withMail(t *testing.T, svc *auth.Service) *mailtest.Server {
	t.Helper()
	srv := mailtest.NewServer(t)
	host, port := srv.Addr()
	sender, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: port, From: "credtrack <no-reply@credtrack.example>", TLS: mail.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	svc.Mail, svc.BaseURL = sender, baseURL
	return srv
}

// resetToken returns the token of the reset link in msg.
func resetToken(t *testing.T, msg mailtest.Captured) string {
	t.Helper()
	link := mailtest.LinkIn(msg.Text, baseURL+"/password/reset?token=")
	if link == "" {
		t.Fatalf("no reset link in %q", msg.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

func TestPasswordReset(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, _ := setup(t, db, clock)
		srv := withMail(t, svc)
		ctx := context.Background()

		// Unknown address: the same nil answer, and no email.
		if err := svc.RequestPasswordReset(ctx, "nobody@mercy.example"); err != nil {
			t.Fatalf("unknown address: %v", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("%d emails for an unknown address", n)
		}

		s1, _ := svc.Login(ctx, u.Email, "bright meadow lantern")
		s2, _ := svc.Login(ctx, u.Email, "bright meadow lantern")

		if err := svc.RequestPasswordReset(ctx, "Coord@Mercy.example"); err != nil {
			t.Fatal(err)
		}
		msgs := srv.WaitFor(t, 1, 5*time.Second)
		if len(msgs) != 1 || msgs[0].To[0] != u.Email {
			t.Fatalf("emails = %+v", msgs)
		}
		token := resetToken(t, msgs[0])

		// A password the policy rejects does not use up the link.
		if err := svc.ResetPassword(ctx, token, "password"); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("weak password: %v", err)
		}
		if err := svc.ResetPassword(ctx, token, strongPassword); err != nil {
			t.Fatalf("reset after a rejected password: %v", err)
		}
		// Every session ended, and the new password works.
		for _, s := range []string{s1, s2} {
			if _, _, _, err := svc.Session(ctx, s); credtrack.ErrorCode(err) != credtrack.EUNAUTHORIZED {
				t.Fatalf("session survived the reset: %v", err)
			}
		}
		if _, err := svc.Login(ctx, u.Email, strongPassword); err != nil {
			t.Fatalf("login with the new password: %v", err)
		}
		// The change is notified.
		msgs = srv.WaitFor(t, 2, 5*time.Second)
		if !strings.Contains(strings.ToLower(msgs[1].Subject), "password") {
			t.Fatalf("second email: %q", msgs[1].Subject)
		}

		// Second use of the link fails with the one message.
		err := svc.ResetPassword(ctx, token, strongPassword+" again")
		if credtrack.ErrorCode(err) != credtrack.EINVALID || !strings.Contains(credtrack.ErrorMessage(err), "invalid, already used or expired") {
			t.Fatalf("second use: %v", err)
		}
		if err := svc.ResetPassword(ctx, "made-up-token", strongPassword); credtrack.ErrorMessage(err) != credtrack.ErrorMessage(errOf(t, svc, ctx)) {
			t.Fatalf("unknown token: %v", err)
		}
	})
}

// errOf returns the error of an empty-token reset: the one message for
// every bad link.
func errOf(t *testing.T, svc *auth.Service, ctx context.Context) error {
	t.Helper()
	return svc.ResetPassword(ctx, "", strongPassword)
}

func TestPasswordResetExpiresAndIsRateLimited(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, _ := setup(t, db, clock)
		srv := withMail(t, svc)
		ctx := context.Background()

		if err := svc.RequestPasswordReset(ctx, u.Email); err != nil {
			t.Fatal(err)
		}
		token := resetToken(t, srv.WaitFor(t, 1, 5*time.Second)[0])
		clock.Advance(61 * time.Minute)
		if err := svc.ResetPassword(ctx, token, strongPassword); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("expired link: %v", err)
		}

		// Three more within the hour are sent; the fourth is not, but the
		// caller sees the same nil.
		for i := 0; i < 4; i++ {
			if err := svc.RequestPasswordReset(ctx, u.Email); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
		}
		srv.WaitFor(t, 4, 5*time.Second)
		time.Sleep(200 * time.Millisecond)
		if n := len(srv.Messages()); n != 4 {
			t.Fatalf("%d emails, want 4 (1 + 3 in the next hour)", n)
		}
		// An hour later the limit has passed.
		clock.Advance(time.Hour)
		if err := svc.RequestPasswordReset(ctx, u.Email); err != nil {
			t.Fatal(err)
		}
		srv.WaitFor(t, 5, 5*time.Second)
	})
}

func TestChangePassword(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, _ := setup(t, db, clock)
		srv := withMail(t, svc)
		ctx := context.Background()
		cur, _ := svc.Login(ctx, u.Email, "bright meadow lantern")
		other, _ := svc.Login(ctx, u.Email, "bright meadow lantern")

		if _, err := svc.ChangePassword(ctx, cur, "wrong", strongPassword); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("wrong current password: %v", err)
		}
		if _, _, _, err := svc.Session(ctx, other); err != nil {
			t.Fatalf("a refused change ended a session: %v", err)
		}
		if _, err := svc.ChangePassword(ctx, cur, "bright meadow lantern", "short"); credtrack.ErrorCode(err) != credtrack.EINVALID {
			t.Fatalf("weak new password: %v", err)
		}

		newTok, err := svc.ChangePassword(ctx, cur, "bright meadow lantern", strongPassword)
		if err != nil {
			t.Fatal(err)
		}
		if newTok == "" || newTok == cur {
			t.Fatal("the current session was not given a new token")
		}
		if _, _, _, err := svc.Session(ctx, cur); credtrack.ErrorCode(err) != credtrack.EUNAUTHORIZED {
			t.Fatalf("old token still works: %v", err)
		}
		if _, _, _, err := svc.Session(ctx, other); credtrack.ErrorCode(err) != credtrack.EUNAUTHORIZED {
			t.Fatalf("other session survived: %v", err)
		}
		if a, _, _, err := svc.Session(ctx, newTok); err != nil || a.ID != u.ID {
			t.Fatalf("current session with the new token: %v", err)
		}
		list, curID, err := svc.Sessions(ctx, newTok)
		if err != nil || len(list) != 1 || list[0].ID != curID {
			t.Fatalf("sessions after the change = %+v, %v", list, err)
		}
		srv.WaitFor(t, 1, 5*time.Second)
	})
}

func TestRevokeSessions(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, db *sqlstore.DB, clock *storetest.Clock) {
		svc, u, _ := setup(t, db, clock)
		ctx := context.Background()
		a, _ := svc.Login(ctx, u.Email, "bright meadow lantern")
		b, _ := svc.Login(ctx, u.Email, "bright meadow lantern")
		c, _ := svc.Login(ctx, u.Email, "bright meadow lantern")
		list, _, err := svc.Sessions(ctx, a)
		if err != nil || len(list) != 3 {
			t.Fatalf("Sessions = %+v, %v", list, err)
		}
		sb, _ := db.FindSessionByToken(ctx, b)
		if err := svc.RevokeSession(ctx, a, sb.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := svc.Session(ctx, b); err == nil {
			t.Fatal("revoked session still works")
		}
		if n, err := svc.RevokeOtherSessions(ctx, a); err != nil || n != 1 {
			t.Fatalf("RevokeOtherSessions = %d, %v", n, err)
		}
		if _, _, _, err := svc.Session(ctx, c); err == nil {
			t.Fatal("other session still works")
		}
		if _, _, _, err := svc.Session(ctx, a); err != nil {
			t.Fatalf("current session ended: %v", err)
		}
	})
}
