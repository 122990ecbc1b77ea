package connectapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"
	"github.com/aws/smithy-go"

	"github.com/helplinehq/helpline/connectapi"
)

// apiError returns the error code and HTTP status of an SDK error.
func apiError(t *testing.T, err error) (string, int) {
	t.Helper()
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || !errors.As(err, &re) {
		t.Fatalf("not an API error: %v", err)
	}
	return ae.ErrorCode(), re.HTTPStatusCode()
}

func TestContactOperationsWithTheGoSDK(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c := e.client(accessKey, secretKey)
	before := time.Now().Add(-time.Second)

	started, err := c.StartChatContact(ctx, &connect.StartChatContactInput{
		InstanceId:         aws.String(instanceID),
		ContactFlowId:      aws.String("flow-plain"),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Casey")},
		Attributes:         map[string]string{"order": "1234"},
		InitialMessage:     &types.ChatMessage{ContentType: aws.String("text/plain"), Content: aws.String("Where is my parcel?")},
	})
	if err != nil {
		t.Fatalf("StartChatContact: %v", err)
	}
	contactID := aws.ToString(started.ContactId)
	if contactID == "" || aws.ToString(started.ParticipantId) == "" || aws.ToString(started.ParticipantToken) == "" {
		t.Fatalf("StartChatContact answered %+v", started)
	}

	bot, err := c.CreateParticipant(ctx, &connect.CreateParticipantInput{
		InstanceId: aws.String(instanceID), ContactId: aws.String(contactID),
		ParticipantDetails: &types.ParticipantDetailsToAdd{ParticipantRole: types.ParticipantRoleCustomBot, DisplayName: aws.String("Helper")},
	})
	if err != nil {
		t.Fatalf("CreateParticipant: %v", err)
	}
	if aws.ToString(bot.ParticipantId) == "" || aws.ToString(bot.ParticipantCredentials.ParticipantToken) == "" {
		t.Fatalf("CreateParticipant answered %+v", bot)
	}
	if _, err := time.Parse(time.RFC3339, aws.ToString(bot.ParticipantCredentials.Expiry)); err != nil {
		t.Errorf("participant token Expiry %q: %v", aws.ToString(bot.ParticipantCredentials.Expiry), err)
	}

	if _, err := c.UpdateContactAttributes(ctx, &connect.UpdateContactAttributesInput{
		InstanceId: aws.String(instanceID), InitialContactId: aws.String(contactID),
		Attributes: map[string]string{"tier": "gold"},
	}); err != nil {
		t.Fatalf("UpdateContactAttributes: %v", err)
	}
	attrs, err := c.GetContactAttributes(ctx, &connect.GetContactAttributesInput{
		InstanceId: aws.String(instanceID), InitialContactId: aws.String(contactID),
	})
	if err != nil {
		t.Fatalf("GetContactAttributes: %v", err)
	}
	if attrs.Attributes["order"] != "1234" || attrs.Attributes["tier"] != "gold" {
		t.Errorf("attributes = %v", attrs.Attributes)
	}

	desc, err := c.DescribeContact(ctx, &connect.DescribeContactInput{InstanceId: aws.String(instanceID), ContactId: aws.String(contactID)})
	if err != nil {
		t.Fatalf("DescribeContact: %v", err)
	}
	ct := desc.Contact
	if aws.ToString(ct.Id) != contactID || aws.ToString(ct.InitialContactId) != contactID ||
		ct.Channel != types.ChannelChat || ct.InitiationMethod != types.ContactInitiationMethodApi {
		t.Errorf("DescribeContact = %+v", ct)
	}
	if ct.InitiationTimestamp == nil || ct.InitiationTimestamp.Before(before) || ct.InitiationTimestamp.After(time.Now()) {
		t.Errorf("InitiationTimestamp = %v", ct.InitiationTimestamp)
	}
	if ct.DisconnectTimestamp != nil {
		t.Errorf("active contact has DisconnectTimestamp %v", ct.DisconnectTimestamp)
	}

	if _, err := c.StopContact(ctx, &connect.StopContactInput{InstanceId: aws.String(instanceID), ContactId: aws.String(contactID)}); err != nil {
		t.Fatalf("StopContact: %v", err)
	}
	if _, err := c.StopContact(ctx, &connect.StopContactInput{InstanceId: aws.String(instanceID), ContactId: aws.String(contactID)}); err != nil {
		t.Errorf("second StopContact: %v", err)
	}
	desc, err = c.DescribeContact(ctx, &connect.DescribeContactInput{InstanceId: aws.String(instanceID), ContactId: aws.String(contactID)})
	if err != nil {
		t.Fatalf("DescribeContact: %v", err)
	}
	if desc.Contact.DisconnectTimestamp == nil || desc.Contact.DisconnectTimestamp.Before(*desc.Contact.InitiationTimestamp) ||
		aws.ToString(desc.Contact.DisconnectReason) != "API" {
		t.Errorf("stopped contact: DisconnectTimestamp %v DisconnectReason %q", desc.Contact.DisconnectTimestamp, aws.ToString(desc.Contact.DisconnectReason))
	}

	// A participant cannot join an ended chat.
	_, err = c.CreateParticipant(ctx, &connect.CreateParticipantInput{
		InstanceId: aws.String(instanceID), ContactId: aws.String(contactID),
		ParticipantDetails: &types.ParticipantDetailsToAdd{ParticipantRole: types.ParticipantRoleCustomBot, DisplayName: aws.String("Late")},
	})
	var conflict *types.ConflictException
	if !errors.As(err, &conflict) {
		t.Errorf("CreateParticipant on an ended chat: %v", err)
	}
}

func TestContactOperationErrors(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c := e.client(accessKey, secretKey)

	_, err := c.DescribeContact(ctx, &connect.DescribeContactInput{InstanceId: aws.String(instanceID), ContactId: aws.String("no-such-contact")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || nf.ErrorMessage() == "" {
		t.Errorf("DescribeContact of an unknown contact: %v", err)
	}

	_, err = c.StartChatContact(ctx, &connect.StartChatContactInput{
		InstanceId: aws.String(instanceID), ContactFlowId: aws.String("flow-plain"),
		ParticipantDetails:    &types.ParticipantDetails{DisplayName: aws.String("Casey")},
		ChatDurationInMinutes: aws.Int32(5),
	})
	var invalid *types.InvalidRequestException
	if !errors.As(err, &invalid) || invalid.ErrorMessage() == "" {
		t.Errorf("StartChatContact with a 5-minute chat: %v", err)
	}

	_, err = c.CreateParticipant(ctx, &connect.CreateParticipantInput{
		InstanceId: aws.String(instanceID), ContactId: aws.String("x"),
		ParticipantDetails: &types.ParticipantDetailsToAdd{ParticipantRole: types.ParticipantRoleCustomer, DisplayName: aws.String("Nope")},
	})
	if !errors.As(err, &invalid) {
		t.Errorf("CreateParticipant as CUSTOMER: %v", err)
	}
}

// tamper changes one byte of every request body after it was signed.
type tamper struct{}

func (tamper) RoundTrip(req *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	b = bytes.Replace(b, []byte("Casey"), []byte("Casez"), 1)
	req.Body = io.NopCloser(bytes.NewReader(b))
	return http.DefaultTransport.RoundTrip(req)
}

func TestSignatureFailures(t *testing.T) {
	e := newEnv(t, nil)
	stale := newEnv(t, func(c *connectapi.Config) {
		c.Now = func() time.Time { return time.Now().Add(20 * time.Minute) }
	})
	start := &connect.StartChatContactInput{
		InstanceId:         aws.String(instanceID),
		ContactFlowId:      aws.String("flow-plain"),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Casey")},
	}
	tests := []struct {
		name   string
		client *connect.Client
		code   string
		status int
	}{
		{"wrong secret", e.client(accessKey, "not-the-secret"), "InvalidSignatureException", 403},
		{"unknown key", e.client("AKIDUNKNOWN", secretKey), "UnrecognizedClientException", 403},
		{"stale X-Amz-Date", stale.client(accessKey, secretKey), "RequestExpired", 400},
		{"tampered body", e.client(accessKey, secretKey, func(o *connect.Options) {
			o.HTTPClient = &http.Client{Transport: tamper{}}
		}), "InvalidSignatureException", 403},
		{"wrong region", e.client(accessKey, secretKey, func(o *connect.Options) { o.Region = "eu-west-1" }), "InvalidSignatureException", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.StartChatContact(context.Background(), start)
			if err == nil {
				t.Fatal("StartChatContact succeeded")
			}
			code, status := apiError(t, err)
			if code != tt.code || status != tt.status {
				t.Errorf("got %s %d, want %s %d", code, status, tt.code, tt.status)
			}
		})
	}

	// The same client and body, correctly signed, still work.
	if _, err := e.client(accessKey, secretKey).StartChatContact(context.Background(), start); err != nil {
		t.Errorf("StartChatContact after refusals: %v", err)
	}

	r := e.do(t, http.MethodPut, "/contact/chat", "", `{"InstanceId":"inst-1"}`)
	if r.status != 403 || r.errorType() != "IncompleteSignature" {
		t.Errorf("unsigned StartChatContact: %d %s %s", r.status, r.errorType(), r.body)
	}
}

func TestStartChatContactThrottled(t *testing.T) {
	e := newEnv(t, func(c *connectapi.Config) {
		now := time.Now()
		c.Now = func() time.Time { return now } // the bucket never refills
		c.Limits = connectapi.RateLimits{PerOperation: map[string]connectapi.Rate{"StartChatContact": {Rate: 1, Burst: 2}}}
	})
	e.startChat(t)
	e.startChat(t)
	_, err := e.client(accessKey, secretKey).StartChatContact(context.Background(), &connect.StartChatContactInput{
		InstanceId: aws.String(instanceID), ContactFlowId: aws.String("flow-plain"),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Casey")},
	})
	if code, status := apiError(t, err); code != "TooManyRequestsException" || status != 429 {
		t.Errorf("third StartChatContact: %s %d", code, status)
	}
}
