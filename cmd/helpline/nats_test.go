package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/connect"
	"github.com/aws/aws-sdk-go-v2/service/connect/types"
	"github.com/gorilla/websocket"

	"github.com/helplinehq/helpline/nats/natstest"
)

// Two nodes share a store and a NATS bus: a customer on one node and an
// agent on the other chat normally, each seeing the other's lines on its
// own node's socket.
func TestServeTwoNodesOnNATS(t *testing.T) {
	url := natstest.URL(t)
	data := t.TempDir()
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte("bus_prefix: "+natstest.Prefix()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The file names the prefix, the flag the server.
	a := startServe(t, "--config", path, "--data", data, "--bus", url, "--disable-rate-limits")
	b := startServe(t, "--config", path, "--data", data, "--bus", url, "--disable-rate-limits")

	contactID, customerToken, customerWS := startCustomer(t, a) // on node a
	added, err := a.connect().CreateParticipant(context.Background(), &connect.CreateParticipantInput{
		InstanceId:         aws.String(a.banner["Instance id"]),
		ContactId:          aws.String(contactID),
		ParticipantDetails: &types.ParticipantDetailsToAdd{DisplayName: aws.String("Grace"), ParticipantRole: types.ParticipantRoleAgent},
	})
	if err != nil {
		t.Fatal(err)
	}
	var conn struct {
		Websocket             struct{ Url string }
		ConnectionCredentials struct{ ConnectionToken string }
	}
	if code := participantCall(t, b.url(), "/participant/connection", *added.ParticipantCredentials.ParticipantToken,
		map[string]any{"Type": []string{"WEBSOCKET", "CONNECTION_CREDENTIALS"}}, &conn); code != 200 {
		t.Fatalf("CreateParticipantConnection on node b: %d", code)
	}
	if !strings.HasPrefix(conn.Websocket.Url, "ws"+strings.TrimPrefix(b.url(), "http")) {
		t.Fatalf("the agent's socket %s is not node b's", conn.Websocket.Url)
	}
	agentWS, _, err := websocket.DefaultDialer.Dial(conn.Websocket.Url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer agentWS.Close()
	if err := agentWS.WriteMessage(websocket.TextMessage, []byte(`{"topic":"aws/subscribe","content":{"topics":["aws/chat"]}}`)); err != nil {
		t.Fatal(err)
	}

	say := func(s *testServer, token, text string) {
		t.Helper()
		if code := participantCall(t, s.url(), "/participant/message", token,
			map[string]string{"ContentType": "text/plain", "Content": text}, nil); code != 200 {
			t.Fatalf("SendMessage %q: %d", text, code)
		}
	}
	say(a, customerToken, "hello from node a")
	awaitItem(t, agentWS, "the customer's line on node b", func(typ, _, content, _, _ string) bool {
		return typ == "MESSAGE" && content == "hello from node a"
	})
	say(b, conn.ConnectionCredentials.ConnectionToken, "hello from node b")
	awaitItem(t, customerWS, "the agent's line on node a", func(typ, _, content, _, _ string) bool {
		return typ == "MESSAGE" && content == "hello from node b"
	})
}

// serve refuses a -bus flag that is no NATS URL, and a bus_prefix with no
// bus.
func TestServeRejectsBadBusFlag(t *testing.T) {
	prefixOnly := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(prefixOnly, []byte("bus_prefix: shop\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--bus", "redis://127.0.0.1:6379"},
		{"--bus", "127.0.0.1:4222"},
		{"--bus", "nats://"},
		{"--config", prefixOnly},
	} {
		err := run(context.Background(), append([]string{"serve", "--data", t.TempDir()}, args...), &strings.Builder{}, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), "bus") {
			t.Errorf("%q: err = %v, want a bus error", args, err)
		}
	}
}
