// Package webhook is the "webhook" connector: it POSTs each transcript item
// as JSON to configured URLs, signed with HMAC-SHA256.
//
// Every request carries
//
//	X-Helpline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
//	X-Helpline-Delivery:  an id for (item, URL), the same on every retry
//	X-Helpline-Attempt:   1 on the first try, then 2, 3, ...
//
// A receiver verifies the signature with the shared secret, refuses stale
// timestamps, and drops a delivery id it has already processed: delivery is
// at least once, and the id makes it exactly once at the receiver.
//
// A 2xx answer is delivered; 408, 429, 5xx and network errors are retried
// (honouring Retry-After and rate-limit resets); a redirect, which is never
// followed, and any other status park the pair. The classification is the
// one every connector follows (connector/internal/outbound).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connector/internal/outbound"
)

func init() { helpline.RegisterConnectorKind("webhook", New) }

// Settings is the connector's configuration section.
type Settings struct {
	// URLs receive every item, each in its own request.
	URLs []string `yaml:"urls"`
	// SecretEnv names the environment variable holding the signing secret.
	SecretEnv string `yaml:"secret_env"`
	// Timeout bounds one request (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// BatchSize is how many items one delivery round takes (default 100).
	BatchSize int `yaml:"batch_size"`
}

// Connector posts items to webhook URLs.
type Connector struct {
	name   string
	urls   []string
	secret []byte
	batch  int
	client *http.Client
	policy outbound.Policy
	now    func() time.Time
}

var (
	_ helpline.Mirrorer    = (*Connector)(nil)
	_ helpline.Provisioner = (*Connector)(nil)
	_ helpline.Batcher     = (*Connector)(nil)
	_ io.Closer            = (*Connector)(nil)
)

// New builds a webhook connector from its configuration.
func New(cfg helpline.ConnectorConfig) (helpline.Connector, error) {
	var s Settings
	if err := cfg.Decode(&s); err != nil {
		return nil, fmt.Errorf("connector %s: %w", cfg.Name, err)
	}
	if len(s.URLs) == 0 {
		return nil, fmt.Errorf("connector %s: urls: at least one URL is required", cfg.Name)
	}
	for _, u := range s.URLs {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("connector %s: urls: %q is not an http(s) URL", cfg.Name, u)
		}
	}
	if s.SecretEnv == "" {
		return nil, fmt.Errorf("connector %s: secret_env is required", cfg.Name)
	}
	secret := cfg.Getenv(s.SecretEnv)
	if secret == "" {
		return nil, fmt.Errorf("connector %s: environment variable %s is empty", cfg.Name, s.SecretEnv)
	}
	if s.Timeout < 0 || s.BatchSize < 0 {
		return nil, fmt.Errorf("connector %s: timeout and batch_size must not be negative", cfg.Name)
	}
	if s.Timeout == 0 {
		s.Timeout = 10 * time.Second
	}
	if s.BatchSize == 0 {
		s.BatchSize = 100
	}
	return &Connector{
		name:   cfg.Name,
		urls:   s.URLs,
		secret: []byte(secret),
		batch:  s.BatchSize,
		client: outbound.NewClient(s.Timeout, newTransport()),
		policy: outbound.Policy{Now: helpline.Now},
		now:    helpline.Now,
	}, nil
}

// Provision takes the node's clock, which stamps the signatures and
// reads Retry-After dates.
func (c *Connector) Provision(ctx context.Context, node helpline.ConnectorNode) error {
	if node.Now != nil {
		c.now, c.policy.Now = node.Now, node.Now
	}
	return nil
}

// Close drops the connections kept open to the receivers.
func (c *Connector) Close() error {
	c.client.CloseIdleConnections()
	return nil
}

// maxIdlePerHost is how many idle connections to one receiver are kept
// for reuse: at least as many as deliveries run at once, so that busy
// mirroring reuses keep-alive connections instead of dialling for each
// request (Go's default keeps two).
const maxIdlePerHost = 256

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0 // no limit across hosts; per host below
	t.MaxIdleConnsPerHost = maxIdlePerHost
	return t
}

// Name is the configured name.
func (c *Connector) Name() string { return c.name }

// BatchSize is how many items one Mirror call takes.
func (c *Connector) BatchSize() int { return c.batch }

// Mirror posts the items in order, each to every URL at once, an item only
// after the one before it reached every URL. An item counts as delivered
// once every URL accepted it; a retry resends it to all of them with the
// same delivery ids. When several URLs fail, the error is the first URL's
// in configured order.
func (c *Connector) Mirror(ctx context.Context, b *helpline.MirrorBatch) (helpline.MirrorResult, error) {
	for i, it := range b.Items {
		if err := c.postAll(ctx, b, it); err != nil {
			return helpline.MirrorResult{Delivered: i}, err
		}
	}
	return helpline.MirrorResult{Delivered: len(b.Items)}, nil
}

// postAll posts it to every URL concurrently and returns the first URL's
// error, if any.
func (c *Connector) postAll(ctx context.Context, b *helpline.MirrorBatch, it *helpline.Item) error {
	if len(c.urls) == 1 {
		return c.post(ctx, c.urls[0], b, it)
	}
	errs := make([]error, len(c.urls))
	var wg sync.WaitGroup
	for i, u := range c.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.post(ctx, u, b, it)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *Connector) post(ctx context.Context, u string, b *helpline.MirrorBatch, it *helpline.Item) error {
	id := DeliveryID(it.ID, u)
	body, err := json.Marshal(newPayload(c.name, id, b, it))
	if err != nil {
		return &helpline.MirrorError{Permanent: true, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return &helpline.MirrorError{Permanent: true, Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Helpline-Webhook/1")
	req.Header.Set("X-Helpline-Signature", Sign(c.secret, c.now(), body))
	req.Header.Set("X-Helpline-Delivery", id)
	req.Header.Set("X-Helpline-Attempt", strconv.Itoa(b.Attempt+1))
	resp, err := c.client.Do(req)
	if err != nil {
		return c.policy.Classify(nil, fmt.Errorf("POST %s: %w", u, err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if me := c.policy.Classify(resp, nil); me != nil {
		me.Err = fmt.Errorf("POST %s: %w", u, me.Err)
		return me
	}
	return nil
}

// DeliveryID is the X-Helpline-Delivery of an item sent to a URL: the item
// id and a hash of the URL, so it is the same on every retry and differs
// between URLs.
func DeliveryID(itemID, url string) string {
	h := sha256.Sum256([]byte(url))
	return itemID + "." + hex.EncodeToString(h[:4])
}

// Sign returns the X-Helpline-Signature of body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}
