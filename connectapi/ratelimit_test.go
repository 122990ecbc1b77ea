package connectapi_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline/clocktest"
	"github.com/helplinehq/helpline/connectapi"
)

// limitedEnv is an env with the default limits, instance and participant,
// on a clock that moves only when the test moves it.
func limitedEnv(t *testing.T) (*env, *clocktest.Clock) {
	t.Helper()
	// It starts at the real time: SigV4 checks request dates against it.
	clock := clocktest.New(time.Now())
	e := newEnv(t, func(c *connectapi.Config) {
		c.Now = clock.Now
		c.Limits = connectapi.RateLimits{}
	})
	return e, clock
}

// TestFloodingChatDoesNotStarveOthers: one customer sends SendMessage at
// 50/s for five seconds while a customer of another chat sends one message
// a second. With the instance quota at Connect's default, the flooder is
// throttled by its own limit and the other customer never is.
func TestFloodingChatDoesNotStarveOthers(t *testing.T) {
	e, clock := limitedEnv(t)
	flooder := e.connect(t, e.startChat(t).participantToken).ConnectionCredentials.ConnectionToken
	victim := e.connect(t, e.startChat(t).participantToken).ConnectionCredentials.ConnectionToken

	var accepted []string
	throttled, victimSent := 0, 0
	for i := range 250 {
		clock.Advance(20 * time.Millisecond)
		text := "flood " + strconv.Itoa(i)
		r := e.do(t, http.MethodPost, "/participant/message", flooder, `{"ContentType":"text/plain","Content":"`+text+`"}`)
		switch {
		case r.status == http.StatusOK:
			accepted = append(accepted, text)
		case r.status == http.StatusTooManyRequests && r.errorType() == "ThrottlingException":
			throttled++
		default:
			t.Fatalf("flooder's SendMessage: %d %s", r.status, r.body)
		}
		if i%50 == 49 {
			r := e.do(t, http.MethodPost, "/participant/message", victim, `{"ContentType":"text/plain","Content":"still here"}`)
			if r.status != http.StatusOK {
				t.Errorf("other chat's message %d: %d %s", victimSent+1, r.status, r.body)
			}
			victimSent++
		}
	}
	if throttled == 0 {
		t.Error("a customer sending 50 messages a second was never throttled")
	}
	// Everything the flooder was told was accepted is in its transcript.
	items := e.transcriptAll(t, flooder)
	for _, text := range accepted {
		if !hasItem(items, func(it item) bool { return it.Content == text }) {
			t.Errorf("accepted message %q is missing from the transcript", text)
		}
	}
}

// TestReconnectStormDoesNotStarveOthers: 30 CreateParticipantConnection
// calls by one customer in the same instant; another customer's call still
// succeeds.
func TestReconnectStormDoesNotStarveOthers(t *testing.T) {
	e, _ := limitedEnv(t)
	storm := e.startChat(t)
	other := e.startChat(t)
	throttled := 0
	for range 30 {
		r := e.do(t, http.MethodPost, "/participant/connection", storm.participantToken, `{"Type":["WEBSOCKET","CONNECTION_CREDENTIALS"]}`)
		if r.status == http.StatusTooManyRequests && r.errorType() == "ThrottlingException" {
			throttled++
		} else if r.status != http.StatusOK {
			t.Fatalf("CreateParticipantConnection: %d %s", r.status, r.body)
		}
	}
	if throttled == 0 {
		t.Error("30 CreateParticipantConnection calls in an instant were never throttled")
	}
	r := e.do(t, http.MethodPost, "/participant/connection", other.participantToken, `{"Type":["WEBSOCKET","CONNECTION_CREDENTIALS"]}`)
	if r.status != http.StatusOK {
		t.Errorf("other customer's CreateParticipantConnection: %d %s", r.status, r.body)
	}
}

// TestLimitRefusals runs each participant limit past its burst: the
// request over it is 429 ThrottlingException with a message, like the
// instance limits' refusals. Afterwards the server still answers and every
// accepted message is in the transcript.
func TestLimitRefusals(t *testing.T) {
	e, clock := limitedEnv(t)
	cust := e.startChat(t)
	c := e.connect(t, cust.participantToken)
	ct := c.ConnectionCredentials.ConnectionToken
	wsPath := strings.TrimPrefix(strings.Replace(c.Websocket.Url, "ws://", "http://", 1), e.srv.URL)
	per := connectapi.DefaultRateLimits().PerParticipant

	var accepted []string
	tests := []struct {
		name, method, path, token string
		body                      func(i int) string
		burst                     int
	}{
		{"SendMessage", "POST", "/participant/message", ct, func(i int) string {
			return `{"ContentType":"text/plain","Content":"message ` + strconv.Itoa(i) + `"}`
		}, per["SendMessage"].Burst},
		{"SendEvent", "POST", "/participant/event", ct, func(int) string {
			return `{"ContentType":"application/vnd.amazonaws.connect.event.typing"}`
		}, per["SendEvent"].Burst},
		{"GetTranscript", "POST", "/participant/transcript", ct, func(int) string { return `{}` }, per["GetTranscript"].Burst},
		{"CreateParticipantConnection", "POST", "/participant/connection", cust.participantToken, func(int) string {
			return `{"Type":["CONNECTION_CREDENTIALS"]}`
		}, per["CreateParticipantConnection"].Burst},
		{"StartAttachmentUpload", "POST", "/participant/start-attachment-upload", ct, func(i int) string {
			return `{"ContentType":"text/plain","AttachmentSizeInBytes":5,"AttachmentName":"a.txt","ClientToken":"up-` + strconv.Itoa(i) + `"}`
		}, per["StartAttachmentUpload"].Burst},
		// The attachments named do not exist: the refusals before the
		// limit are 400 or 404, the one over it is still 429.
		{"CompleteAttachmentUpload", "POST", "/participant/complete-attachment-upload", ct, func(i int) string {
			return `{"AttachmentIds":["nope"],"ClientToken":"c-` + strconv.Itoa(i) + `"}`
		}, per["CompleteAttachmentUpload"].Burst},
		{"GetAttachment", "POST", "/participant/attachment", ct, func(int) string {
			return `{"AttachmentId":"nope","UrlExpiryInSeconds":60}`
		}, per["GetAttachment"].Burst},
		// A GET without the upgrade headers spends an open, then fails
		// the upgrade with 400.
		{"OpenWebSocket", "GET", wsPath, "", func(int) string { return "" }, per["OpenWebSocket"].Burst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(20 * time.Second) // every bucket is full again
			for i := range tt.burst {
				r := e.do(t, tt.method, tt.path, tt.token, tt.body(i))
				if r.status == http.StatusTooManyRequests {
					t.Fatalf("request %d of a burst of %d: %d %s", i+1, tt.burst, r.status, r.body)
				}
				if tt.name == "SendMessage" && r.status == http.StatusOK {
					accepted = append(accepted, "message "+strconv.Itoa(i))
				}
			}
			r := e.do(t, tt.method, tt.path, tt.token, tt.body(tt.burst))
			var body struct{ Message string }
			if r.status != http.StatusTooManyRequests || r.errorType() != "ThrottlingException" {
				t.Fatalf("request over the burst: %d %s %s, want 429 ThrottlingException", r.status, r.errorType(), r.body)
			}
			r.decode(t, &body)
			if !strings.Contains(body.Message, tt.name) || r.header.Get("x-amzn-RequestId") == "" {
				t.Errorf("refusal %s, headers %v", r.body, r.header)
			}
		})
	}

	clock.Advance(20 * time.Second)
	items := e.transcriptAll(t, ct)
	if len(accepted) != per["SendMessage"].Burst {
		t.Errorf("%d messages accepted, want %d", len(accepted), per["SendMessage"].Burst)
	}
	for _, text := range accepted {
		if !hasItem(items, func(it item) bool { return it.Content == text }) {
			t.Errorf("accepted %q is missing from the transcript", text)
		}
	}
	dial(t, c.Websocket.Url).subscribe()
}

// TestLimitsDisabled: RateLimits.Disabled lifts the participant limits and
// the socket limit as well as the instance's.
func TestLimitsDisabled(t *testing.T) {
	clock := clocktest.New(time.Now())
	e := newEnv(t, func(c *connectapi.Config) {
		c.Now = clock.Now
		c.Limits = connectapi.RateLimits{Disabled: true}
	})
	cust := e.startChat(t)
	c := e.connect(t, cust.participantToken)
	for i := range 30 {
		e.sendMessage(t, c.ConnectionCredentials.ConnectionToken, "message "+strconv.Itoa(i))
	}
	for range 2 * connectapi.DefaultSocketsPerParticipant {
		dial(t, c.Websocket.Url).subscribe()
	}
}
