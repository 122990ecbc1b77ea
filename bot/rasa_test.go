package bot

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/bot/rasatest"
)

// pauses records the waits a bot asks for instead of waiting.
type pauses struct {
	mu sync.Mutex
	d  []time.Duration
}

func (p *pauses) sleep(ctx context.Context, d time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.d = append(p.d, d)
	return ctx.Err()
}

func (p *pauses) all() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.d...)
}

func newRasa(t *testing.T, srv *rasatest.Server, p *pauses) *Rasa {
	t.Helper()
	b, err := NewRasa(RasaConfig{URL: srv.WebhookURL(), Remote: Remote{Queue: "support", Timeout: 2 * time.Second, Sleep: p.sleep}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func plainContact() *helpline.Contact {
	return &helpline.Contact{ID: "c1", CustomerID: "cust-1", Attributes: map[string]string{"plan": "gold"},
		SupportedContentTypes: []string{helpline.ContentPlain}}
}

func richContact() *helpline.Contact {
	return &helpline.Contact{ID: "c2", SupportedContentTypes: []string{helpline.ContentPlain, helpline.ContentMarkdown, helpline.ContentInteractive}}
}

func textItem(s string) *helpline.Item {
	return &helpline.Item{Type: helpline.ItemMessage, Role: helpline.RoleCustomer, ContentType: helpline.ContentPlain, Content: s}
}

// pickItem is the interactive response of a customer who tapped title.
func pickItem(title string) *helpline.Item {
	b, _ := json.Marshal(map[string]any{"templateType": "QuickReply", "version": "1.0",
		"data": map[string]any{"content": map[string]any{"title": title, "selectedIndex": 0}}})
	return &helpline.Item{Type: helpline.ItemMessage, Role: helpline.RoleCustomer, ContentType: helpline.ContentInteractiveResponse, Content: string(b)}
}

func turnOf(t *testing.T, b Bot, c *helpline.Contact, st State, it *helpline.Item) *Response {
	t.Helper()
	resp, err := b.Turn(context.Background(), &Turn{Contact: c, Customer: Customer{ID: c.CustomerID, Name: "Ada", Email: "ada@example.com"}, State: st, Item: it})
	if err != nil {
		t.Fatalf("turn: %v", err)
	}
	return resp
}

// quickReplyTitles returns the title and the options of an interactive
// QuickReply, failing the test on anything else.
func quickReplyTitles(t *testing.T, r Reply) (string, []string) {
	t.Helper()
	if r.ContentType != helpline.ContentInteractive {
		t.Fatalf("reply %q is %s, want an interactive message", r.Content, r.ContentType)
	}
	var m struct {
		TemplateType string `json:"templateType"`
		Data         struct {
			Content struct {
				Title    string `json:"title"`
				Elements []struct {
					Title string `json:"title"`
				} `json:"elements"`
			} `json:"content"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.Content), &m); err != nil || m.TemplateType != "QuickReply" {
		t.Fatalf("reply %q is not a QuickReply (%v)", r.Content, err)
	}
	var opts []string
	for _, e := range m.Data.Content.Elements {
		opts = append(opts, e.Title)
	}
	return m.Data.Content.Title, opts
}

func TestRasaReplies(t *testing.T) {
	srv := rasatest.NewServer()
	defer srv.Close()
	srv.On("hello", rasatest.Message{Text: "Hi Ada!"}, rasatest.Message{Text: "How can I help?"})
	b := newRasa(t, srv, &pauses{})

	c := plainContact()
	resp := turnOf(t, b, c, State{}, textItem("hello"))
	if len(resp.Replies) != 2 || resp.Replies[0] != Text("Hi Ada!") || resp.Replies[1] != Text("How can I help?") {
		t.Fatalf("replies %+v", resp.Replies)
	}
	if resp.Handoff != nil || resp.End {
		t.Fatalf("handoff %+v end %v, want neither", resp.Handoff, resp.End)
	}
	got := srv.Received()
	if len(got) != 1 || got[0].Sender != "c1" || got[0].Message != "hello" {
		t.Fatalf("Rasa received %+v", got)
	}
	md := got[0].Metadata
	customer, _ := md["customer"].(map[string]any)
	attrs, _ := md["attributes"].(map[string]any)
	if md["contact_id"] != "c1" || customer["email"] != "ada@example.com" || customer["id"] != "cust-1" || attrs["plan"] != "gold" {
		t.Errorf("metadata %v", md)
	}

	// No rule: Rasa answers [] and the bot says nothing.
	resp = turnOf(t, b, c, State{}, textItem("something else"))
	if len(resp.Replies) != 0 || resp.Handoff != nil {
		t.Errorf("an empty answer gave %+v", resp)
	}
}

func TestRasaButtonsBecomeQuickReplies(t *testing.T) {
	srv := rasatest.NewServer()
	defer srv.Close()
	srv.On("shipping", rasatest.Message{Text: "Where to?", Buttons: []rasatest.Button{
		{Title: "Germany", Payload: `/ship{"country":"de"}`}, {Title: "France", Payload: `/ship{"country":"fr"}`}}})
	srv.On(`/ship{"country":"de"}`, rasatest.Message{Text: "5 EUR to Germany."})
	b := newRasa(t, srv, &pauses{})

	c := richContact()
	resp := turnOf(t, b, c, State{}, textItem("shipping"))
	if len(resp.Replies) != 1 {
		t.Fatalf("replies %+v", resp.Replies)
	}
	title, opts := quickReplyTitles(t, resp.Replies[0])
	if title != "Where to?" || strings.Join(opts, "|") != "Germany|France" {
		t.Fatalf("quick reply %q %q", title, opts)
	}
	// Tapping a button sends Rasa its payload.
	resp = turnOf(t, b, c, resp.State, pickItem("Germany"))
	if len(resp.Replies) != 1 || resp.Replies[0] != Text("5 EUR to Germany.") {
		t.Fatalf("after the pick: %+v", resp.Replies)
	}
	if resp.State.Choices != nil {
		t.Errorf("choices %v kept after an answer without buttons", resp.State.Choices)
	}

	// A contact without interactive messages reads the options and types one.
	p := plainContact()
	resp = turnOf(t, b, p, State{}, textItem("shipping"))
	if len(resp.Replies) != 1 || resp.Replies[0] != Text("Where to?\nGermany\nFrance") {
		t.Fatalf("plain options %+v", resp.Replies)
	}
	turnOf(t, b, p, resp.State, textItem(" Germany "))
	got := srv.Received()
	if len(got) != 4 || got[1].Message != `/ship{"country":"de"}` || got[3].Message != `/ship{"country":"de"}` {
		t.Fatalf("Rasa received %+v", got)
	}
}

func TestRasaHandoff(t *testing.T) {
	srv := rasatest.NewServer()
	defer srv.Close()
	srv.On("agent please",
		rasatest.Message{Text: "Connecting you to billing."},
		rasatest.Message{Custom: map[string]any{"handoff": map[string]any{"queue": "billing", "reason": "invoice_dispute", "summary": "Disputes invoice 42."}}})
	srv.On("human", rasatest.Message{Custom: map[string]any{"handoff": map[string]any{"queue": "no such queue!"}}})
	srv.On("odd", rasatest.Message{Custom: map[string]any{"handoff": "yes"}})
	srv.On("other custom", rasatest.Message{Custom: map[string]any{"card": "x", "handoff": nil}}, rasatest.Message{Custom: "a string"})
	b := newRasa(t, srv, &pauses{})
	c := plainContact()

	resp := turnOf(t, b, c, State{}, textItem("agent please"))
	want := Handoff{Queue: "billing", Reason: "invoice_dispute", Summary: "Disputes invoice 42."}
	if resp.Handoff == nil || *resp.Handoff != want || len(resp.Replies) != 1 || resp.Replies[0] != Text("Connecting you to billing.") {
		t.Fatalf("got %+v handoff %+v", resp.Replies, resp.Handoff)
	}
	for _, text := range []string{"human", "odd"} {
		resp = turnOf(t, b, c, State{}, textItem(text))
		if want := (Handoff{Queue: "support", Reason: ReasonBotHandoff}); resp.Handoff == nil || *resp.Handoff != want {
			t.Errorf("%q: handoff %+v, want %+v", text, resp.Handoff, want)
		}
	}
	if resp = turnOf(t, b, c, State{}, textItem("other custom")); resp.Handoff != nil {
		t.Errorf("a custom payload without a handoff handed off: %+v", resp.Handoff)
	}
}

func TestRasaImages(t *testing.T) {
	srv := rasatest.NewServer()
	defer srv.Close()
	srv.On("show", rasatest.Message{Text: "Here:", Image: "https://cdn.example.com/a b.png"})
	srv.On("bad image", rasatest.Message{Image: "javascript:alert(1)"})
	b := newRasa(t, srv, &pauses{})

	resp := turnOf(t, b, richContact(), State{}, textItem("show"))
	if len(resp.Replies) != 2 || resp.Replies[1] != (Reply{ContentType: helpline.ContentMarkdown, Content: "![image](<https://cdn.example.com/a%20b.png>)"}) {
		t.Errorf("markdown contact: %+v", resp.Replies)
	}
	resp = turnOf(t, b, plainContact(), State{}, textItem("show"))
	if len(resp.Replies) != 2 || resp.Replies[1] != Text("https://cdn.example.com/a%20b.png") {
		t.Errorf("plain contact: %+v", resp.Replies)
	}
	if resp = turnOf(t, b, richContact(), State{}, textItem("bad image")); len(resp.Replies) != 0 {
		t.Errorf("a javascript: image became %+v", resp.Replies)
	}
}

// A Rasa that is down, slow or answers nonsense: the customer hears the
// fallback and the contact goes to a person; only a request that never
// reached Rasa is sent again.
func TestRasaUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name      string
		setup     func(*rasatest.Server)
		tries     int
		wantCause string
	}{
		{"503 twice", func(s *rasatest.Server) { s.SetDown(http.StatusServiceUnavailable) }, 2, "HTTP 503"},
		{"500", func(s *rasatest.Server) { s.SetDown(http.StatusInternalServerError) }, 1, "HTTP 500"},
		{"404", func(s *rasatest.Server) { s.SetDown(http.StatusNotFound) }, 1, "HTTP 404"},
		{"timeout", func(s *rasatest.Server) { s.SetHang(true) }, 1, "Timeout"},
		{"not JSON", func(s *rasatest.Server) { s.SetRaw([]byte("<html>oops</html>")) }, 1, "not an array"},
		{"an object", func(s *rasatest.Server) { s.SetRaw([]byte(`{"text":"hi"}`)) }, 1, "not an array"},
		{"null", func(s *rasatest.Server) { s.SetRaw([]byte(`null`)) }, 1, "not an array"},
		{"numbers", func(s *rasatest.Server) { s.SetRaw([]byte(`[1,2]`)) }, 1, "not an array"},
		{"text not a string", func(s *rasatest.Server) { s.SetRaw([]byte(`[{"recipient_id":"c1","text":5}]`)) }, 1, "not an array"},
		{"buttons not a list", func(s *rasatest.Server) { s.SetRaw([]byte(`[{"text":"a","buttons":{"title":"x"}}]`)) }, 1, "not an array"},
		{"too large", func(s *rasatest.Server) {
			s.SetRaw([]byte(`[{"text":"` + strings.Repeat("a", maxRemoteBody) + `"}]`))
		}, 1, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := rasatest.NewServer()
			defer srv.Close()
			tc.setup(srv)
			p := &pauses{}
			b, err := NewRasa(RasaConfig{URL: srv.WebhookURL(), Remote: Remote{Queue: "support", Timeout: 100 * time.Millisecond, Sleep: p.sleep}})
			if err != nil {
				t.Fatal(err)
			}
			st := State{Choices: map[string]string{"x": "/x"}}
			resp := turnOf(t, b, plainContact(), st, textItem("hello"))
			checkUnavailable(t, resp, "Rasa", tc.wantCause)
			if got := srv.Tries(); got != tc.tries {
				t.Errorf("Rasa was asked %d times, want %d", got, tc.tries)
			}
			if got := len(p.all()); got != tc.tries-1 {
				t.Errorf("%d pauses for %d tries", got, tc.tries)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		srv := rasatest.NewServer()
		srv.Close()
		p := &pauses{}
		b := newRasa(t, srv, p)
		checkUnavailable(t, turnOf(t, b, plainContact(), State{}, textItem("hello")), "Rasa", "refused")
		if got := p.all(); len(got) != 1 || got[0] != retryPause {
			t.Errorf("pauses %v, want one of %v before the second try", got, retryPause)
		}
	})
}

func checkUnavailable(t *testing.T, resp *Response, name, cause string) {
	t.Helper()
	if len(resp.Replies) != 1 || resp.Replies[0] != Text(DefaultFallback) {
		t.Errorf("replies %+v, want the fallback", resp.Replies)
	}
	if resp.Handoff == nil || resp.Handoff.Queue != "support" || resp.Handoff.Reason != ReasonBotUnavailable ||
		!strings.Contains(resp.Handoff.Summary, name) || !strings.Contains(resp.Handoff.Summary, cause) {
		t.Errorf("handoff %+v, want support/%s naming %s and %q", resp.Handoff, ReasonBotUnavailable, name, cause)
	}
	if resp.State.Choices != nil {
		t.Errorf("choices %v kept", resp.State.Choices)
	}
}

func TestRasaAttachmentsAndSilence(t *testing.T) {
	srv := rasatest.NewServer()
	defer srv.Close()
	b := newRasa(t, srv, &pauses{})
	resp := turnOf(t, b, plainContact(), State{}, &helpline.Item{Type: helpline.ItemAttachment, Role: helpline.RoleCustomer, ContentType: "image/png"})
	if resp.Handoff == nil || resp.Handoff.Reason != ReasonAttachment || resp.Handoff.Queue != "support" {
		t.Errorf("an attachment: handoff %+v", resp.Handoff)
	}
	resp = turnOf(t, b, plainContact(), State{Session: "kept"}, textItem("   "))
	if len(resp.Replies) != 0 || resp.Handoff != nil || resp.State.Session != "kept" {
		t.Errorf("a blank message: %+v", resp)
	}
	if got := srv.Tries(); got != 0 {
		t.Errorf("Rasa was asked %d times for a file and a blank message", got)
	}
	if _, err := b.Turn(context.Background(), &Turn{Contact: plainContact()}); err == nil {
		t.Error("a turn without an item ran")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Turn(ctx, &Turn{Contact: plainContact(), Item: textItem("hello")}); err == nil {
		t.Error("a cancelled turn gave no error")
	}
}

func TestNewRasaRefusesBadSettings(t *testing.T) {
	for _, cfg := range []RasaConfig{
		{},
		{URL: "rasa:5005/webhooks/rest/webhook"},
		{URL: "ftp://rasa/webhooks/rest/webhook"},
		{URL: "http:///webhooks/rest/webhook"},
		{URL: "http://rasa:5005/webhooks/rest/webhook", Remote: Remote{Queue: "two words"}},
		{URL: "http://rasa:5005/webhooks/rest/webhook", Remote: Remote{Timeout: -time.Second}},
	} {
		if _, err := NewRasa(cfg); err == nil {
			t.Errorf("NewRasa(%+v) accepted", cfg)
		}
	}
}
