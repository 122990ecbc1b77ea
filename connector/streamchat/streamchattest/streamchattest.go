// Package streamchattest builds and signs Stream Chat push-webhook
// requests the way Stream sends them, for tests of the streamchat
// connector: a JSON event body (type, cid, channel_type, channel_id,
// message, user, members, created_at), signed in X-Signature with the hex
// HMAC-SHA256 of the raw body keyed by the app's API secret, with the
// X-Api-Key, X-Webhook-Id and X-Webhook-Attempt headers. The shapes and
// their sources are in docs/stream-chat.md.
package streamchattest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// User is a Stream user. Extra holds custom fields, which Stream puts at
// the user object's top level (e.g. "email").
type User struct {
	ID    string
	Name  string
	Role  string // "user", "admin", "moderator", ...
	Extra map[string]any
}

// Attachment is a message attachment.
type Attachment struct {
	Type     string // image, file, video, audio
	Title    string
	AssetURL string
	ImageURL string
	Fallback string
}

// Message is a Stream message.
type Message struct {
	ID   string
	Text string
	// Type defaults to "regular"; "system", "ephemeral", "error",
	// "reply" and "deleted" are Stream's others.
	Type        string
	User        User
	CreatedAt   time.Time
	Attachments []Attachment
}

// Event is one webhook event.
type Event struct {
	Type        string // message.new, channel.created, member.added, ...
	ChannelType string
	ChannelID   string
	Message     *Message
	User        *User
	// Member is set on member.* events.
	Member  *User
	Members []User
	// Channel, when set, is sent as the event's channel object: its
	// custom data (e.g. "sell_lead_id") beside id, type and cid, as Stream
	// flattens it.
	Channel map[string]any
	// CreatedAt defaults to the message's time, or the Unix epoch.
	CreatedAt time.Time
}

// MessageNew is a message.new event of channel type:id with its members.
func MessageNew(channelType, channelID string, m Message, members ...User) Event {
	u := m.User
	return Event{Type: "message.new", ChannelType: channelType, ChannelID: channelID, Message: &m, User: &u, Members: members, CreatedAt: m.CreatedAt}
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func (u User) json(at time.Time) map[string]any {
	m := map[string]any{}
	for k, v := range u.Extra {
		m[k] = v
	}
	m["id"], m["role"], m["created_at"], m["updated_at"], m["banned"], m["online"] = u.ID, u.Role, stamp(at), stamp(at), false, false
	if u.Name != "" {
		m["name"] = u.Name
	}
	return m
}

func member(u User, at time.Time) map[string]any {
	return map[string]any{"user_id": u.ID, "user": u.json(at), "created_at": stamp(at), "updated_at": stamp(at)}
}

// JSON renders the event as Stream's webhook body.
func (e Event) JSON() []byte {
	at := e.CreatedAt
	body := map[string]any{
		"type":         e.Type,
		"cid":          e.ChannelType + ":" + e.ChannelID,
		"channel_type": e.ChannelType,
		"channel_id":   e.ChannelID,
		"created_at":   stamp(at),
	}
	if e.User != nil {
		body["user"] = e.User.json(at)
	}
	if e.Channel != nil {
		ch := map[string]any{}
		for k, v := range e.Channel {
			ch[k] = v
		}
		ch["id"], ch["type"], ch["cid"] = e.ChannelID, e.ChannelType, e.ChannelType+":"+e.ChannelID
		ch["created_at"], ch["updated_at"], ch["frozen"], ch["disabled"] = stamp(at), stamp(at), false, false
		body["channel"] = ch
	}
	if e.Member != nil {
		body["member"] = member(*e.Member, at)
	}
	if len(e.Members) > 0 {
		var ms []any
		for _, u := range e.Members {
			ms = append(ms, member(u, at))
		}
		body["members"] = ms
	}
	if m := e.Message; m != nil {
		typ := m.Type
		if typ == "" {
			typ = "regular"
		}
		atts := []any{}
		for _, a := range m.Attachments {
			att := map[string]any{"type": a.Type}
			for k, v := range map[string]string{"title": a.Title, "asset_url": a.AssetURL, "image_url": a.ImageURL, "fallback": a.Fallback} {
				if v != "" {
					att[k] = v
				}
			}
			atts = append(atts, att)
		}
		body["message"] = map[string]any{
			"id": m.ID, "text": m.Text, "html": "<p>" + m.Text + "</p>\n", "type": typ, "user": m.User.json(m.CreatedAt),
			"attachments": atts, "latest_reactions": []any{}, "own_reactions": []any{}, "reply_count": 0,
			"created_at": stamp(m.CreatedAt), "updated_at": stamp(m.CreatedAt), "mentioned_users": []any{},
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return b
}

// Sign returns the X-Signature Stream sends with body: the hex HMAC-SHA256
// of the raw body keyed by the API secret.
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Request is a webhook POST to url as Stream sends it: body signed with
// secret, the app's apiKey, a webhook id (stable across retries) and the
// attempt number, from 1.
func Request(url string, body []byte, apiKey, secret, webhookID string, attempt int) *http.Request {
	r, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Signature", Sign(body, secret))
	r.Header.Set("X-Api-Key", apiKey)
	r.Header.Set("X-Webhook-Id", webhookID)
	r.Header.Set("X-Webhook-Attempt", strconv.Itoa(attempt))
	return r
}
