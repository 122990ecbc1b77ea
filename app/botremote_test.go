package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/bot"
	"github.com/helplinehq/helpline/bot/rasatest"
	"github.com/helplinehq/helpline/bot/watsontest"
	"gopkg.in/yaml.v3"
)

// decodeRemoteBot decodes a bot: section as the configuration file
// does, refusing unknown fields.
func decodeRemoteBot(t *testing.T, text string) RemoteBotConfig {
	t.Helper()
	var s RemoteBotConfig
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return s
}

func sayHi(t *testing.T, b bot.Bot) *bot.Response {
	t.Helper()
	resp, err := b.Turn(context.Background(), &bot.Turn{
		Contact: &helpline.Contact{ID: "c1", SupportedContentTypes: []string{helpline.ContentPlain}},
		Item:    &helpline.Item{Type: helpline.ItemMessage, Role: helpline.RoleCustomer, ContentType: helpline.ContentPlain, Content: "hi"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// The settings of each kind, written as in the configuration file, build
// a bot that talks to its server.
func TestRemoteBotSettings(t *testing.T) {
	rasa := rasatest.NewServer()
	defer rasa.Close()
	rasa.On("hi", rasatest.Message{Text: "Hello from Rasa"})
	b, err := NewRemoteBot(decodeRemoteBot(t, "kind: rasa\nurl: "+rasa.WebhookURL()+"\nqueue: support\ntimeout: 5s\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp := sayHi(t, b); len(resp.Replies) != 1 || resp.Replies[0] != bot.Text("Hello from Rasa") {
		t.Errorf("rasa: %+v", resp)
	}

	watson := watsontest.NewServer("secret-key", "asst-1", time.Now)
	defer watson.Close()
	watson.On("hi", watsontest.Text("Hello from Watson"))
	env := map[string]string{"WATSON_APIKEY": "secret-key"}
	s := decodeRemoteBot(t, "kind: watson\nurl: "+watson.URL+"\nassistant_id: asst-1\napi_key_env: WATSON_APIKEY\n"+
		"version: 2021-11-27\ntoken_url: "+watson.TokenURL()+"\nfallback: Sorry!\n")
	b, err = NewRemoteBot(s, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if resp := sayHi(t, b); len(resp.Replies) != 1 || resp.Replies[0] != bot.Text("Hello from Watson") {
		t.Errorf("watson: %+v", resp)
	}
	watson.SetDown(503)
	if resp := sayHi(t, b); len(resp.Replies) != 1 || resp.Replies[0] != bot.Text("Sorry!") || resp.Handoff == nil {
		t.Errorf("watson down: %+v, want the configured fallback and a handoff", resp)
	}
}

func TestRemoteBotSettingsRefused(t *testing.T) {
	env := map[string]string{"WATSON_APIKEY": "k"}
	getenv := func(k string) string { return env[k] }
	const watson = "kind: watson\nurl: https://api.us-south.assistant.watson.cloud.ibm.com\nassistant_id: a1\n"
	for _, text := range []string{
		"kind: dialogflow\nurl: https://example.com\n",
		"url: http://rasa:5005/webhooks/rest/webhook\n",
		"kind: rasa\n",
		"kind: rasa\nurl: http://rasa:5005/webhooks/rest/webhook\nassistant_id: a1\n",
		"kind: rasa\nurl: http://rasa:5005/webhooks/rest/webhook\nqueue: not a queue\n",
		watson,
		watson + "api_key_env: UNSET\n",
		"kind: watson\nassistant_id: a1\napi_key_env: WATSON_APIKEY\n",
		"kind: watson\nurl: https://api.us-south.assistant.watson.cloud.ibm.com\napi_key_env: WATSON_APIKEY\n",
	} {
		if _, err := NewRemoteBot(decodeRemoteBot(t, text), getenv); err == nil {
			t.Errorf("accepted:\n%s", text)
		}
	}
	if _, err := NewRemoteBot(decodeRemoteBot(t, watson+"api_key_env: WATSON_APIKEY\n"), getenv); err != nil {
		t.Errorf("a good watson section refused: %v", err)
	}
}

// A flow's bot: section names an outside bot as the built-in one is
// named: the configuration file loads and builds it, and the bot hands
// off to its queue, or the flow's.
func TestFlowWithRemoteBot(t *testing.T) {
	rasa := rasatest.NewServer()
	defer rasa.Close()
	rasa.On("hi", rasatest.Message{Text: "Hello from Rasa"})
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	cfgText := "instances:\n  - id: shop\n    flows:\n      - id: rasa-flow\n        queue: support\n        bot: {kind: rasa, url: " + rasa.WebhookURL() + "}\n" +
		"      - id: mixed\n        bot: {kind: rasa, url: " + rasa.WebhookURL() + ", intents: x.yaml}\n"
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := buildBots(cfg); err == nil || !strings.Contains(err.Error(), "takes no intents") {
		t.Errorf("a rasa bot with the built-in bot's intents: %v, want a refusal", err)
	}
	cfg.Instances[0].Flows = cfg.Instances[0].Flows[:1]
	fb, err := buildBots(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if resp := sayHi(t, fb.bots["rasa-flow"]); len(resp.Replies) != 1 || resp.Replies[0] != bot.Text("Hello from Rasa") || fb.errorQueues["rasa-flow"] != "support" {
		t.Errorf("rasa flow: %+v, error queue %q", resp, fb.errorQueues["rasa-flow"])
	}
	ecommerceWithURL := &BotConfig{RemoteBotConfig: RemoteBotConfig{Kind: "ecommerce", URL: rasa.WebhookURL()}}
	if _, _, err := ecommerceWithURL.build(); err == nil {
		t.Error("the built-in bot with an outside bot's url was accepted")
	}
}
