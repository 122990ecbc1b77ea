package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"

	"github.com/helplinehq/helpline/connector/webhook/webhooktest"
)

// mirrorServe starts serve with a webhook connector posting to recv.
func mirrorServe(t *testing.T, data string, recv *webhooktest.Receiver) *testServer {
	t.Helper()
	t.Setenv("HOOK_SECRET", "hook-secret")
	t.Setenv("HELPLINE_API_TOKEN", "api-token")
	cfg := fmt.Sprintf(`
mirror:
  lease: 2s
  poll_interval: 20ms
connectors:
  - name: hooks
    kind: webhook
    urls: [%s]
    secret_env: HOOK_SECRET
    timeout: 1s
`, recv.URL)
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServe(t, "--config", path, "--data", data, "--disable-rate-limits")
}

// chatSide is a participant's connection token.
type chatSide struct{ token string }

// startChatWithAgent starts a chat on s with the customer Ada and a
// Connect agent Grace, and returns the contact id and both participant
// tokens.
func startChatWithAgent(t *testing.T, s *testServer) (contactID, customerToken, agentToken string) {
	t.Helper()
	ctx := context.Background()
	started, err := s.connect().StartChatContact(ctx, &connect.StartChatContactInput{
		InstanceId:         aws.String(s.banner["Instance id"]),
		ContactFlowId:      aws.String(s.banner["Contact flow id"]),
		ParticipantDetails: &types.ParticipantDetails{DisplayName: aws.String("Ada")},
	})
	if err != nil {
		t.Fatal(err)
	}
	added, err := s.connect().CreateParticipant(ctx, &connect.CreateParticipantInput{
		InstanceId:         aws.String(s.banner["Instance id"]),
		ContactId:          started.ContactId,
		ParticipantDetails: &types.ParticipantDetailsToAdd{DisplayName: aws.String("Grace"), ParticipantRole: types.ParticipantRoleAgent},
	})
	if err != nil {
		t.Fatal(err)
	}
	return *started.ContactId, *started.ParticipantToken, *added.ParticipantCredentials.ParticipantToken
}

// startMirroredChat starts a chat with a customer and an agent.
func startMirroredChat(t *testing.T, s *testServer) (contactID string, customer, agent chatSide) {
	t.Helper()
	contactID, customerToken, agentToken := startChatWithAgent(t, s)
	connectAs := func(participantToken string) chatSide {
		var conn struct {
			ConnectionCredentials struct{ ConnectionToken string }
		}
		if code := participantCall(t, s.url(), "/participant/connection", participantToken,
			map[string]any{"Type": []string{"CONNECTION_CREDENTIALS"}, "ConnectParticipant": true}, &conn); code != 200 {
			t.Fatalf("CreateParticipantConnection: %d", code)
		}
		return chatSide{conn.ConnectionCredentials.ConnectionToken}
	}
	return contactID, connectAs(customerToken), connectAs(agentToken)
}

func (c chatSide) say(t *testing.T, s *testServer, text string) {
	t.Helper()
	if code := participantCall(t, s.url(), "/participant/message", c.token,
		map[string]string{"ContentType": "text/plain", "Content": text}, nil); code != 200 {
		t.Fatalf("SendMessage %q: %d", text, code)
	}
}

// messages returns the contact's message contents the receiver holds,
// once per delivery id.
func messages(recv *webhooktest.Receiver, contactID string) []string {
	var out []string
	for _, d := range recv.Unique() {
		if d.ContactID == contactID && d.Type == "MESSAGE" {
			out = append(out, d.Content)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func adminGet(t *testing.T, s *testServer, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url()+path, nil)
	req.Header.Set("Authorization", "Bearer api-token")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// A chat's customer and agent lines reach the webhook in order and once;
// an outage delays them; a permanent refusal parks the pair, visible to
// the admin API, and helpline replay finishes it once the cause is fixed.
func TestServeMirrorsToWebhook(t *testing.T) {
	recv := webhooktest.NewReceiver("hook-secret")
	defer recv.Close()
	s := mirrorServe(t, filepath.Join(t.TempDir(), "data"), recv)
	contact, customer, agent := startMirroredChat(t, s)

	var want []string
	talk := func(n int, prefix string) {
		for i := range n {
			side, who := customer, "customer"
			if i%2 == 1 {
				side, who = agent, "agent"
			}
			line := fmt.Sprintf("%s %s %d", prefix, who, i)
			side.say(t, s, line)
			want = append(want, line)
		}
	}
	check := func(stage string) {
		t.Helper()
		waitFor(t, stage, func() bool { return len(messages(recv, contact)) >= len(want) })
		if got := messages(recv, contact); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s: webhook got\n%v\nwant\n%v", stage, got, want)
		}
	}

	talk(20, "hello")
	check("the first lines")
	if n, u := len(recv.Deliveries()), len(recv.Unique()); n != u {
		t.Errorf("%d deliveries, %d unique, without any failure", n, u)
	}

	recv.Fail(webhooktest.Failure{Count: 3, Status: 503})
	talk(6, "outage")
	check("lines sent during an outage")

	recv.Fail(webhooktest.Failure{Count: -1, Status: 422})
	talk(4, "refused")
	var pairs struct {
		Pairs []struct {
			ContactID string `json:"contact_id"`
			LastError string `json:"last_error"`
		}
	}
	waitFor(t, "the pair parked", func() bool {
		adminGet(t, s, "/admin/mirror/pairs?state=parked", &pairs)
		return len(pairs.Pairs) == 1
	})
	if p := pairs.Pairs[0]; p.ContactID != contact || !strings.Contains(p.LastError, "422") {
		t.Fatalf("parked pair %+v", p)
	}
	recv.Fail(webhooktest.Failure{})
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"replay", "--data", s.banner["Data directory"], "--connector", "hooks"}, &out, &errs); err != nil {
		t.Fatalf("replay: %v\n%s", err, errs.String())
	}
	if !strings.Contains(out.String(), "1 parked pair(s) resumed") {
		t.Errorf("replay printed %q", out.String())
	}
	check("lines after replay")
}
