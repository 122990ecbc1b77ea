package zendesksell

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/helplinehq/helpline/connector/internal/outbound"
)

// userAgent is sent with every request; Sell refuses requests without one.
const userAgent = "helpline-zendesksell/1"

// client calls the Sell Core API v2, paced by a limiter, its outcomes
// judged by the connectors' outbound policy.
type client struct {
	base    string // e.g. https://api.getbase.com, without a trailing slash
	token   string
	http    *http.Client
	policy  outbound.Policy
	limiter *outbound.Limiter
}

// lead is the part of a Sell lead the connector reads and writes.
type lead struct {
	ID          int64  `json:"id,omitempty"`
	FirstName   string `json:"first_name,omitempty"`
	LastName    string `json:"last_name,omitempty"`
	Email       string `json:"email,omitempty"`
	Description string `json:"description"`
}

// note is a Sell note.
type note struct {
	ID           int64  `json:"id,omitempty"`
	ResourceType string `json:"resource_type"`
	ResourceID   int64  `json:"resource_id"`
	Content      string `json:"content"`
}

// do sends a request with body wrapped in {"data": ...} (when not nil)
// and decodes the response's data (or items[].data) into out. Failures
// to get an answer and non-2xx answers are *helpline.MirrorError values
// as the outbound policy classifies them: 408, 429, 5xx and transport
// failures retryable (Sell documents no Retry-After, so the dispatcher's
// exponential backoff paces the retry unless one comes), redirects and
// other 4xx permanent.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	if err := c.limiter.Wait(ctx); err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(map[string]any{"data": body})
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.policy.Classify(nil, fmt.Errorf("zendesk sell %s %s: %w", method, path, err))
	}
	defer resp.Body.Close()
	c.limiter.Observe(resp.Header)
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return c.policy.Classify(nil, fmt.Errorf("zendesk sell %s %s: reading response: %w", method, path, err))
	}
	if me := c.policy.Classify(resp, nil); me != nil {
		me.Err = fmt.Errorf("zendesk sell %s %s: %w%s", method, path, me.Err, describeErrors(raw))
		return me
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("zendesk sell %s %s: decoding response: %w", method, path, err)
	}
	return nil
}

// describeErrors renders Sell's errors[] envelope, e.g.
// ": blank /last_name (A lead needs a last name)".
func describeErrors(raw []byte) string {
	var env struct {
		Errors []struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
				Field   string `json:"field"`
			} `json:"error"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &env) != nil || len(env.Errors) == 0 {
		return ""
	}
	var parts []string
	for _, e := range env.Errors {
		p := e.Error.Code
		if e.Error.Field != "" {
			p += " " + e.Error.Field
		}
		if e.Error.Message != "" {
			p += " (" + e.Error.Message + ")"
		}
		parts = append(parts, p)
	}
	return ": " + strings.Join(parts, "; ")
}

type single[T any] struct {
	Data T `json:"data"`
}

type list[T any] struct {
	Items []struct {
		Data T `json:"data"`
	} `json:"items"`
	Meta struct {
		Links struct {
			NextPage string `json:"next_page"`
		} `json:"links"`
	} `json:"meta"`
}

func (c *client) getLead(ctx context.Context, id int64) (*lead, error) {
	var out single[lead]
	if err := c.do(ctx, http.MethodGet, "/v2/leads/"+strconv.FormatInt(id, 10), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// findLeadByEmail returns the oldest lead with email, or nil.
func (c *client) findLeadByEmail(ctx context.Context, email string) (*lead, error) {
	var out list[lead]
	q := url.Values{"email": {email}, "sort_by": {"created_at:asc"}, "per_page": {"1"}}
	if err := c.do(ctx, http.MethodGet, "/v2/leads", q, nil, &out); err != nil {
		return nil, err
	}
	if len(out.Items) == 0 {
		return nil, nil
	}
	return &out.Items[0].Data, nil
}

// findLeadWithLine returns the oldest lead named first and last whose
// description has line as one of its lines, or nil. Sell filters leads
// by first_name and last_name, not by description, so it reads the
// leads of that name page by page.
func (c *client) findLeadWithLine(ctx context.Context, first, last, line string) (*lead, error) {
	for page := 1; ; page++ {
		var out list[lead]
		q := url.Values{"last_name": {last}, "sort_by": {"created_at:asc"}, "page": {strconv.Itoa(page)}, "per_page": {"100"}}
		if first != "" {
			q.Set("first_name", first)
		}
		if err := c.do(ctx, http.MethodGet, "/v2/leads", q, nil, &out); err != nil {
			return nil, err
		}
		for _, it := range out.Items {
			for _, l := range strings.Split(it.Data.Description, "\n") {
				if strings.TrimRight(l, " \t\r") == line {
					return &it.Data, nil
				}
			}
		}
		if out.Meta.Links.NextPage == "" || len(out.Items) == 0 {
			return nil, nil
		}
	}
}

func (c *client) createLead(ctx context.Context, l *lead) (*lead, error) {
	var out single[lead]
	if err := c.do(ctx, http.MethodPost, "/v2/leads", nil, l, &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// updateLead writes l's names and email (when set) onto lead id.
func (c *client) updateLead(ctx context.Context, id int64, l *lead) error {
	fields := map[string]string{"last_name": l.LastName, "first_name": l.FirstName}
	if l.Email != "" {
		fields["email"] = l.Email
	}
	return c.do(ctx, http.MethodPut, "/v2/leads/"+strconv.FormatInt(id, 10), nil, fields, nil)
}

// setDescription overwrites the lead's description; Sell has no
// conditional update, so callers serialise writers of one lead.
func (c *client) setDescription(ctx context.Context, id int64, description string) error {
	return c.do(ctx, http.MethodPut, "/v2/leads/"+strconv.FormatInt(id, 10), nil, map[string]string{"description": description}, nil)
}

func (c *client) createNote(ctx context.Context, leadID int64, content string) error {
	return c.do(ctx, http.MethodPost, "/v2/notes", nil, note{ResourceType: "lead", ResourceID: leadID, Content: content}, nil)
}

// eachNote calls f with the lead's notes, page by page, until f returns
// false or the notes run out.
func (c *client) eachNote(ctx context.Context, leadID int64, f func(note) bool) error {
	for page := 1; ; page++ {
		var out list[note]
		q := url.Values{"resource_type": {"lead"}, "resource_id": {strconv.FormatInt(leadID, 10)}, "page": {strconv.Itoa(page)}, "per_page": {"100"}}
		if err := c.do(ctx, http.MethodGet, "/v2/notes", q, nil, &out); err != nil {
			return err
		}
		for _, it := range out.Items {
			if !f(it.Data) {
				return nil
			}
		}
		if out.Meta.Links.NextPage == "" || len(out.Items) == 0 {
			return nil
		}
	}
}

// defaultTimeout bounds one request.
const defaultTimeout = 30 * time.Second
