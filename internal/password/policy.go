package password

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ccojocar/zxcvbn-go"
	"github.com/ccojocar/zxcvbn-go/match"
	"github.com/ccojocar/zxcvbn-go/matching"

	"credtrack"
)

// DefaultMinScore is the zxcvbn score (0-4) a new password needs: 3 means an
// estimated 10^8 guesses or more, Authelia's default.
const DefaultMinScore = 3

// minContextLen is the shortest context word that is looked for inside a
// password; shorter ones ("jo", "org") would reject too many good passwords.
const minContextLen = 4

// Bounds on the strength estimate's work. zxcvbn's matching grows with the
// cube of the length, and its l33t matcher tries every substitution table
// (about 5 s for 128 l33t characters), so only the first strengthMaxBytes are
// scored, and l33t substitutions only for passwords up to l33tMaxBytes. A
// password whose first 64 bytes already score well is strong; one whose first
// 64 bytes are weak is rejected. Every other rule sees the whole password,
// and the password is hashed whole.
const (
	strengthMaxBytes = 64
	l33tMaxBytes     = 32
)

// builtinContext are the words nobody's password may contain: the product's
// names, the role names, and the words the sign-up form itself shows.
var builtinContext = func() []string {
	w := []string{"credtrack", "credentialtrack", "certracker", "credential", "password"}
	for _, r := range credtrack.Roles {
		w = append(w, string(r))
	}
	return w
}()

var builtinContextMessage = func() string {
	roles := make([]string, len(credtrack.Roles))
	for i, r := range credtrack.Roles {
		roles[i] = string(r)
	}
	return `the password must not contain the product name (CredentialTrack Pro, credtrack), the words "credential" or "password", or a role name (` +
		strings.Join(roles, ", ") + ")"
}()

// Policy decides whether a new password is acceptable (ASVS 5.0 6.2.x). The
// security page promises "minimum length is 8 characters with complexity
// requirements, and common and breached passwords are rejected at signup";
// the rules, in the order they are checked, are:
//
//   - Length: MinLength to MaxLength (1024) characters, counted in runes. The
//     password is neither truncated nor normalized, and every character,
//     spaces and emoji included, is allowed.
//   - Common passwords: not on Blocklist, compared case-insensitively, also
//     after stripping trailing digits and symbols ("Password123!").
//   - Context words: none of the product names, role names, "credential",
//     "password", or the caller's words about the user (email local part and
//     domain labels, name parts, organization name words) of 4 characters or
//     more, anywhere in the lowercased password (ASVS 6.1.2, 6.2.11).
//   - Strength: zxcvbn score at least MinScore, with the context words as
//     user inputs. This score is the "complexity requirement". It measures
//     how hard the password is to guess, and is deliberately not a
//     composition rule ("one upper case letter, one digit, one symbol"),
//     which ASVS 6.2.5 forbids: "correct horse battery staple" scores 4 and
//     passes, "Summer2024!" scores 0 (and is caught earlier as "summer").
//     Only the first 64 bytes are scored, to bound zxcvbn's cost.
//   - Breaches: when HIBP is set, not in Have I Been Pwned's corpus. The
//     check fails open: if the service is unreachable the password is
//     accepted and a warning is logged.
//
// Zero fields take the defaults, so Policy{} is the production policy
// without the online breach check: MinLength below 8 is raised to 8 (the
// security page's minimum), MinScore outside 1-4 becomes DefaultMinScore,
// and a nil Blocklist means CommonPasswords(). A Policy is safe for
// concurrent use.
type Policy struct {
	MinLength int
	MinScore  int
	Blocklist *Blocklist
	HIBP      *HIBPChecker // nil: no online breach check
	Logger    *slog.Logger // for the breach check's fail-open warnings; nil: slog.Default()
}

// NewPolicy returns the production policy without the online breach check.
func NewPolicy() *Policy {
	return &Policy{MinLength: MinLength, MinScore: DefaultMinScore, Blocklist: CommonPasswords()}
}

// Check returns nil if pw is acceptable as a new password, or a
// *credtrack.Error with code EINVALID whose message tells the user which rule
// failed. userContext holds what is known about the user and is split into
// words: their email address, name and organization name, for example. The
// password never appears in the message nor in a log.
func (p *Policy) Check(ctx context.Context, pw string, userContext []string) error {
	minLen := max(p.MinLength, MinLength)
	n := utf8.RuneCountInString(pw)
	if n < minLen {
		return credtrack.Errorf(credtrack.EINVALID, "the password must have at least %d characters", minLen)
	}
	if n > MaxLength {
		return credtrack.Errorf(credtrack.EINVALID, "the password must have at most %d characters", MaxLength)
	}

	bl := p.Blocklist
	if bl == nil {
		bl = CommonPasswords()
	}
	if bl.Contains(pw) {
		return credtrack.Errorf(credtrack.EINVALID,
			"the password is on a list of commonly used passwords, which attackers try first; a passphrase of several unrelated words is easy to remember and hard to guess")
	}

	lower := strings.ToLower(pw)
	for _, w := range builtinContext {
		if strings.Contains(lower, w) {
			return credtrack.Errorf(credtrack.EINVALID, "%s", builtinContextMessage)
		}
	}
	userWords := ContextWords(userContext...)
	for _, w := range userWords {
		if utf8.RuneCountInString(w) >= minContextLen && strings.Contains(lower, w) {
			return credtrack.Errorf(credtrack.EINVALID,
				"the password must not contain your name, email address or organization name")
		}
	}

	minScore := p.MinScore
	if minScore < 1 || minScore > 4 {
		minScore = DefaultMinScore
	}
	if score, hints, ok := p.strength(pw, append(userWords, builtinContext...)); ok && score < minScore {
		msg := "the password is too easy to guess"
		if len(hints) > 0 {
			msg += ": " + strings.Join(hints, "; ")
		}
		return credtrack.Errorf(credtrack.EINVALID, "%s; add another word or two: a passphrase of unrelated words is easy to remember and hard to guess", msg)
	}

	if p.HIBP != nil {
		breached, err := p.HIBP.Breached(ctx, pw)
		if err != nil {
			p.logger().WarnContext(ctx, "breached-password check skipped (fail-open)", "err", err)
		}
		if breached {
			return credtrack.Errorf(credtrack.EINVALID,
				"this password has appeared in a data breach, so attackers will try it; please choose a different one")
		}
	}
	return nil
}

func (p *Policy) logger() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

// ContextWords splits what is known about a user (email addresses, names,
// organization names) into the lowercase words a password must not contain:
// each run of letters and digits ("alice.smith@riverside-clinic.org" gives
// alice, smith, riverside, clinic, org), plus each part joined without its
// separators ("alicesmith"). Words shorter than 4 characters are returned
// too, for zxcvbn, but are not looked for inside passwords.
func ContextWords(inputs ...string) []string {
	var words []string
	seen := map[string]bool{}
	add := func(w string) {
		if w != "" && !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	for _, in := range inputs {
		for part := range strings.SplitSeq(strings.ToLower(in), "@") {
			fields := strings.FieldsFunc(part, func(r rune) bool {
				return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
			})
			for _, f := range fields {
				add(f)
			}
			if len(fields) > 1 {
				add(strings.Join(fields, ""))
			}
		}
	}
	return words
}

// strength returns pw's zxcvbn score and advice derived from the patterns
// zxcvbn found. ok is false if the estimator failed (it is third-party code
// run on arbitrary input); the strength rule is then skipped and a warning
// logged, since the other rules have already passed.
func (p *Policy) strength(pw string, inputs []string) (score int, hints []string, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			p.logger().Warn("password strength estimate failed; strength rule skipped", "panic", fmt.Sprint(r))
			score, hints, ok = 0, nil, false
		}
	}()
	s := pw
	if len(s) > strengthMaxBytes {
		cut := strengthMaxBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	var filters []func(match.Matcher) bool
	if len(s) > l33tMaxBytes {
		filters = append(filters, matching.FilterL33tMatcher)
	}
	r := zxcvbn.PasswordStrength(s, inputs, filters...)
	return r.Score, adviceFor(r.MatchSequence), true
}

// adviceFor turns the patterns of zxcvbn's cheapest guess into advice in the
// spirit of zxcvbn's own feedback (which this Go port lacks). It names kinds
// of weakness only, never the matched text, which is part of the password.
func adviceFor(seq []match.Match) []string {
	found := map[string]bool{}
	for _, m := range seq {
		switch {
		case m.Pattern == "dictionary" && strings.HasPrefix(m.DictionaryName, "user_inputs"):
			found["context"] = true
		case m.Pattern == "dictionary" && strings.HasPrefix(m.DictionaryName, "Passwords"):
			found["common"] = true
		case m.Pattern == "dictionary":
			found["word"] = true
		default:
			found[m.Pattern] = true
		}
		if strings.HasSuffix(m.DictionaryName, "_3117") {
			found["l33t"] = true
		}
	}
	var hints []string
	for _, h := range []struct{ key, text string }{
		{"context", "avoid words related to you, your organization or this site"},
		{"common", "avoid common passwords and their variations"},
		{"word", "single words and names are easy to guess"},
		{"l33t", "predictable substitutions like @ for a do not help much"},
		{"spatial", "avoid keyboard patterns like qwerty"},
		{"repeat", "avoid repeated characters and words"},
		{"sequence", "avoid sequences like abc or 6543"},
		{"date", "avoid dates and years"},
	} {
		if found[h.key] && len(hints) < 2 {
			hints = append(hints, h.text)
		}
	}
	return hints
}
