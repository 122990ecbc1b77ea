// Package outbound is the HTTP policy every connector follows towards
// its outside system: which outcomes are retried and which park the
// mirror pair, how long Retry-After and rate-limit headers ask to wait,
// an account-wide request limiter and a per-object pacer.
//
// One table (Classify) decides for every connector:
//
//	2xx             delivered (nil)
//	408, 429, 5xx   retryable, after Retry-After or the rate-limit reset
//	no answer       retryable: a timeout, a refused or reset connection,
//	                a name that did not resolve, a cancelled context
//	3xx             permanent: redirects are never followed (NewClient),
//	                and one from an API means a wrong base URL
//	other 4xx       permanent: the request itself is refused
//	anything else   permanent (1xx, out of range)
//
// A connector may name further 4xx statuses its system documents as
// passing (Policy.Retryable), each with the reason next to it.
package outbound

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/helplinehq/helpline"
)

// Policy judges the outcomes of one connector's requests. The zero value
// is the common policy.
type Policy struct {
	// Retryable lists 4xx statuses, besides 408 and 429, that the outside
	// system documents as passing, so that a retry later may succeed.
	Retryable []int
	// Now is the clock Retry-After dates and rate-limit resets are read
	// against; nil means time.Now.
	Now func() time.Time
}

// StatusError is an answer Classify found wanting: its status and, for a
// redirect, where it pointed.
type StatusError struct {
	Status   int
	Location string
}

func (e *StatusError) Error() string {
	if e.Status >= 300 && e.Status < 400 {
		return fmt.Sprintf("HTTP %d %s: redirected to %q; redirects are not followed, check the configured URL", e.Status, http.StatusText(e.Status), e.Location)
	}
	return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
}

// Classify judges one request's outcome: resp, or the error the client
// returned instead of an answer (resp nil). It returns nil for a 2xx
// answer, and otherwise a *helpline.MirrorError, retryable or permanent
// by the package's table, with RetryAfter set from the answer's
// Retry-After or rate-limit headers when it is retryable. Its Err is err
// for a failure to get an answer and a *StatusError for an answer; the
// caller may replace it with a richer description (the answer's body)
// and keep the classification. Classify does not read or close the body.
func (p Policy) Classify(resp *http.Response, err error) *helpline.MirrorError {
	if resp == nil {
		if err == nil {
			return nil
		}
		// No answer came: a timeout, a refused or reset connection, a
		// name that did not resolve, a cancelled context. Nothing says
		// the system refuses the request, so it is tried again.
		return &helpline.MirrorError{Err: err}
	}
	s := resp.StatusCode
	if s >= 200 && s <= 299 {
		return nil
	}
	se := &StatusError{Status: s}
	if s >= 300 && s <= 399 {
		se.Location = resp.Header.Get("Location")
	}
	if !p.retryable(s) {
		return &helpline.MirrorError{Permanent: true, Err: se}
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	wait, ok := RetryAfter(resp.Header, now)
	if !ok {
		wait = ResetWait(resp.Header, now, s == http.StatusTooManyRequests)
	}
	return &helpline.MirrorError{RetryAfter: wait, Err: se}
}

// retryable reports whether status s is worth trying again.
func (p Policy) retryable(s int) bool {
	switch {
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests:
		return true
	case s >= 500 && s <= 599:
		return true
	case s >= 400 && s <= 499:
		return slices.Contains(p.Retryable, s)
	}
	return false
}

// NewClient is the HTTP client connectors send with: requests time out
// after timeout (zero: never), go through transport (nil: the default),
// and a redirect is handed back as the answer, never followed. Following
// one would turn a POST into a GET on a 301, 302 or 303 that then counts
// as delivered, or send credentials to wherever the redirect points;
// Classify parks the pair with the redirect's target as the reason.
func NewClient(timeout time.Duration, transport http.RoundTripper) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
