package outbound

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxWait caps the wait a header can ask for. A longer one is taken as
// MaxWait: the request is tried again then and the system asks anew,
// so a wrong header cannot stall a pair for days.
const MaxWait = time.Hour

// RetryAfter reads h's Retry-After, delta-seconds or an HTTP date, as a
// wait from now, at most MaxWait. ok is false when there is none or it
// cannot be read (a negative number, garbage); a date already past is a
// zero wait.
func RetryAfter(h http.Header, now time.Time) (wait time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, ok := deltaSeconds(v); ok {
		return secs, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return clampWait(t.Sub(now)), true
}

// deltaSeconds reads RFC 9110's delta-seconds: digits only.
func deltaSeconds(v string) (time.Duration, bool) {
	for _, r := range v {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > int64(MaxWait/time.Second) {
		// Out of range is still a number of seconds: a long one.
		return MaxWait, true
	}
	return time.Duration(n) * time.Second, true
}

// ResetWait is how long until the rate-limit window that h describes
// resets, when h says its budget is spent (remaining 0) or spent says so
// (a 429 is itself the sign); zero otherwise, or when h names no reset.
// It reads X-RateLimit-Remaining and X-RateLimit-Reset (Kustomer,
// Freshdesk, GitHub), then the IETF draft's RateLimit-Remaining and
// RateLimit-Reset (Zendesk's list endpoints), in any letter case. A reset
// is delta-seconds, or Unix seconds when it is over a billion, as some
// systems send; the wait is at most MaxWait.
func ResetWait(h http.Header, now time.Time, spent bool) time.Duration {
	for _, prefix := range []string{"X-RateLimit-", "RateLimit-"} {
		reset := strings.TrimSpace(h.Get(prefix + "Reset"))
		if reset == "" {
			continue
		}
		if !spent && strings.TrimSpace(h.Get(prefix+"Remaining")) != "0" {
			return 0
		}
		n, err := strconv.ParseFloat(reset, 64)
		if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
			return 0
		}
		switch {
		case n > 1e11: // past the year 5000: far off whatever it means
			return MaxWait
		case n > 1e9:
			sec, frac := math.Modf(n)
			return clampWait(time.Unix(int64(sec), int64(frac*1e9)).Sub(now))
		case n > MaxWait.Seconds():
			return MaxWait
		}
		return time.Duration(n * float64(time.Second))
	}
	return 0
}

// clampWait keeps d within 0 and MaxWait.
func clampWait(d time.Duration) time.Duration {
	return min(max(d, 0), MaxWait)
}
