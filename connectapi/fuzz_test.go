package connectapi

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/helplinehq/helpline"
)

// Fuzz targets for every request decoder and for the SigV4 Authorization
// parser. Their seeds run in every `go test`; `go test -fuzz FuzzX` explores
// further. Each decoder must never panic, must fail only with EINVALID, and
// must return only requests within the model's limits.

// fuzzDecoder runs decode on every input, checking ok on what it accepts.
func fuzzDecoder[T any](f *testing.F, seeds []string, decode func([]byte) (T, error), ok func(*testing.T, T)) {
	for _, s := range append(seeds, "", "{}", "null", "[]", `"x"`, "{", `{"a":1} trailing`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := decode(body)
		if err != nil {
			if code := helpline.ErrorCode(err); code != helpline.EINVALID {
				t.Fatalf("error code %s for %q: %v", code, body, err)
			}
			return
		}
		ok(t, v)
	})
}

func within(t *testing.T, name, v string, min, max int) {
	t.Helper()
	if n := utf8.RuneCountInString(v); n < min || n > max {
		t.Fatalf("accepted %s of %d characters", name, n)
	}
}

// validated adapts a decode-then-validate pair of the contact API.
func validated[T interface{ validate() error }](decode func([]byte) (T, error)) func([]byte) (T, error) {
	return func(b []byte) (T, error) {
		v, err := decode(b)
		if err != nil {
			return v, err
		}
		return v, v.validate()
	}
}

func FuzzDecodeStartChatContact(f *testing.F) {
	fuzzDecoder(f, []string{
		`{"InstanceId":"i","ContactFlowId":"f","ParticipantDetails":{"DisplayName":"Casey"}}`,
		`{"InstanceId":"i","ContactFlowId":"f","ParticipantDetails":{"DisplayName":"C"},"Attributes":{"a":"b"},"InitialMessage":{"ContentType":"text/plain","Content":"hi"},"ChatDurationInMinutes":60,"SupportedMessagingContentTypes":["text/plain"],"DisconnectOnCustomerExit":["AGENT"],"SegmentAttributes":{"s":{"ValueString":"v"}}}`,
		`{"InstanceId":"i","ContactFlowId":"f","ParticipantDetails":{"DisplayName":"C"},"PersistentChat":{"RehydrationType":"FROM_SEGMENT"}}`,
		`{"InstanceId":"i","ChatDurationInMinutes":1e9}`,
	}, validated(decodeStartChatContact), func(t *testing.T, r *startChatContactRequest) {
		within(t, "InstanceId", r.InstanceId, 1, 100)
		within(t, "DisplayName", r.ParticipantDetails.DisplayName, 1, 256)
		if d := r.ChatDurationInMinutes; d != nil && (*d < 60 || *d > 10080) {
			t.Fatalf("accepted ChatDurationInMinutes %d", *d)
		}
		if r.PersistentChat != nil {
			t.Fatal("accepted PersistentChat")
		}
	})
}

func FuzzDecodeCreateParticipant(f *testing.F) {
	fuzzDecoder(f, []string{
		`{"InstanceId":"i","ContactId":"c","ParticipantDetails":{"ParticipantRole":"CUSTOM_BOT","DisplayName":"Bot"}}`,
		`{"InstanceId":"i","ContactId":"c","ParticipantDetails":{"ParticipantRole":"CUSTOMER"}}`,
	}, validated(decodeCreateParticipant), func(t *testing.T, r *createParticipantRequest) {
		if role := r.ParticipantDetails.ParticipantRole; role != helpline.RoleBot && role != helpline.RoleAgent {
			t.Fatalf("accepted role %q", role)
		}
	})
}

func FuzzDecodeStopContact(f *testing.F) {
	fuzzDecoder(f, []string{`{"InstanceId":"i","ContactId":"c","DisconnectReason":{"Code":"x"}}`},
		validated(decodeStopContact), func(t *testing.T, r *stopContactRequest) {
			within(t, "ContactId", r.ContactId, 1, 256)
		})
}

func FuzzDecodeUpdateContactAttributes(f *testing.F) {
	fuzzDecoder(f, []string{`{"InstanceId":"i","InitialContactId":"c","Attributes":{"a":"b"}}`, `{"InstanceId":"i","InitialContactId":"c","Attributes":{"":"b"}}`},
		validated(decodeUpdateContactAttributes), func(t *testing.T, r *updateContactAttributesRequest) {
			total := 0
			for k, v := range r.Attributes {
				total += len(k) + len(v)
			}
			if r.Attributes == nil || total > 32768 {
				t.Fatalf("accepted attributes of %d bytes", total)
			}
		})
}

func FuzzDecodeCreateParticipantConnection(f *testing.F) {
	fuzzDecoder(f, []string{`{"Type":["WEBSOCKET","CONNECTION_CREDENTIALS"]}`, `{"ConnectParticipant":true}`, `{"Type":["WEBRTC_CONNECTION"]}`, `{"Type":[]}`},
		decodeCreateParticipantConnection, func(t *testing.T, r *createParticipantConnectionRequest) {
			if r.Type != nil && len(r.Type) == 0 {
				t.Fatal("accepted an empty Type")
			}
			for _, c := range r.Type {
				if c != connectionWebSocket && c != connectionCredentials {
					t.Fatalf("accepted Type %q", c)
				}
			}
		})
}

func FuzzDecodeSendMessage(f *testing.F) {
	fuzzDecoder(f, []string{`{"ContentType":"text/plain","Content":"hi","ClientToken":"t"}`, `{"ContentType":"text/plain","Content":5}`},
		decodeSendMessage, func(t *testing.T, r *sendMessageRequest) {
			within(t, "ContentType", r.ContentType, 1, 100)
			within(t, "Content", r.Content, 1, 16384)
			within(t, "ClientToken", deref(r.ClientToken), 0, 500)
		})
}

func FuzzDecodeSendEvent(f *testing.F) {
	fuzzDecoder(f, []string{`{"ContentType":"application/vnd.amazonaws.connect.event.typing"}`, `{"ContentType":"application/vnd.amazonaws.connect.event.message.read","Content":"{\"messageId\":\"m\"}"}`},
		decodeSendEvent, func(t *testing.T, r *sendEventRequest) {
			within(t, "ContentType", r.ContentType, 1, 100)
			within(t, "Content", r.Content, 0, 16384)
		})
}

func FuzzDecodeGetTranscript(f *testing.F) {
	fuzzDecoder(f, []string{
		`{"MaxResults":15,"ScanDirection":"BACKWARD","SortOrder":"ASCENDING","StartPosition":{}}`,
		`{"ContactId":"c","MaxResults":1,"NextToken":"n","ScanDirection":"FORWARD","SortOrder":"DESCENDING","StartPosition":{"AbsoluteTime":"2019-11-08T02:41:28.172Z"}}`,
		`{"StartPosition":{"Id":"i"}}`, `{"StartPosition":{"MostRecent":3}}`, `{"StartPosition":{"Id":"i","MostRecent":3}}`, `{"MaxResults":1.5}`,
	}, decodeGetTranscript, func(t *testing.T, q helpline.TranscriptQuery) {
		if q.MaxResults < 0 || q.MaxResults > 100 || q.MostRecent < 0 || q.MostRecent > 100 {
			t.Fatalf("accepted %+v", q)
		}
		set := 0
		for _, b := range []bool{q.StartID != "", !q.StartTime.IsZero(), q.MostRecent != 0} {
			if b {
				set++
			}
		}
		if set > 1 {
			t.Fatalf("accepted two start positions: %+v", q)
		}
	})
}

func FuzzDecodeDisconnectParticipant(f *testing.F) {
	fuzzDecoder(f, []string{`{"ClientToken":"t"}`}, decodeDisconnectParticipant, func(t *testing.T, r *disconnectParticipantRequest) {
		within(t, "ClientToken", deref(r.ClientToken), 0, 500)
	})
}

func FuzzDecodeStartAttachmentUpload(f *testing.F) {
	fuzzDecoder(f, []string{`{"ContentType":"image/png","AttachmentSizeInBytes":10,"AttachmentName":"a.png","ClientToken":"t"}`, `{"AttachmentSizeInBytes":-1}`},
		decodeStartAttachmentUpload, func(t *testing.T, r *startAttachmentUploadRequest) {
			if n := *r.AttachmentSizeInBytes; n < 1 || n > helpline.MaxAttachmentSize {
				t.Fatalf("accepted size %d", n)
			}
			within(t, "ClientToken", r.ClientToken, 1, 500)
		})
}

func FuzzDecodeCompleteAttachmentUpload(f *testing.F) {
	fuzzDecoder(f, []string{`{"AttachmentIds":["a"],"ClientToken":"t"}`, `{"AttachmentIds":["a","b"],"ClientToken":"t"}`},
		decodeCompleteAttachmentUpload, func(t *testing.T, r *completeAttachmentUploadRequest) {
			if len(r.AttachmentIds) != 1 {
				t.Fatalf("accepted %d ids", len(r.AttachmentIds))
			}
		})
}

func FuzzDecodeGetAttachment(f *testing.F) {
	fuzzDecoder(f, []string{`{"AttachmentId":"a","UrlExpiryInSeconds":60}`, `{"AttachmentId":"a","UrlExpiryInSeconds":4}`},
		decodeGetAttachment, func(t *testing.T, r *getAttachmentRequest) {
			if e := r.UrlExpiryInSeconds; e != nil && (*e < 5 || *e > 300) {
				t.Fatalf("accepted expiry %d", *e)
			}
		})
}

func FuzzDecodeAuthentication(f *testing.F) {
	fuzzDecoder(f, []string{`{"SessionId":"0123456789abcdef0123456789abcdef0123","RedirectUri":"https://x"}`},
		func(b []byte) (*authenticationRequest, error) { return decodeAuthentication(b, true) },
		func(t *testing.T, r *authenticationRequest) {
			within(t, "SessionId", r.SessionId, 36, 36)
			within(t, "RedirectUri", deref(r.RedirectUri), 1, 1024)
		})
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKID/20250301/us-east-1/connect/aws4_request, SignedHeaders=amz-sdk-invocation-id;content-length;content-type;host;x-amz-date, Signature=" + strings.Repeat("ab", 32),
		"AWS4-HMAC-SHA256 Credential=AKID/20250301/us-east-1/connect/aws4_request,SignedHeaders=host,Signature=" + strings.Repeat("0", 64),
		"AWS4-HMAC-SHA256 Credential=/20250301/us-east-1/connect/aws4_request, SignedHeaders=host, Signature=zz",
		"AWS4-HMAC-SHA256 Credential=AKID/2025/us-east-1/connect/aws4_request, SignedHeaders=Host, Signature=",
		"Bearer abc", "", "AWS4-HMAC-SHA256 ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != 403 || ae.name != "IncompleteSignature" {
				t.Fatalf("error %v", err)
			}
			return
		}
		if len(a.Signature) != 64 || a.AccessKeyID == "" || len(a.Date) != 8 || a.Region == "" || a.Service == "" {
			t.Fatalf("accepted %+v", a)
		}
		hasHost := false
		for _, name := range a.SignedHeaders {
			hasHost = hasHost || name == "host"
		}
		if !hasHost {
			t.Fatalf("accepted SignedHeaders without host: %+v", a)
		}
	})
}
