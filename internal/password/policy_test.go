package password_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"credtrack"
	"credtrack/internal/password"
)

// checkErr asserts that err is nil (want == "") or an EINVALID
// *credtrack.Error whose message contains want and never the password.
func checkErr(t *testing.T, name, pw string, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("%s: rejected: %v", name, err)
		}
		return
	}
	var e *credtrack.Error
	if !errors.As(err, &e) || e.Code != credtrack.EINVALID {
		t.Errorf("%s: got %v, want an EINVALID *credtrack.Error", name, err)
		return
	}
	if !strings.Contains(e.Message, want) {
		t.Errorf("%s: message %q does not contain %q", name, e.Message, want)
	}
	for _, s := range []string{e.Message, err.Error()} {
		if pw != "" && strings.Contains(strings.ToLower(s), strings.ToLower(pw)) {
			t.Errorf("%s: message %q contains the password", name, s)
		}
	}
}

const (
	tooShort   = "at least 8 characters"
	tooLong    = "at most 1024 characters"
	common     = "list of commonly used passwords"
	product    = "must not contain the product name"
	personal   = "must not contain your name, email address or organization name"
	tooEasy    = "too easy to guess"
	breachedIn = "appeared in a data breach"
)

var (
	passphrase64  = "quiet orange violin drifts past the harbor while seven gulls cry" // 64 runes
	passphrase128 = passphrase64 + " and the ferry hums across grey water toward sleepy island towns"
	user          = []string{"alice.smith@riverside-clinic.org", "Alice Smith", "Riverside Clinic"}
)

func TestPolicyCheck(t *testing.T) {
	if n := utf8.RuneCountInString(passphrase64); n != 64 {
		t.Fatalf("passphrase64 has %d runes", n)
	}
	if n := utf8.RuneCountInString(passphrase128); n != 128 {
		t.Fatalf("passphrase128 has %d runes", n)
	}
	p := password.NewPolicy()
	for _, tc := range []struct {
		name, pw string
		ctx      []string
		want     string // "" = accepted, else part of the message
	}{
		// Length, in runes, no composition rules (ASVS 6.2.1, 6.2.5, 6.2.9).
		{"empty", "", nil, tooShort},
		{"7 chars", "zq7#Lm2", nil, tooShort},
		{"3 runes, 9 bytes", "日本語", nil, tooShort},
		{"7 runes, 14 bytes", "äöüßéèà", nil, tooShort},
		{"1025 chars", strings.Repeat("quiet orange violin ", 52)[:1025], nil, tooLong},
		{"1024 chars", strings.Repeat("quiet orange violin ", 52)[:1024], nil, ""},
		{"long lowercase passphrase", "correct horse battery staple", nil, ""},
		{"four words", "bright meadow lantern river", nil, ""},
		{"64 chars", passphrase64, nil, ""},
		{"128 chars", passphrase128, nil, ""},
		{"all spaces inside", "   walnut   tiger   cloud   ", nil, ""},
		{"unicode", "Zürich Straße 42 ünd Käse", nil, ""},
		{"japanese", "日本語のパスワードです", nil, ""},
		{"emoji", "🐢 turtle 🚀 rocket 🌙 moon", nil, ""},
		{"greek", "καλημέρα κόσμε φίλε μου", nil, ""},

		// Common passwords, exact and with trailing digits/symbols (ASVS 6.2.4).
		{"common", "baseball", nil, common},
		{"common, other case", "BaseBall", nil, common},
		{"common + digits", "password1", nil, common},
		{"common + digits and symbol", "password123!", nil, common},
		{"season + year", "Summer2024!", nil, common},
		{"common + spaces and digits", "football 2026", nil, common},
		{"l33t entry", "p@ssw0rd", nil, common},
		{"entry zxcvbn scores 4", "1qa2ws3ed4rf", nil, common},
		{"entry ending in digits, more appended", "1qa2ws3ed4rf55!", nil, common},

		// Context words (ASVS 6.1.2, 6.2.11).
		{"product name", "Credtrack2026!", nil, product},
		{"product name inside", "mycredentialtrackpro", nil, product},
		{"old product name", "xCERTRACKERx77", nil, product},
		{"credential", "credentials are fun", nil, product},
		{"password word", "my password is long", nil, product},
		{"role", "coordinator of stuff", nil, product},
		{"role admin", "happyadmin2026 tulip", nil, product},
		{"email local part", "aliceinwonderland42", user, personal},
		{"surname", "zebra SMITH quantum", user, personal},
		{"email domain label", "moonlight riverside walk", user, personal},
		{"org word", "clinic gardens blue", user, personal},
		{"joined local part", "xyz-alicesmith-xyz", []string{"alice.smith@example.com"}, personal},
		{"short context words ignored", "maxwell jo ox bay", []string{"Jo Ox <jo@ox.io>"}, ""},
		{"context of other user", "moonlight riverside walk", nil, ""},

		// Strength (the "complexity requirement").
		{"repeat", "xxxxxxxxxxxxxxxx", nil, "avoid repeated characters"},
		{"sequence", "abcdefghijkl", nil, tooEasy},
		{"keyboard walk", "qwertyuiopasdf", nil, tooEasy},
		{"weak prefix of long password", strings.Repeat("z", 70) + "quiet orange violin", nil, tooEasy},
	} {
		err := p.Check(context.Background(), tc.pw, tc.ctx)
		checkErr(t, tc.name, tc.pw, err, tc.want)
	}
}

// TestExistingTestPasswords records the verdict on passwords that other
// packages' tests and the demo use, with the context they are used in, so
// that a policy change that rejects them is noticed.
func TestExistingTestPasswords(t *testing.T) {
	p := password.NewPolicy()
	mercy := []string{"coord@mercy.example", "Mercy General"}
	demo := []string{"owner@riverside.demo", "Riverside Health (demo)"}
	for _, tc := range []struct {
		pw   string
		ctx  []string
		want string
	}{
		{"bright meadow lantern", mercy, ""},
		{"a whole new passphrase", mercy, ""},
		{"a long enough passphrase", []string{"Owner@Mercy.example", "Mercy General"}, ""},
		{"another fine passphrase", mercy, ""},
		{"correct horse battery", nil, ""},
		{"a long passphrase", nil, ""},
		{"riverside-demo-2026", nil, ""},
		// The demo password contains its own organization's name.
		{"riverside-demo-2026", demo, personal},
	} {
		err := p.Check(context.Background(), tc.pw, tc.ctx)
		checkErr(t, tc.pw, tc.pw, err, tc.want)
		t.Logf("%-28q context %q → %v", tc.pw, tc.ctx, err)
	}
}

func TestMinLengthAndScore(t *testing.T) {
	ctx := context.Background()
	// MinLength can be raised but not lowered below 8.
	checkErr(t, "floor", "zq7#Lm2", (&password.Policy{MinLength: 4}).Check(ctx, "zq7#Lm2", nil), tooShort)
	checkErr(t, "raised", "walnut tiger", (&password.Policy{MinLength: 15}).Check(ctx, "walnut tiger", nil), "at least 15 characters")
	// The zero Policy is the production policy.
	checkErr(t, "zero policy common", "baseball", (&password.Policy{}).Check(ctx, "baseball", nil), common)
	checkErr(t, "zero policy weak", "abcdefghijkl", (&password.Policy{}).Check(ctx, "abcdefghijkl", nil), tooEasy)
	// A custom blocklist replaces the embedded one; a lower score is honoured.
	bl := password.NewBlocklist([]string{"Walnut Tiger"})
	loose := &password.Policy{MinScore: 1, Blocklist: bl}
	checkErr(t, "custom list", "walnut tiger", loose.Check(ctx, "WALNUT TIGER!!", nil), common)
	checkErr(t, "custom list, embedded off", "1qa2ws3ed4rf", loose.Check(ctx, "1qa2ws3ed4rf", nil), "")
}

func TestBlocklist(t *testing.T) {
	bl := password.CommonPasswords()
	t.Logf("embedded common-password list: %d entries", bl.Len())
	if bl.Len() < 10000 {
		t.Fatalf("common-password list has %d entries, want at least 10,000", bl.Len())
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{
		{"password", true},
		{"PassWord", true},
		{"password123!", true},
		{"password !!", true},
		{"dragon", true},
		{"123456", true},
		{"correct horse battery staple", false},
		{"passwordx", false}, // only trailing digits and symbols are stripped
		{"2password", false}, // ... and only trailing ones
	} {
		if got := bl.Contains(tc.pw); got != tc.want {
			t.Errorf("Contains(%q) = %v, want %v", tc.pw, got, tc.want)
		}
	}
	// The stripped form must keep at least 4 characters.
	short := password.NewBlocklist([]string{"abc", "abcd"})
	if short.Contains("abc12345") || !short.Contains("abcd12345") || !short.Contains("abc") {
		t.Error("stripped matches need at least 4 remaining characters")
	}
}

// TestBlocklistEntriesRejected checks every embedded entry that is long
// enough to pass the length rule.
func TestBlocklistEntriesRejected(t *testing.T) {
	p := password.NewPolicy()
	listed := p.Check(context.Background(), "baseball", nil).(*credtrack.Error).Message
	n := 0
	for _, w := range password.CommonPasswordList() {
		if utf8.RuneCountInString(w) < password.MinLength {
			continue
		}
		n++
		for _, pw := range []string{w, strings.ToUpper(w), w + "1!"} {
			err := p.Check(context.Background(), pw, nil)
			var e *credtrack.Error
			if !errors.As(err, &e) || e.Code != credtrack.EINVALID || e.Message != listed {
				t.Fatalf("list entry %q as %q: got %v", w, pw, err)
			}
		}
	}
	t.Logf("%d entries of 8 or more characters rejected", n)
	if n < 3000 {
		t.Fatalf("only %d entries fit the length rule; ASVS 6.2.4 wants 3000", n)
	}
}

func TestContextWords(t *testing.T) {
	got := password.ContextWords("Alice.Smith@Riverside-Clinic.org", "Dr. Zoë O'Neil")
	want := []string{"alice", "smith", "alicesmith", "riverside", "clinic", "org", "riversideclinicorg", "dr", "zoë", "o", "neil", "drzoëoneil"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("ContextWords = %q, want %q", got, want)
	}
}

// TestNoTruncation: a 100-character password and one differing only in its
// last character both pass the policy and hash differently.
func TestNoTruncation(t *testing.T) {
	a := (passphrase128)[:99] + "a"
	b := (passphrase128)[:99] + "b"
	p := password.NewPolicy()
	for _, pw := range []string{a, b} {
		if utf8.RuneCountInString(pw) != 100 {
			t.Fatal("want 100 characters")
		}
		if err := p.Check(context.Background(), pw, nil); err != nil {
			t.Fatal(err)
		}
	}
	h := password.NewHasher(password.Params{Time: 1, Memory: 1024, Threads: 1, KeyLen: 32, SaltLen: 16}, 1)
	enc, err := h.Hash(a)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify(enc, a) || h.Verify(enc, b) || h.Verify(enc, a[:72]) {
		t.Fatal("the hash does not cover all 100 characters")
	}
}

// TestStrengthCost bounds the work of the worst inputs for zxcvbn (l33t
// characters, digits) at the maximum length.
func TestStrengthCost(t *testing.T) {
	p := password.NewPolicy()
	for _, pw := range []string{
		"4@8({[<36!1|7+%$50259abcdefgilos", // the most l33t substitutions at the l33t length limit
		strings.Repeat("4@8({[<36!1|7+%$50259", 49)[:password.MaxLength],
		strings.Repeat("0123456789", 103)[:password.MaxLength],
		strings.Repeat("19/02-1990.", 94)[:password.MaxLength],
	} {
		start := time.Now()
		_ = p.Check(context.Background(), pw, user)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("checking a %d-character password took %v", len(pw), d)
		}
	}
}

func TestPolicyConcurrent(t *testing.T) {
	p := password.NewPolicy()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			pw := []string{"correct horse battery staple", "password1", "Credtrack2026!"}[i%3]
			want := []string{"", common, product}[i%3]
			checkErr(t, "concurrent", pw, p.Check(context.Background(), pw, user), want)
		})
	}
	wg.Wait()
}
