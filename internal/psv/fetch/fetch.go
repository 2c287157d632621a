// Package fetch is the HTTP client the primary-source adapters share: a
// per-source client-side rate limit, a timeout per attempt, retries with
// exponential backoff on network errors, 5xx and 429 (honouring a
// Retry-After in seconds, capped), a cap on the response size, and the
// evidence every verification keeps: the final HTTP status, the latency,
// the number of attempts and the SHA-256 of the raw body.
//
// Error messages never include the request URL: the URLs of the
// registries carry identifiers (an NPI in the query string).
package fetch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// Client fetches from one source. The zero value is not usable; use New.
type Client struct {
	// HTTP sends the requests; its Timeout bounds each attempt.
	HTTP *http.Client
	// Limiter spaces the requests to the source (every attempt waits).
	Limiter *rate.Limiter
	// MaxAttempts is how many times a request is tried in all (default 3).
	MaxAttempts int
	// Backoff is the wait before the second attempt; it doubles each time
	// up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxBody caps the response body in bytes (default 8 MiB).
	MaxBody int64
	// Sleep waits between attempts; tests replace it to record the waits
	// instead of sleeping. It returns early with ctx's error.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used to measure latency.
	Now func() time.Time
}

// Options configure New.
type Options struct {
	Timeout     time.Duration // per attempt; default 15 s
	RatePerSec  float64       // default 5
	Burst       int           // default 1
	MaxAttempts int           // default 3
	Backoff     time.Duration // default 500 ms
	MaxBackoff  time.Duration // default 8 s
	Transport   http.RoundTripper
}

// New returns a client with opts' settings (zero fields take defaults).
func New(opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	if opts.RatePerSec <= 0 {
		opts.RatePerSec = 5
	}
	if opts.Burst <= 0 {
		opts.Burst = 1
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 8 * time.Second
	}
	return &Client{
		HTTP:        &http.Client{Timeout: opts.Timeout, Transport: opts.Transport},
		Limiter:     rate.NewLimiter(rate.Limit(opts.RatePerSec), opts.Burst),
		MaxAttempts: opts.MaxAttempts, Backoff: opts.Backoff, MaxBackoff: opts.MaxBackoff,
		MaxBody: 8 << 20, Sleep: sleep, Now: time.Now,
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Response is the final answer of a request.
type Response struct {
	Status      int
	Body        []byte
	ContentType string
	Latency     time.Duration // of the final attempt
	Attempts    int
	SHA256      []byte
	// Waits are the backoff waits between attempts, in order.
	Waits []time.Duration
	// Header is the final response's header.
	Header http.Header
}

// Error is a request that got no usable answer. Status is the final HTTP
// status (0 when none came back). The message names no URL.
type Error struct {
	Status   int
	Attempts int
	Msg      string
	Response *Response // the last response, when there was one
}

func (e *Error) Error() string { return e.Msg }

// Do sends the request built by newReq (called once per attempt) and
// returns the first 2xx–4xx answer other than 429. A 5xx, a 429 or a
// network error is retried after a backoff; when the attempts run out the
// error is an *Error carrying the last response, if any.
func (c *Client) Do(ctx context.Context, newReq func(ctx context.Context) (*http.Request, error)) (*Response, error) {
	var waits []time.Duration
	var last *Response
	var lastMsg string
	wait := c.Backoff
	for attempt := 1; attempt <= c.MaxAttempts; attempt++ {
		if attempt > 1 {
			d := wait
			if last != nil && last.Status == http.StatusTooManyRequests {
				if ra := retryAfter(last); ra > d {
					d = min(ra, c.MaxBackoff)
				}
			}
			waits = append(waits, d)
			if err := c.Sleep(ctx, d); err != nil {
				return nil, &Error{Attempts: attempt - 1, Msg: "cancelled while waiting to retry"}
			}
			wait = min(wait*2, c.MaxBackoff)
		}
		if err := c.Limiter.Wait(ctx); err != nil {
			return nil, &Error{Attempts: attempt - 1, Msg: "cancelled while waiting for the rate limit"}
		}
		req, err := newReq(ctx)
		if err != nil {
			return nil, err
		}
		start := c.Now()
		resp, err := c.HTTP.Do(req)
		if err != nil {
			last, lastMsg = nil, "no answer: "+safeErr(err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, c.MaxBody+1))
		resp.Body.Close()
		r := &Response{Status: resp.StatusCode, Body: body, ContentType: resp.Header.Get("Content-Type"),
			Latency: c.Now().Sub(start), Attempts: attempt, Waits: waits}
		r.Header = resp.Header
		sum := sha256.Sum256(body)
		r.SHA256 = sum[:]
		if rerr != nil {
			last, lastMsg = r, "reading the answer failed: "+safeErr(rerr)
			continue
		}
		if int64(len(body)) > c.MaxBody {
			return nil, &Error{Status: r.Status, Attempts: attempt, Msg: fmt.Sprintf("the answer is larger than %d bytes", c.MaxBody), Response: r}
		}
		if r.Status >= 500 || r.Status == http.StatusTooManyRequests {
			last, lastMsg = r, fmt.Sprintf("HTTP %d", r.Status)
			continue
		}
		return r, nil
	}
	e := &Error{Attempts: c.MaxAttempts, Msg: lastMsg + " after " + strconv.Itoa(c.MaxAttempts) + " attempts", Response: last}
	if last != nil {
		e.Status = last.Status
		last.Waits = waits
	}
	return nil, e
}

// retryAfter reads a Retry-After given in seconds.
func retryAfter(r *Response) time.Duration {
	if r.Header == nil {
		return 0
	}
	s := r.Header.Get("Retry-After")
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}

// safeErr returns a network error's message without the request URL.
func safeErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}
