package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/helplinehq/helpline"
)

// Handoff reasons of the outside bots.
const (
	// ReasonBotUnavailable: the outside bot could not be reached, failed
	// or answered something that is not its API's answer.
	ReasonBotUnavailable = "bot_unavailable"
	// ReasonBotHandoff: the outside bot handed off and gave no reason.
	ReasonBotHandoff = "bot_handoff"
)

// Remote holds the settings every outside bot (Rasa, Watson Assistant)
// shares.
type Remote struct {
	// Queue is where the bot hands off unless it names a queue itself;
	// "" leaves the queue to the runner (the flow's).
	Queue string
	// Fallback is said to the customer when the bot cannot answer, before
	// the handoff; "" is DefaultFallback.
	Fallback string
	// Timeout bounds one HTTP request; 0 is 10 s.
	Timeout time.Duration
	// HTTP is the client requests go through; nil is a client with
	// Timeout that follows no redirects.
	HTTP *http.Client
	// Sleep waits between tries; nil waits on a timer, or until ctx is
	// done.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultFallback is what an outside bot says when it cannot answer.
const DefaultFallback = "Sorry, our assistant cannot answer right now. I am passing you to a person."

const (
	// maxRemoteBody bounds the bytes read of an outside bot's answer.
	maxRemoteBody = 1 << 20
	// retryPause is the wait before trying again a request that never
	// reached the bot.
	retryPause = 250 * time.Millisecond
	// maxRetryAfter is the longest Retry-After a 429 is waited out; a
	// longer one fails the turn (the customer should not wait longer).
	maxRetryAfter = 5 * time.Second
)

// remote is the HTTP side of an outside bot.
type remote struct {
	name     string // for the agent's summary: "Rasa", "Watson Assistant"
	http     *http.Client
	queue    string
	fallback string
	sleep    func(context.Context, time.Duration) error
}

func newRemote(name string, cfg Remote) (*remote, error) {
	if cfg.Queue != "" && !helpline.ValidName(cfg.Queue) {
		return nil, fmt.Errorf("bot: %s: queue %q must be 1 to 64 letters, digits, - or _", name, cfg.Queue)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("bot: %s: negative timeout", name)
	}
	r := &remote{name: name, http: cfg.HTTP, queue: cfg.Queue, fallback: cfg.Fallback, sleep: cfg.Sleep}
	if r.http == nil {
		timeout := cfg.Timeout
		if timeout == 0 {
			timeout = 10 * time.Second
		}
		r.http = &http.Client{
			Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if r.fallback == "" {
		r.fallback = DefaultFallback
	}
	if r.sleep == nil {
		r.sleep = sleep
	}
	return r, nil
}

// checkURL returns raw as an absolute http(s) URL without a trailing
// slash, or an error naming the setting.
func checkURL(setting, raw string) (string, error) {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s must be an http or https URL, not %q", setting, raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// answer is an HTTP answer, its body read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// request describes one HTTP request to send, perhaps several times.
type request struct {
	method, url string
	header      http.Header
	body        []byte
}

// send makes req, up to tries times in all, trying again only when the
// request surely did not reach the bot, so that a message is never taken
// in twice: the connection failed, a gateway answered 502, 503 or 504,
// or the bot answered 429 with a Retry-After of at most maxRetryAfter.
// A timeout is not tried again (the bot may have taken the message in).
// Any answer is returned, whatever its status; an error means there was
// none, or its body was larger than maxRemoteBody.
func (r *remote) send(ctx context.Context, tries int, req request) (*answer, error) {
	for try := 1; ; try++ {
		a, err := r.once(ctx, req)
		var wait time.Duration
		switch {
		case try >= tries || ctx.Err() != nil:
		case err != nil:
			if notSent(err) {
				wait = retryPause
			}
		case a.status == http.StatusBadGateway || a.status == http.StatusServiceUnavailable || a.status == http.StatusGatewayTimeout:
			wait = retryPause
		case a.status == http.StatusTooManyRequests:
			if secs, perr := strconv.Atoi(strings.TrimSpace(a.header.Get("Retry-After"))); perr == nil && secs >= 0 && time.Duration(secs)*time.Second <= maxRetryAfter {
				wait = max(time.Duration(secs)*time.Second, retryPause)
			}
		}
		if wait == 0 {
			return a, err
		}
		if err := r.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (r *remote) once(ctx context.Context, req request) (*answer, error) {
	hr, err := http.NewRequestWithContext(ctx, req.method, req.url, bytes.NewReader(req.body))
	if err != nil {
		return nil, err
	}
	for k, v := range req.header {
		hr.Header[k] = v
	}
	resp, err := r.http.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > maxRemoteBody {
		return nil, fmt.Errorf("an answer larger than %d bytes", maxRemoteBody)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// notSent reports whether err says the request never left: the
// connection could not be made.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// unavailable is the turn's response when the bot could not answer: the
// fallback message and a handoff saying why. State keeps st.
func (r *remote) unavailable(st State, text string, cause error) *Response {
	st.Choices = nil
	return &Response{
		Replies: []Reply{Text(r.fallback)},
		Handoff: &Handoff{Queue: r.queue, Reason: ReasonBotUnavailable,
			Summary: fmt.Sprintf("%s could not answer (%v). The customer's last message: %q", r.name, cause, text)},
		State: st,
	}
}

// attachment is the turn's response to a file: outside bots read text
// only, so a person takes over.
func (r *remote) attachment(st State) *Response {
	st.Choices = nil
	return &Response{State: st, Handoff: &Handoff{Queue: r.queue, Reason: ReasonAttachment,
		Summary: fmt.Sprintf("The customer sent a file, which %s cannot read.", r.name)}}
}

// handoffQueue returns the queue an outside bot named, if it is a valid
// queue name, or the configured one.
func (r *remote) handoffQueue(named string) string {
	if helpline.ValidName(named) {
		return named
	}
	return r.queue
}

// customerInput returns what to send an outside bot for the turn's item:
// the value of the quick reply the customer picked (tapped, or typed as
// shown), or what they said.
func customerInput(t *Turn) string {
	text := customerText(t.Item)
	if v, ok := t.State.Choices[strings.TrimSpace(text)]; ok {
		return v
	}
	return text
}

// choices returns the reply offering options (title → value) under
// title, and records them in st: a quick reply where the contact takes
// interactive messages, else the title and one option per line for the
// customer to type.
func choices(c *helpline.Contact, st *State, title string, options [][2]string) Reply {
	if title == "" {
		title = "Choose one:"
	}
	if st.Choices == nil {
		st.Choices = map[string]string{}
	}
	titles := make([]string, 0, len(options))
	for _, o := range options {
		titles = append(titles, o[0])
		st.Choices[o[0]] = o[1]
	}
	if c != nil && slices.Contains(c.SupportedContentTypes, helpline.ContentInteractive) {
		return QuickReply(c, title, titles...)
	}
	return Text(title + "\n" + strings.Join(titles, "\n"))
}

// imageReply returns a link to the image at raw, as markdown where the
// contact takes it, or false when raw is not an http(s) URL.
func imageReply(c *helpline.Contact, alt, raw string) (Reply, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Reply{}, false
	}
	if c != nil && slices.Contains(c.SupportedContentTypes, helpline.ContentMarkdown) {
		alt = strings.NewReplacer("[", "", "]", "", "\n", " ").Replace(alt)
		if alt == "" {
			alt = "image"
		}
		link := strings.NewReplacer("<", "%3C", ">", "%3E", " ", "%20").Replace(u.String())
		return Reply{ContentType: helpline.ContentMarkdown, Content: "![" + alt + "](<" + link + ">)"}, true
	}
	return Text(u.String()), true
}
