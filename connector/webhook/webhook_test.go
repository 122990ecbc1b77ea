package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/webhook"
	"github.com/helplinehq/helpline/connector/webhook/webhooktest"
)

func newConnector(t *testing.T, urls ...string) helpline.Mirrorer {
	t.Helper()
	c, err := webhook.New(helpline.ConnectorConfig{
		Name: "hooks",
		Decode: func(v any) error {
			*v.(*webhook.Settings) = webhook.Settings{URLs: urls, SecretEnv: "HOOK_SECRET", Timeout: 2 * time.Second}
			return nil
		},
		Getenv: func(string) string { return "hook-secret" },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c.(helpline.Mirrorer)
}

func batch(texts ...string) *helpline.MirrorBatch {
	b := &helpline.MirrorBatch{Contact: &helpline.Contact{ID: "c1", InstanceID: "i1", State: helpline.ContactActive}}
	for i, text := range texts {
		b.Items = append(b.Items, &helpline.Item{
			ContactID: "c1", ID: "item-" + text, Seq: int64(i + 1), Type: helpline.ItemMessage,
			ContentType: helpline.ContentPlain, Content: text, Role: helpline.RoleCustomer, Time: time.Now(),
		})
	}
	return b
}

func contents(r *webhooktest.Receiver) string {
	var out []string
	for _, d := range r.Deliveries() {
		out = append(out, d.Content)
	}
	return strings.Join(out, "|")
}

// Every item goes to every URL, in order at each.
func TestMirrorToSeveralURLs(t *testing.T) {
	a, b := webhooktest.NewReceiver("hook-secret"), webhooktest.NewReceiver("hook-secret")
	defer a.Close()
	defer b.Close()
	res, err := newConnector(t, a.URL, b.URL).Mirror(context.Background(), batch("one", "two", "three"))
	if err != nil || res.Delivered != 3 {
		t.Fatalf("Mirror = %+v, %v; want 3 delivered", res, err)
	}
	for _, r := range []*webhooktest.Receiver{a, b} {
		if got := contents(r); got != "one|two|three" {
			t.Errorf("receiver got %s, want one|two|three", got)
		}
	}
	if a.Deliveries()[0].ID == b.Deliveries()[0].ID {
		t.Errorf("one delivery id for two URLs: %s", a.Deliveries()[0].ID)
	}
}

// An item one URL refuses is not delivered, and the items after it are
// not sent; the error is the failing URL's.
func TestMirrorStopsAtAFailingURL(t *testing.T) {
	a, b := webhooktest.NewReceiver("hook-secret"), webhooktest.NewReceiver("hook-secret")
	defer a.Close()
	defer b.Close()
	c := newConnector(t, a.URL, b.URL)
	if _, err := c.Mirror(context.Background(), batch("one")); err != nil {
		t.Fatal(err)
	}
	b.Fail(webhooktest.Failure{Count: 1, Status: 503, RetryAfter: "7"})
	res, err := c.Mirror(context.Background(), batch("two", "three"))
	var merr *helpline.MirrorError
	if res.Delivered != 0 || !errors.As(err, &merr) || merr.Permanent || merr.RetryAfter != 7*time.Second || !strings.Contains(err.Error(), b.URL) {
		t.Fatalf("Mirror = %+v, %v; want nothing delivered, a retryable error of %s after 7s", res, err, b.URL)
	}
	if got := contents(a); got != "one|two" {
		t.Errorf("healthy receiver got %s, want one|two (three waits for two)", got)
	}
	b.Fail(webhooktest.Failure{Count: 1, Status: 400})
	if _, err := c.Mirror(context.Background(), batch("two")); !errors.As(err, &merr) || !merr.Permanent {
		t.Errorf("a 400 gave %v, want a permanent failure", err)
	}
}

// Receivers' answers are classified as every connector's are: a redirect
// is not followed (a 302 would turn the POST into a GET elsewhere) and
// parks the pair naming its target, 408 retries, and Retry-After may be an
// HTTP date, read against the connector's clock.
func TestMirrorOutcomesFollowTheOutboundPolicy(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 42, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		status    int
		header    []string
		permanent bool
		wait      time.Duration
		reason    string
	}{
		{"redirect parks", http.StatusFound, []string{"Location", "/moved"}, true, 0, `redirected to "/moved"`},
		{"408 retries", http.StatusRequestTimeout, nil, false, 0, "408"},
		{"Retry-After as a date", http.StatusServiceUnavailable, []string{"Retry-After", now.Add(time.Minute).Format(http.TimeFormat)}, false, time.Minute, "503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits = append(hits, r.Method+" "+r.URL.Path)
				for i := 0; i < len(tc.header); i += 2 {
					w.Header().Set(tc.header[i], tc.header[i+1])
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			c, err := webhook.New(helpline.ConnectorConfig{
				Name: "hooks",
				Decode: func(v any) error {
					*v.(*webhook.Settings) = webhook.Settings{URLs: []string{srv.URL + "/hook"}, SecretEnv: "HOOK_SECRET"}
					return nil
				},
				Getenv: func(string) string { return "hook-secret" },
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.(helpline.Provisioner).Provision(context.Background(), helpline.ConnectorNode{Now: func() time.Time { return now }}); err != nil {
				t.Fatal(err)
			}
			res, err := c.(helpline.Mirrorer).Mirror(context.Background(), batch("one"))
			var merr *helpline.MirrorError
			if res.Delivered != 0 || !errors.As(err, &merr) {
				t.Fatalf("Mirror = %+v, %v; want nothing delivered and a *MirrorError", res, err)
			}
			if merr.Permanent != tc.permanent || merr.RetryAfter != tc.wait || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %v (permanent %v, retry after %v); want permanent %v, retry after %v, naming %q", err, merr.Permanent, merr.RetryAfter, tc.permanent, tc.wait, tc.reason)
			}
			if len(hits) != 1 || hits[0] != "POST /hook" {
				t.Errorf("receiver saw %q, want one POST /hook", hits)
			}
		})
	}
}
