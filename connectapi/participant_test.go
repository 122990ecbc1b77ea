package connectapi_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connectapi"
)

func TestAttachments(t *testing.T) {
	e := newEnv(t, nil)
	cust := e.startChat(t)
	c := e.connect(t, cust.participantToken)
	ct := c.ConnectionCredentials.ConnectionToken
	w := dial(t, c.Websocket.Url)
	w.subscribe()

	file := []byte("order 1234: two parcels\n")
	var up struct {
		AttachmentId   string
		UploadMetadata struct {
			Url, UrlExpiry   string
			HeadersToInclude map[string]string
		}
	}
	start := `{"ContentType":"text/plain","AttachmentSizeInBytes":` + strconv.Itoa(len(file)) + `,"AttachmentName":"order.txt","ClientToken":"up-1"}`
	e.ok(t, "/participant/start-attachment-upload", ct, start, &up)
	if up.AttachmentId == "" || up.UploadMetadata.UrlExpiry == "" || up.UploadMetadata.HeadersToInclude["Content-Type"] != "text/plain" ||
		!strings.HasPrefix(up.UploadMetadata.Url, e.srv.URL+"/attachments/upload/") {
		t.Fatalf("StartAttachmentUpload = %+v", up)
	}

	// More bytes than declared are refused.
	put := func(body []byte) reply {
		req, _ := http.NewRequest(http.MethodPut, up.UploadMetadata.Url, bytes.NewReader(body))
		for k, v := range up.UploadMetadata.HeadersToInclude {
			req.Header.Set(k, v)
		}
		return send(t, req)
	}
	if r := put(append(file, "extra"...)); r.status != 400 || r.errorType() != "ValidationException" {
		t.Errorf("oversize upload: %d %s", r.status, r.body)
	}
	if r := put(file); r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	e.ok(t, "/participant/complete-attachment-upload", ct, `{"AttachmentIds":["`+up.AttachmentId+`"],"ClientToken":"done-1"}`, nil)
	it := w.nextItem(func(it item) bool { return it.Type == "ATTACHMENT" })
	if len(it.Attachments) != 1 || it.Attachments[0].AttachmentId != up.AttachmentId || it.Attachments[0].AttachmentName != "order.txt" ||
		it.Attachments[0].Status != "APPROVED" || it.InitialContactId != cust.contactID {
		t.Errorf("attachment item %+v", it)
	}

	var got struct {
		Url, UrlExpiry        string
		AttachmentSizeInBytes int64
	}
	e.ok(t, "/participant/attachment", ct, `{"AttachmentId":"`+up.AttachmentId+`","UrlExpiryInSeconds":60}`, &got)
	if got.AttachmentSizeInBytes != int64(len(file)) || got.UrlExpiry == "" {
		t.Errorf("GetAttachment = %+v", got)
	}
	resp, err := http.Get(got.Url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, file) || resp.Header.Get("Content-Type") != "text/plain" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename=order.txt` {
		t.Errorf("download: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, nil)
	cust := e.startChat(t)
	c := e.connect(t, cust.participantToken)
	ct := c.ConnectionCredentials.ConnectionToken
	other := e.startChat(t)
	otherCT := e.connect(t, other.participantToken).ConnectionCredentials.ConnectionToken
	kept := e.sendMessage(t, ct, "this one was accepted")

	// A correctly signed but expired connection token.
	tokens := helpline.NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	expired := tokens.Sign(helpline.ConnectionToken, cust.participantID, time.Now().Add(-time.Minute))
	// A token of the right shape with a broken signature.
	forged := ct[:len(ct)-2] + "AA"

	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name, method, path, token, body string
		status                          int
		errType                         string
	}{
		{"malformed JSON", "POST", "/participant/message", ct, `{"ContentType":`, 400, "ValidationException"},
		{"wrong JSON type", "POST", "/participant/message", ct, `{"ContentType":"text/plain","Content":5}`, 400, "ValidationException"},
		{"not an object", "POST", "/participant/message", ct, `[1]`, 400, "ValidationException"},
		{"trailing data", "POST", "/participant/message", ct, `{"ContentType":"text/plain","Content":"a"} x`, 400, "ValidationException"},
		{"member named twice", "POST", "/participant/message", ct, `{"ContentType":"text/plain","Content":"a","Content":"b"}`, 400, "ValidationException"},
		{"members in another case", "POST", "/participant/message", ct, `{"contenttype":"text/plain","content":"a"}`, 400, "ValidationException"},
		{"nested member named twice", "POST", "/participant/transcript", ct, `{"StartPosition":{"MostRecent":1,"MostRecent":2}}`, 400, "ValidationException"},
		{"missing Content", "POST", "/participant/message", ct, `{"ContentType":"text/plain"}`, 400, "ValidationException"},
		{"Content over the model's limit", "POST", "/participant/message", ct, `{"ContentType":"application/json","Content":"` + long(16385) + `"}`, 400, "ValidationException"},
		{"text over 1024", "POST", "/participant/message", ct, `{"ContentType":"text/plain","Content":"` + long(1025) + `"}`, 400, "ValidationException"},
		{"unsupported content type", "POST", "/participant/message", ct, `{"ContentType":"text/html","Content":"<b>hi</b>"}`, 400, "ValidationException"},
		{"ClientToken too long", "POST", "/participant/message", ct, `{"ContentType":"text/plain","Content":"a","ClientToken":"` + long(501) + `"}`, 400, "ValidationException"},
		{"oversize body", "POST", "/participant/message", ct, `{"ContentType":"text/plain","Content":"` + long(200<<10) + `"}`, 400, "ValidationException"},
		{"no token", "POST", "/participant/message", "", `{"ContentType":"text/plain","Content":"a"}`, 403, "AccessDeniedException"},
		{"unknown token", "POST", "/participant/message", "not-a-token", `{"ContentType":"text/plain","Content":"a"}`, 403, "AccessDeniedException"},
		{"forged token", "POST", "/participant/message", forged, `{"ContentType":"text/plain","Content":"a"}`, 403, "AccessDeniedException"},
		{"expired token", "POST", "/participant/message", expired, `{"ContentType":"text/plain","Content":"a"}`, 403, "AccessDeniedException"},
		{"token over 1000", "POST", "/participant/message", long(1001), `{"ContentType":"text/plain","Content":"a"}`, 400, "ValidationException"},
		{"participant token as connection token", "POST", "/participant/message", cust.participantToken, `{"ContentType":"text/plain","Content":"a"}`, 403, "AccessDeniedException"},
		{"connection token as participant token", "POST", "/participant/connection", ct, `{"Type":["WEBSOCKET"]}`, 403, "AccessDeniedException"},
		{"cross-contact transcript", "POST", "/participant/transcript", otherCT, `{"ContactId":"` + cust.contactID + `"}`, 400, "ValidationException"},
		{"retired acknowledgement event", "POST", "/participant/event", ct, `{"ContentType":"application/vnd.amazonaws.connect.event.connection.acknowledged"}`, 400, "ValidationException"},
		{"receipt for an unknown message", "POST", "/participant/event", ct, `{"ContentType":"application/vnd.amazonaws.connect.event.message.read","Content":"{\"messageId\":\"nope\"}"}`, 400, "ValidationException"},
		{"empty Type", "POST", "/participant/connection", cust.participantToken, `{"Type":[]}`, 400, "ValidationException"},
		{"WebRTC", "POST", "/participant/connection", cust.participantToken, `{"Type":["WEBRTC_CONNECTION"]}`, 400, "ValidationException"},
		{"unknown Type", "POST", "/participant/connection", cust.participantToken, `{"Type":["BOGUS"]}`, 400, "ValidationException"},
		{"MaxResults over 100", "POST", "/participant/transcript", ct, `{"MaxResults":101}`, 400, "ValidationException"},
		{"bad ScanDirection", "POST", "/participant/transcript", ct, `{"ScanDirection":"SIDEWAYS"}`, 400, "ValidationException"},
		{"bad SortOrder", "POST", "/participant/transcript", ct, `{"SortOrder":"RANDOM"}`, 400, "ValidationException"},
		{"two start positions", "POST", "/participant/transcript", ct, `{"StartPosition":{"Id":"` + kept + `","MostRecent":2}}`, 400, "ValidationException"},
		{"bad AbsoluteTime", "POST", "/participant/transcript", ct, `{"StartPosition":{"AbsoluteTime":"yesterday"}}`, 400, "ValidationException"},
		{"tampered NextToken", "POST", "/participant/transcript", ct, `{"NextToken":"abc.def"}`, 400, "ValidationException"},
		{"zero-byte attachment", "POST", "/participant/start-attachment-upload", ct, `{"ContentType":"text/plain","AttachmentSizeInBytes":0,"AttachmentName":"a.txt","ClientToken":"z"}`, 400, "ValidationException"},
		{"attachment over 20 MB", "POST", "/participant/start-attachment-upload", ct, `{"ContentType":"text/plain","AttachmentSizeInBytes":20971521,"AttachmentName":"a.txt","ClientToken":"z"}`, 400, "ValidationException"},
		{"attachment without ClientToken", "POST", "/participant/start-attachment-upload", ct, `{"ContentType":"text/plain","AttachmentSizeInBytes":5,"AttachmentName":"a.txt"}`, 400, "ValidationException"},
		{"two attachment ids", "POST", "/participant/complete-attachment-upload", ct, `{"AttachmentIds":["a","b"],"ClientToken":"c"}`, 400, "ValidationException"},
		{"no attachment ids", "POST", "/participant/complete-attachment-upload", ct, `{"AttachmentIds":[],"ClientToken":"c"}`, 400, "ValidationException"},
		{"URL expiry too short", "POST", "/participant/attachment", ct, `{"AttachmentId":"a","UrlExpiryInSeconds":4}`, 400, "ValidationException"},
		{"URL expiry too long", "POST", "/participant/attachment", ct, `{"AttachmentId":"a","UrlExpiryInSeconds":301}`, 400, "ValidationException"},
		{"upload with a bad token", "PUT", "/attachments/upload/nope", "", "data", 403, "AccessDeniedException"},
		{"download with a bad token", "GET", "/attachments/download/nope", "", "", 403, "AccessDeniedException"},
		{"DescribeView", "GET", "/participant/views/some-view", ct, "", 404, "ResourceNotFoundException"},
		{"authentication URL, bad SessionId", "POST", "/participant/authentication-url", ct, `{"SessionId":"short","RedirectUri":"https://x"}`, 400, "ValidationException"},
		{"authentication URL, none in progress", "POST", "/participant/authentication-url", ct, `{"SessionId":"` + helpline.NewID() + `","RedirectUri":"https://x"}`, 400, "ValidationException"},
		{"cancel authentication", "POST", "/participant/cancel-authentication", ct, `{"SessionId":"` + helpline.NewID() + `"}`, 400, "ValidationException"},
		{"unknown path", "POST", "/participant/nothing", ct, `{}`, 404, "UnknownOperationException"},
		{"wrong method", "GET", "/participant/message", ct, "", 404, "UnknownOperationException"},
		{"socket without token", "GET", "/participant/ws", "", "", 403, "AccessDeniedException"},
		{"socket with a connection token", "GET", "/participant/ws?token=" + ct, "", "", 403, "AccessDeniedException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.method, tt.path, tt.token, tt.body)
			if r.status != tt.status || r.errorType() != tt.errType {
				t.Fatalf("got %d %s %s, want %d %s", r.status, r.errorType(), r.body, tt.status, tt.errType)
			}
			var body struct{ Type, Message string }
			var raw map[string]any
			r.decode(t, &raw)
			body.Type, _ = raw["__type"].(string)
			body.Message, _ = raw["Message"].(string)
			if body.Type != tt.errType || body.Message == "" || r.header.Get("x-amzn-RequestId") == "" {
				t.Errorf("error body %s, headers %v", r.body, r.header)
			}
		})
	}

	// Replayed ClientTokens give the original result.
	msg := `{"ContentType":"text/plain","Content":"once","ClientToken":"tok-1"}`
	var first, second struct{ Id, AbsoluteTime string }
	e.ok(t, "/participant/message", ct, msg, &first)
	e.ok(t, "/participant/message", ct, msg, &second)
	if first != second {
		t.Errorf("replayed SendMessage: %+v then %+v", first, second)
	}
	// The same ClientToken with another body is still the first request:
	// the operations Helpline serves have no IdempotentParameterMismatch
	// error in Connect's models, so the original result comes back and
	// nothing new is stored (README, Security).
	var changed struct{ Id, AbsoluteTime string }
	e.ok(t, "/participant/message", ct, `{"ContentType":"text/plain","Content":"twice?","ClientToken":"tok-1"}`, &changed)
	if changed != first {
		t.Errorf("ClientToken reused with another body: %+v, want the first result %+v", changed, first)
	}

	// The server is still up and the accepted items are all there, once.
	items := e.transcriptAll(t, ct)
	count := 0
	for _, it := range items {
		if it.Content == "once" {
			count++
		}
	}
	if !hasItem(items, func(it item) bool { return it.Id == kept }) || count != 1 ||
		hasItem(items, func(it item) bool { return it.Content == "twice?" }) {
		t.Errorf("transcript after bad input: %+v", items)
	}
}

func TestTranscriptPaging(t *testing.T) {
	e := newEnv(t, nil)
	cust := e.startChat(t)
	ct := e.connect(t, cust.participantToken).ConnectionCredentials.ConnectionToken
	var sent []string
	for i := range 5 {
		sent = append(sent, e.sendMessage(t, ct, "message "+strconv.Itoa(i)))
	}
	// chatjs's defaults, page after page backward: the newest first.
	var seen []string
	next := ""
	for page := 0; ; page++ {
		body := `{"MaxResults":2,"ScanDirection":"BACKWARD","SortOrder":"ASCENDING","StartPosition":{}` + next + `}`
		var tr transcript
		e.ok(t, "/participant/transcript", ct, body, &tr)
		if tr.InitialContactId != cust.contactID || len(tr.Transcript) > 2 {
			t.Fatalf("page %d: %+v", page, tr)
		}
		for i := len(tr.Transcript) - 1; i >= 0; i-- {
			seen = append(seen, tr.Transcript[i].Id)
		}
		if tr.NextToken == nil {
			break
		}
		if *tr.NextToken == "" || page > 10 {
			t.Fatalf("NextToken %q on page %d", *tr.NextToken, page)
		}
		next = `,"NextToken":` + jsonString(*tr.NextToken)
	}
	// seen is newest first: the messages, newest first, then the
	// customer's joining.
	if len(seen) != len(sent)+1 {
		t.Fatalf("backward pages hold %v, want the %d messages and the join", seen, len(sent))
	}
	for i, id := range sent {
		if seen[len(sent)-1-i] != id {
			t.Fatalf("backward pages %v, want the messages %v newest first", seen, sent)
		}
	}

	var tr transcript
	e.ok(t, "/participant/transcript", ct, `{"StartPosition":{"Id":"`+sent[2]+`"},"SortOrder":"ASCENDING","MaxResults":100}`, &tr)
	if len(tr.Transcript) != 3 || tr.Transcript[0].Id != sent[2] || tr.Transcript[2].Id != sent[4] || tr.NextToken != nil {
		t.Errorf("forward from an Id: %+v", tr)
	}
}

func TestParticipantThrottling(t *testing.T) {
	e := newEnv(t, func(c *connectapi.Config) {
		now := time.Now()
		c.Now = func() time.Time { return now }
		c.Limits = connectapi.RateLimits{PerOperation: map[string]connectapi.Rate{"SendMessage": {Rate: 1, Burst: 2}}}
	})
	cust := e.startChat(t)
	ct := e.connect(t, cust.participantToken).ConnectionCredentials.ConnectionToken
	e.sendMessage(t, ct, "one")
	e.sendMessage(t, ct, "two")
	r := e.do(t, http.MethodPost, "/participant/message", ct, `{"ContentType":"text/plain","Content":"three"}`)
	if r.status != 429 || r.errorType() != "ThrottlingException" {
		t.Errorf("third SendMessage: %d %s", r.status, r.body)
	}
	// Other operations have their own buckets.
	e.transcriptAll(t, ct)
}

func TestDefaultRateLimits(t *testing.T) {
	l := connectapi.DefaultRateLimits()
	for op, want := range map[string]connectapi.Rate{
		"StartChatContact": {5, 8}, "SendMessage": {10, 15}, "CreateParticipantConnection": {6, 9},
		"GetTranscript": {8, 12}, "DisconnectParticipant": {3, 5}, "StartAttachmentUpload": {2, 5},
	} {
		if l.PerOperation[op] != want {
			t.Errorf("%s: %+v, want %+v", op, l.PerOperation[op], want)
		}
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/participant/message", "/participant/connection", "/attachments/upload/x", "/contact/chat"} {
		req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+path, nil)
		req.Header.Set("Origin", "https://shop.example.com")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-amz-bearer,x-amz-user-agent")
		r := send(t, req)
		h := r.header
		if r.status/100 != 2 || h.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "x-amz-bearer") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "amz-sdk-invocation-id") ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
			t.Errorf("preflight %s: %d %v", path, r.status, h)
		}
	}
	r := e.do(t, http.MethodPost, "/participant/message", "bad", `{}`)
	if got := r.header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, "x-amzn-errortype") || !strings.Contains(got, "x-amzn-requestid") {
		t.Errorf("Expose-Headers %q", got)
	}

	limited := newEnv(t, func(c *connectapi.Config) { c.AllowedOrigins = []string{"https://shop.example.com"} })
	for origin, want := range map[string]string{"https://shop.example.com": "https://shop.example.com", "https://evil.example.com": ""} {
		req, _ := http.NewRequest(http.MethodOptions, limited.srv.URL+"/participant/message", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		if got := send(t, req).header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("origin %s: Allow-Origin %q, want %q", origin, got, want)
		}
	}
}
