package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/helplinehq/helpline"
)

// WatsonConfig builds a Watson Assistant bot.
type WatsonConfig struct {
	// URL is the service instance's URL, such as
	// https://api.us-south.assistant.watson.cloud.ibm.com/instances/{id}.
	URL string
	// AssistantID names the assistant (its environment ID in the new
	// Watson Assistant experience).
	AssistantID string
	// Version is the API version date sent with every call; "" is
	// DefaultWatsonVersion.
	Version string
	// APIKey is the IBM Cloud API key IAM tokens are obtained with.
	APIKey string
	// TokenURL is IAM's token endpoint; "" is DefaultIAMTokenURL.
	TokenURL string
	// Now is the clock tokens expire on; nil is time.Now.
	Now func() time.Time
	Remote
}

// Watson Assistant defaults.
const (
	DefaultWatsonVersion = "2021-11-27"
	DefaultIAMTokenURL   = "https://iam.cloud.ibm.com/identity/token"
	// AttrSessionHistoryKey is the contact attribute a Watson handoff
	// leaves its session_history_key in, for the agent's view of the
	// conversation with the assistant.
	AttrSessionHistoryKey = "session_history_key"
)

// Watson is a bot run by Watson Assistant, through its v2 API with
// stateful sessions. Each contact has a session, created on its first
// turn and kept in State.Session; a session Watson no longer knows (404,
// it expired) is replaced once per turn. Every call carries an IAM bearer
// token obtained from the API key and reused until 80% of its life has
// passed; a 401 fetches a new one once. Watson's output.generic items
// become replies: text as text, option as quick replies (the option's
// input text goes back when the customer picks one), image as a link,
// connect_to_agent as a handoff whose summary is message_to_human_agent
// and transfer_info.summary_message_to_agent, leaving
// transfer_info.session_history_key in the AttrSessionHistoryKey
// attribute. A Watson that cannot be reached, fails or answers anything
// else gets the fallback message and a handoff with reason
// bot_unavailable.
type Watson struct {
	base, assistant, version string
	apiKey, tokenURL         string
	now                      func() time.Time
	r                        *remote

	// tokMu guards the token fields and is held while one is fetched, so
	// that one fetch serves every turn waiting for it.
	tokMu     sync.Mutex
	tok       string
	refreshAt time.Time
}

// watsonTries is how many times one call is made at most, not counting
// the retry with a new token or a new session.
const watsonTries = 2

// NewWatson returns the bot, or an error when the settings are wrong.
func NewWatson(cfg WatsonConfig) (*Watson, error) {
	base, err := checkURL("url", cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("bot: watson: %w", err)
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultIAMTokenURL
	}
	tokenURL, err := checkURL("token_url", cfg.TokenURL)
	if err != nil {
		return nil, fmt.Errorf("bot: watson: %w", err)
	}
	switch {
	case cfg.AssistantID == "" || strings.ContainsAny(cfg.AssistantID, "/?#"):
		return nil, fmt.Errorf("bot: watson: assistant_id %q is not an assistant ID", cfg.AssistantID)
	case cfg.APIKey == "":
		return nil, errors.New("bot: watson: the API key is empty")
	}
	if cfg.Version == "" {
		cfg.Version = DefaultWatsonVersion
	}
	if _, err := time.Parse(time.DateOnly, cfg.Version); err != nil {
		return nil, fmt.Errorf("bot: watson: version %q must be a date such as %s", cfg.Version, DefaultWatsonVersion)
	}
	r, err := newRemote("Watson Assistant", cfg.Remote)
	if err != nil {
		return nil, err
	}
	w := &Watson{base: base, assistant: cfg.AssistantID, version: cfg.Version, apiKey: cfg.APIKey,
		tokenURL: tokenURL, now: cfg.Now, r: r}
	if w.now == nil {
		w.now = time.Now
	}
	return w, nil
}

// Turn implements Bot.
func (w *Watson) Turn(ctx context.Context, t *Turn) (*Response, error) {
	if t == nil || t.Item == nil || t.Contact == nil {
		return nil, errors.New("bot: watson: a turn needs the contact and the customer's item")
	}
	if t.Item.Type == helpline.ItemAttachment {
		return w.r.attachment(t.State), nil
	}
	text := customerInput(t)
	// Watson takes no carriage return, line feed or tab in a text.
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return &Response{State: t.State}, nil
	}
	st := t.State
	a, err := w.message(ctx, &st, t.Contact, text)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var out watsonOutput
	if err == nil {
		if jerr := json.Unmarshal(a.body, &out); jerr != nil || out.Output == nil {
			err = errors.New("an answer without output")
		}
	}
	if err != nil {
		return w.r.unavailable(st, text, err), nil
	}
	return w.response(t, st, out.Output.Generic)
}

// message sends text in the contact's session, creating the session
// first when st has none and again, once, when Watson no longer knows
// it; st.Session is left naming the session used. It returns Watson's
// 200 answer or an error.
func (w *Watson) message(ctx context.Context, st *State, c *helpline.Contact, text string) (*answer, error) {
	var in struct {
		Input struct {
			MessageType string `json:"message_type"`
			Text        string `json:"text"`
		} `json:"input"`
		UserID string `json:"user_id,omitempty"`
	}
	in.Input.MessageType, in.Input.Text = "text", text
	in.UserID = c.CustomerID
	if in.UserID == "" {
		in.UserID = c.ID
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	fresh := false
	for {
		if st.Session == "" {
			if st.Session, err = w.createSession(ctx); err != nil {
				return nil, err
			}
			fresh = true
		}
		a, err := w.call(ctx, http.MethodPost, "/sessions/"+url.PathEscape(st.Session)+"/message", body)
		switch {
		case err != nil:
			return nil, err
		case a.status == http.StatusNotFound && !fresh:
			st.Session = ""
			continue
		case a.status != http.StatusOK:
			return nil, watsonError("message", a)
		}
		return a, nil
	}
}

// createSession returns a new session's id.
func (w *Watson) createSession(ctx context.Context) (string, error) {
	a, err := w.call(ctx, http.MethodPost, "/sessions", nil)
	if err != nil {
		return "", err
	}
	if a.status != http.StatusCreated && a.status != http.StatusOK {
		return "", watsonError("creating a session", a)
	}
	var s struct {
		SessionID string `json:"session_id"`
	}
	if json.Unmarshal(a.body, &s) != nil || s.SessionID == "" {
		return "", errors.New("creating a session: an answer without session_id")
	}
	return s.SessionID, nil
}

// EndSession deletes the session st keeps, if any, for a contact that
// ended: Watson would otherwise keep it until it expires. A session
// Watson no longer knows is no error.
func (w *Watson) EndSession(ctx context.Context, st State) error {
	if st.Session == "" {
		return nil
	}
	a, err := w.call(ctx, http.MethodDelete, "/sessions/"+url.PathEscape(st.Session), nil)
	if err != nil {
		return fmt.Errorf("bot: watson: deleting the session: %w", err)
	}
	if a.status != http.StatusOK && a.status != http.StatusNoContent && a.status != http.StatusNotFound {
		return fmt.Errorf("bot: watson: %w", watsonError("deleting the session", a))
	}
	return nil
}

// call makes one call to the assistant's path with a token, fetching a
// new token once when Watson refuses the one it had.
func (w *Watson) call(ctx context.Context, method, path string, body []byte) (*answer, error) {
	u := w.base + "/v2/assistants/" + url.PathEscape(w.assistant) + path + "?" + url.Values{"version": {w.version}}.Encode()
	for retried := false; ; retried = true {
		tok, err := w.token(ctx)
		if err != nil {
			return nil, err
		}
		h := http.Header{"Authorization": {"Bearer " + tok}, "Accept": {"application/json"}}
		if body != nil {
			h.Set("Content-Type", "application/json")
		}
		a, err := w.r.send(ctx, watsonTries, request{method: method, url: u, header: h, body: body})
		if err == nil && a.status == http.StatusUnauthorized && !retried {
			w.dropToken(tok)
			continue
		}
		return a, err
	}
}

// token returns a bearer token, fetching one from IAM when there is none
// or 80% of its life has passed.
func (w *Watson) token(ctx context.Context) (string, error) {
	w.tokMu.Lock()
	defer w.tokMu.Unlock()
	if w.tok != "" && w.now().Before(w.refreshAt) {
		return w.tok, nil
	}
	form := url.Values{"grant_type": {"urn:ibm:params:oauth:grant-type:apikey"}, "apikey": {w.apiKey}}
	a, err := w.r.send(ctx, watsonTries, request{method: http.MethodPost, url: w.tokenURL, body: []byte(form.Encode()),
		header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}})
	if err != nil {
		return "", fmt.Errorf("IAM token: %w", err)
	}
	var t struct {
		AccessToken  string `json:"access_token"`
		ExpiresIn    int64  `json:"expires_in"`
		ErrorMessage string `json:"errorMessage"`
	}
	jerr := json.Unmarshal(a.body, &t)
	switch {
	case a.status != http.StatusOK && t.ErrorMessage != "":
		return "", fmt.Errorf("IAM token: HTTP %d: %s", a.status, t.ErrorMessage)
	case a.status != http.StatusOK:
		return "", fmt.Errorf("IAM token: HTTP %d", a.status)
	case jerr != nil || t.AccessToken == "" || t.ExpiresIn <= 0:
		return "", errors.New("IAM token: an answer without access_token and expires_in")
	}
	w.tok = t.AccessToken
	w.refreshAt = w.now().Add(time.Duration(t.ExpiresIn) * time.Second * 8 / 10)
	return w.tok, nil
}

// dropToken forgets tok, unless another turn has already replaced it.
func (w *Watson) dropToken(tok string) {
	w.tokMu.Lock()
	defer w.tokMu.Unlock()
	if w.tok == tok {
		w.tok = ""
	}
}

// watsonError describes a refused call by its status and Watson's error.
func watsonError(what string, a *answer) error {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(a.body, &e) == nil && e.Error != "" {
		return fmt.Errorf("%s: HTTP %d: %s", what, a.status, e.Error)
	}
	return fmt.Errorf("%s: HTTP %d", what, a.status)
}

type watsonOutput struct {
	Output *struct {
		Generic []json.RawMessage `json:"generic"`
	} `json:"output"`
}

type watsonGeneric struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
	// option
	Title       string `json:"title"`
	Description string `json:"description"`
	Options     []struct {
		Label string `json:"label"`
		Value struct {
			Input struct {
				Text string `json:"text"`
			} `json:"input"`
		} `json:"value"`
	} `json:"options"`
	// image
	Source  string `json:"source"`
	AltText string `json:"alt_text"`
	// connect_to_agent
	MessageToHumanAgent string `json:"message_to_human_agent"`
	AgentAvailable      struct {
		Message string `json:"message"`
	} `json:"agent_available"`
	TransferInfo struct {
		SessionHistoryKey     string          `json:"session_history_key"`
		SummaryMessageToAgent json.RawMessage `json:"summary_message_to_agent"`
	} `json:"transfer_info"`
}

// response turns Watson's output.generic into the turn's response. An
// item of a type it does not show (pause, search, user_defined…) is
// skipped; one that is not an object of the documented shape makes the
// whole answer unusable.
func (w *Watson) response(t *Turn, st State, generic []json.RawMessage) (*Response, error) {
	st.Choices = nil
	resp := &Response{State: st}
	for _, raw := range generic {
		var g watsonGeneric
		if err := json.Unmarshal(raw, &g); err != nil {
			return w.r.unavailable(st, customerText(t.Item), errors.New("an output item of the wrong shape")), nil
		}
		switch g.ResponseType {
		case "text":
			if g.Text != "" {
				resp.Replies = append(resp.Replies, Text(g.Text))
			}
		case "option":
			var opts [][2]string
			for _, o := range g.Options {
				if o.Label == "" {
					continue
				}
				v := o.Value.Input.Text
				if v == "" {
					v = o.Label
				}
				opts = append(opts, [2]string{o.Label, v})
			}
			title := strings.TrimSpace(g.Title + "\n" + g.Description)
			if len(opts) > 0 {
				resp.Replies = append(resp.Replies, choices(t.Contact, &resp.State, title, opts))
			} else if title != "" {
				resp.Replies = append(resp.Replies, Text(title))
			}
		case "image":
			if r, ok := imageReply(t.Contact, g.AltText, g.Source); ok {
				resp.Replies = append(resp.Replies, r)
			}
		case "connect_to_agent":
			if resp.Handoff != nil {
				continue
			}
			if g.AgentAvailable.Message != "" {
				resp.Replies = append(resp.Replies, Text(g.AgentAvailable.Message))
			}
			resp.Handoff = &Handoff{Queue: w.r.queue, Reason: ReasonBotHandoff,
				Summary: strings.TrimSpace(g.MessageToHumanAgent + "\n" + summaryText(g.TransferInfo.SummaryMessageToAgent))}
			if k := g.TransferInfo.SessionHistoryKey; k != "" {
				resp.Attributes = map[string]string{AttrSessionHistoryKey: k}
			}
		}
	}
	return resp, nil
}

// summaryText returns transfer_info.summary_message_to_agent as text:
// a string, or generic items whose texts are joined by lines.
func summaryText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var items []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &items) != nil {
		return ""
	}
	var lines []string
	for _, it := range items {
		if it.Text != "" {
			lines = append(lines, it.Text)
		}
	}
	return strings.Join(lines, "\n")
}
