package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The shipped defaults decode; a file that is missing, has an unknown
// field or fails the intents' check is refused with its name.
func TestLoadBotFiles(t *testing.T) {
	if _, err := NewClassifier(""); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPolicies("")
	if err != nil || p.Handoff.Queue == "" || p.Answers["return_refund"] == "" {
		t.Fatalf("default policies %+v, %v", p, err)
	}
	dir := t.TempDir()
	unknown := filepath.Join(dir, "policies.yaml")
	os.WriteFile(unknown, []byte("handof:\n  queue: x\n"), 0o600)
	if _, err := LoadPolicies(unknown); err == nil || !strings.Contains(err.Error(), "policies.yaml") {
		t.Errorf("unknown field: %v", err)
	}
	one := filepath.Join(dir, "intents.yaml")
	os.WriteFile(one, []byte("intents:\n  - name: a\n    examples: [x]\n"), 0o600)
	if _, err := LoadIntents(one); err == nil {
		t.Error("a single intent was accepted")
	}
	if _, err := LoadIntents(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("a missing file was accepted")
	}
}

// A flow's bot is built from its settings; an unknown kind, a bad orders
// URL, a missing file and two bot flows sharing an id are refused.
func TestBuildBots(t *testing.T) {
	flows := func(bots ...*BotConfig) *Config {
		cfg := &Config{}
		for i, b := range bots {
			cfg.Instances = append(cfg.Instances, InstanceConfig{ID: fmt.Sprint("i", i), Flows: []FlowConfig{{ID: "shop", Bot: b}}})
		}
		return cfg
	}
	fb, err := buildBots(flows(&BotConfig{RemoteBotConfig: RemoteBotConfig{Kind: "ecommerce"}, Orders: OrdersConfig{URL: "https://orders.example.com"}}))
	if err != nil || fb.bots["shop"] == nil || fb.errorQueues["shop"] != "support" {
		t.Fatalf("buildBots = %+v, %v; want bot shop handing to the policies' queue", fb, err)
	}
	for name, cfg := range map[string]*Config{
		"kind":      flows(&BotConfig{RemoteBotConfig: RemoteBotConfig{Kind: "eliza"}}),
		"orders":    flows(&BotConfig{RemoteBotConfig: RemoteBotConfig{Kind: "ecommerce"}, Orders: OrdersConfig{URL: "ftp://x"}}),
		"file":      flows(&BotConfig{RemoteBotConfig: RemoteBotConfig{Kind: "ecommerce"}, Intents: filepath.Join(t.TempDir(), "none.yaml")}),
		"duplicate": flows(&BotConfig{RemoteBotConfig: RemoteBotConfig{Kind: "ecommerce"}}, &BotConfig{RemoteBotConfig: RemoteBotConfig{Kind: "ecommerce"}}),
	} {
		if _, err := buildBots(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
