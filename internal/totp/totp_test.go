package totp

import (
	"bytes"
	"encoding/base32"
	"errors"
	"image"
	_ "image/png" // register the decoder for image.Decode
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// now is a fixed instant in the middle of a step (…, 15 s into it).
var now = time.Unix(1_800_000_015, 0)

func newSecret(t *testing.T) string {
	t.Helper()
	e, err := NewSecret("credtrack", "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	return e.Secret
}

// codeAt is the code an authenticator shows at step s.
func codeAt(t *testing.T, secret string, s int64) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, time.Unix(s*Period, 0), totp.ValidateOpts{
		Period: Period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewSecret(t *testing.T) {
	e, err := NewSecret("credtrack", "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil || len(raw) != SecretSize || len(e.Secret) != 32 {
		t.Fatalf("secret %q: %d bytes, err %v", e.Secret, len(raw), err)
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/credtrack:alice@example.org" ||
		q.Get("secret") != e.Secret || q.Get("issuer") != "credtrack" || q.Get("algorithm") != "SHA1" ||
		q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Fatalf("URL %s", e.URL)
	}
	e2, err := NewSecret("credtrack", "alice@example.org")
	if err != nil || e2.Secret == e.Secret {
		t.Fatalf("second secret %q equals first, err %v", e2.Secret, err)
	}
	for _, c := range [][2]string{{"", "a"}, {"x", ""}, {" ", "a"}, {"a:b", "c"}, {"a", "b:c"}} {
		if _, err := NewSecret(c[0], c[1]); err == nil {
			t.Errorf("NewSecret(%q, %q) accepted", c[0], c[1])
		}
	}
}

func TestValidateWindow(t *testing.T) {
	secret := newSecret(t)
	cur := Step(now)
	if cur != 1_800_000_015/30 {
		t.Fatalf("Step = %d", cur)
	}
	for _, tc := range []struct {
		name   string
		offset int64
		ok     bool
	}{
		{"current", 0, true},
		{"previous", -1, true},
		{"next", 1, true},
		{"two back", -2, false},
		{"three back", -3, false},
		{"two ahead", 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := codeAt(t, secret, cur+tc.offset)
			if !tc.ok {
				for d := int64(-Skew); d <= Skew; d++ {
					if code == codeAt(t, secret, cur+d) {
						t.Skip("codes of two steps collide (1 in a million)")
					}
				}
			}
			step, err := Validate(secret, code, now, 0)
			if tc.ok {
				if err != nil || step != cur+tc.offset {
					t.Fatalf("got step %d, %v; want %d", step, err, cur+tc.offset)
				}
			} else if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got step %d, %v; want ErrInvalid", step, err)
			}
		})
	}
}

func TestValidateEdgesOfStep(t *testing.T) {
	secret := newSecret(t)
	start := time.Unix(Step(now)*Period, 0)
	end := start.Add(Period*time.Second - time.Nanosecond)
	for _, at := range []time.Time{start, end} {
		step, err := Validate(secret, codeAt(t, secret, Step(now)), at, 0)
		if err != nil || step != Step(now) {
			t.Fatalf("at %v: step %d, %v", at, step, err)
		}
	}
}

func TestValidateReplay(t *testing.T) {
	secret := newSecret(t)
	cur := Step(now)
	code := codeAt(t, secret, cur)

	step, err := Validate(secret, code, now, 0)
	if err != nil || step != cur {
		t.Fatalf("first use: %d, %v", step, err)
	}
	// Same code again within the same 30 s, with the step persisted.
	if _, err := Validate(secret, code, now.Add(10*time.Second), step); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second use: %v, want ErrReplayed", err)
	}
	// And still within the window one step later.
	if _, err := Validate(secret, code, now.Add(Period*time.Second), step); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second use next step: %v, want ErrReplayed", err)
	}
	if errors.Is(ErrReplayed, ErrInvalid) || errors.Is(ErrInvalid, ErrReplayed) {
		t.Fatal("sentinels must be distinct")
	}
	// The previous step's code is also refused once the current one is used.
	if prev := codeAt(t, secret, cur-1); prev != code {
		if _, err := Validate(secret, prev, now, step); !errors.Is(err, ErrReplayed) {
			t.Fatalf("older code after newer: %v, want ErrReplayed", err)
		}
	}
	// A wrong code is ErrInvalid, not ErrReplayed, even when steps are used.
	wrong := "000000"
	if wrong == code || wrong == codeAt(t, secret, cur-1) || wrong == codeAt(t, secret, cur+1) {
		wrong = "999999"
	}
	if _, err := Validate(secret, wrong, now, step); !errors.Is(err, ErrInvalid) {
		t.Fatalf("wrong code: %v, want ErrInvalid", err)
	}
}

func TestValidateLaterStepAfterUsed(t *testing.T) {
	secret := newSecret(t)
	cur := Step(now)
	// The previous step's code was used (late typist)...
	first, err := Validate(secret, codeAt(t, secret, cur-1), now, 0)
	if err != nil || first != cur-1 {
		t.Fatalf("previous step: %d, %v", first, err)
	}
	// ...then the current one still works, and so does the next.
	next := codeAt(t, secret, cur)
	if next == codeAt(t, secret, cur-1) {
		t.Skip("codes collide")
	}
	second, err := Validate(secret, next, now, first)
	if err != nil || second != cur {
		t.Fatalf("current after previous: %d, %v", second, err)
	}
	third, err := Validate(secret, codeAt(t, secret, cur+1), now.Add(Period*time.Second), second)
	if err != nil || third != cur+1 {
		t.Fatalf("next step: %d, %v", third, err)
	}
}

func TestValidateMalformed(t *testing.T) {
	secret := newSecret(t)
	code := codeAt(t, secret, Step(now))
	for _, bad := range []string{
		"", " ", code[:5], code + "0", "12a456", "abcdef", "-12345", "+12345", "12345.",
		"１２３４５６",                               // full-width digits
		"\u0661\u0662\u0663\u0664\u0665\u0666", // Arabic-Indic digits
		code[:3] + "-" + code[3:],
	} {
		if step, err := Validate(secret, bad, now, 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%q) = %d, %v; want ErrInvalid", bad, step, err)
		}
	}
	for _, spaced := range []string{
		code[:3] + " " + code[3:], " " + code + " ", code[:2] + " " + code[2:4] + " " + code[4:], code + "\n",
	} {
		if step, err := Validate(secret, spaced, now, 0); err != nil || step != Step(now) {
			t.Errorf("Validate(%q) = %d, %v; want accepted", spaced, step, err)
		}
	}
}

func TestValidateBadSecret(t *testing.T) {
	for _, s := range []string{"", "not base32!", "GEZDGNBV"} { // empty, invalid, 5 bytes
		if _, err := Validate(s, "123456", now, 0); !errors.Is(err, ErrBadSecret) {
			t.Errorf("secret %q: %v, want ErrBadSecret", s, err)
		}
	}
	// Lower case, spaces and padding are accepted, as authenticator apps do.
	secret := newSecret(t)
	for _, s := range []string{strings.ToLower(secret), " " + secret[:16] + " " + secret[16:] + " ", secret + "===="} {
		if _, err := Validate(s, codeAt(t, secret, Step(now)), now, 0); err != nil {
			t.Errorf("secret %q: %v", s, err)
		}
	}
	// A seed whose length is not a multiple of 5 bytes, padded or not.
	padded := base32.StdEncoding.EncodeToString([]byte("123456789012345678901"))
	if !strings.HasSuffix(padded, "=") {
		t.Fatal("want a padded secret")
	}
	code := codeAt(t, padded, Step(now))
	for _, s := range []string{padded, strings.TrimRight(padded, "=")} {
		if _, err := Validate(s, code, now, 0); err != nil {
			t.Errorf("secret %q: %v", s, err)
		}
	}
}

// RFC 6238 Appendix B, SHA-1 rows, last six of the eight digits.
func TestRFC6238Vectors(t *testing.T) {
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	} {
		at := time.Unix(v.unix, 0)
		step, err := Validate(secret, v.code, at, 0)
		if err != nil || step != v.unix/30 {
			t.Errorf("T=%d: step %d, %v; want %d", v.unix, step, err, v.unix/30)
		}
		// The vector's step is the current one, so the code is refused
		// two steps later.
		if _, err := Validate(secret, v.code, at.Add(2*Period*time.Second), 0); !errors.Is(err, ErrInvalid) {
			t.Errorf("T=%d+60: %v, want ErrInvalid", v.unix, err)
		}
	}
}

func TestStep(t *testing.T) {
	for _, c := range []struct{ unix, step int64 }{
		{0, 0}, {29, 0}, {30, 1}, {59, 1}, {-1, -1}, {-30, -1}, {-31, -2}, {1 << 40, (1 << 40) / 30},
	} {
		if got := Step(time.Unix(c.unix, 0)); got != c.step {
			t.Errorf("Step(%d) = %d, want %d", c.unix, got, c.step)
		}
	}
}

func TestQRPNG(t *testing.T) {
	e, err := NewSecret("credtrack", "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{MinQRSize, 256, 301, MaxQRSize} {
		b, err := e.QRPNG(size)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		img, format, err := image.Decode(bytes.NewReader(b))
		if err != nil || format != "png" {
			t.Fatalf("size %d: decode %q, %v", size, format, err)
		}
		if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
			t.Fatalf("size %d: bounds %v", size, r)
		}
		// Quiet zone: the outer eighth on every side is white.
		m := size / 8
		for i := 0; i < size; i++ {
			for j := 0; j < m; j++ {
				for _, p := range [][2]int{{i, j}, {j, i}, {i, size - 1 - j}, {size - 1 - j, i}} {
					if r, g, b, _ := img.At(p[0], p[1]).RGBA(); r != 0xffff || g != 0xffff || b != 0xffff {
						t.Fatalf("size %d: pixel %v in the quiet zone is not white", size, p)
					}
				}
			}
		}
		// A code is drawn, in pure black and white.
		dark := 0
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				switch r, _, _, _ := img.At(x, y).RGBA(); r {
				case 0:
					dark++
				case 0xffff:
				default:
					t.Fatalf("size %d: grey pixel at %d,%d", size, x, y)
				}
			}
		}
		if dark == 0 {
			t.Fatalf("size %d: only %d dark pixels", size, dark)
		}
	}
	for _, size := range []int{0, -1, MinQRSize - 1, MaxQRSize + 1} {
		if _, err := e.QRPNG(size); err == nil {
			t.Errorf("size %d accepted", size)
		}
	}
	// An Enrollment rebuilt from its URL (e.g. kept in the session between
	// the enrolment page and the image request) renders too.
	if _, err := (&Enrollment{URL: e.URL}).QRPNG(200); err != nil {
		t.Fatal(err)
	}
}
