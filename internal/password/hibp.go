package password

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultHIBPBaseURL is the Pwned Passwords API of Have I Been Pwned.
const DefaultHIBPBaseURL = "https://api.pwnedpasswords.com"

// DefaultHIBPTimeout bounds a whole range request when HIBPChecker.Client is nil.
const DefaultHIBPTimeout = 3 * time.Second

// maxRangeBody caps the range response read (a padded answer is about 40 KB).
const maxRangeBody = 2 << 20

var defaultHIBPClient = &http.Client{Timeout: DefaultHIBPTimeout}

// HIBPChecker looks passwords up in Have I Been Pwned's breached-password
// corpus with the k-anonymity range API: only the first 5 hex digits of the
// password's SHA-1 leave the process, and responses are padded ("Add-Padding:
// true") so their size does not reveal the prefix either. It is optional and
// fails open (like Kratos' ignore_network_errors): when the service cannot be
// reached the password counts as not breached and Breached returns an error
// for the caller to log.
type HIBPChecker struct {
	BaseURL string       // default DefaultHIBPBaseURL
	Client  *http.Client // default: a client with DefaultHIBPTimeout
}

// ErrHIBPUnavailable wraps every reason the breach check could not be made.
var ErrHIBPUnavailable = errors.New("password: breached-password check unavailable")

// Breached reports whether pw appears in the breached-password corpus. When
// the check cannot be made (network error, timeout, non-200 answer, unreadable
// body) it returns false and an error wrapping ErrHIBPUnavailable: the caller
// accepts the password and logs a warning. The error never contains the
// password, its hash or the request URL.
func (c *HIBPChecker) Breached(ctx context.Context, pw string) (bool, error) {
	sum := sha1.Sum([]byte(pw))
	digest := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := digest[:5], digest[5:]

	base := DefaultHIBPBaseURL
	if c.BaseURL != "" {
		base = strings.TrimRight(c.BaseURL, "/")
	}
	client := c.Client
	if client == nil {
		client = defaultHIBPClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/range/"+prefix, nil)
	if err != nil {
		return false, fmt.Errorf("%w: bad base URL", ErrHIBPUnavailable)
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", "credtrack")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL, which carries the hash prefix
		}
		return false, fmt.Errorf("%w: %v", ErrHIBPUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%w: status %d", ErrHIBPUnavailable, resp.StatusCode)
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, maxRangeBody))
	for sc.Scan() {
		s, count, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok || !strings.EqualFold(s, suffix) {
			continue
		}
		// Padding lines carry a count of 0 and are not breaches.
		n, err := strconv.ParseInt(strings.TrimSpace(count), 10, 64)
		return err == nil && n > 0, nil
	}
	if err := sc.Err(); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return false, fmt.Errorf("%w: reading the answer: %v", ErrHIBPUnavailable, err)
	}
	return false, nil
}
