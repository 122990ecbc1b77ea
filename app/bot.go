package app

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/helplinehq/helpline/bot"
	"gopkg.in/yaml.v3"
)

// LoadIntents reads an intents file (YAML, the shape of the shipped
// bot/defaults/intents.yaml); an empty path is the shipped default.
func LoadIntents(path string) (*bot.IntentSet, error) {
	var set bot.IntentSet
	if err := decodeBotFile(path, bot.DefaultIntents, &set); err != nil {
		return nil, err
	}
	return &set, set.Check()
}

// LoadPolicies reads a policies file (YAML, the shape of the shipped
// bot/defaults/policies.yaml); an empty path is the shipped default.
func LoadPolicies(path string) (*bot.Policies, error) {
	var p bot.Policies
	if err := decodeBotFile(path, bot.DefaultPolicies, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// NewClassifier trains the built-in bot's classifier on the intents file
// at path, or on the shipped intents when path is empty.
func NewClassifier(path string) (*bot.Classifier, error) {
	set, err := LoadIntents(path)
	if err != nil {
		return nil, err
	}
	return bot.NewClassifier(set)
}

// decodeBotFile decodes the YAML file at path, or def when path is
// empty, into v, refusing unknown fields.
func decodeBotFile(path string, def []byte, v any) error {
	data := def
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return err
		}
	} else {
		path = "the shipped default"
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// BotConfig is a flow's bot (flows: - bot:): the bot that answers the
// flow's chats first, as bot:<flow id>.
type BotConfig struct {
	// Kind is the bot: "ecommerce", the built-in e-commerce bot, or
	// "rasa" or "watson", a bot that runs elsewhere, with its settings in
	// RemoteBotConfig (url, queue, timeout, fallback; Watson's
	// assistant_id, version, api_key_env, token_url).
	RemoteBotConfig `yaml:",inline"`
	// Intents and Policies are the built-in bot's files; empty means the
	// shipped defaults.
	Intents  string `yaml:"intents"`
	Policies string `yaml:"policies"`
	// Orders is the order lookup endpoint; without a URL the bot hands
	// order questions to a person.
	Orders OrdersConfig `yaml:"orders"`
}

// OrdersConfig is the built-in bot's order endpoint (bot.OrdersClient):
// its base URL, the environment variable holding its bearer token, and
// the time one lookup may take (default 5s).
type OrdersConfig struct {
	URL      string   `yaml:"url"`
	TokenEnv string   `yaml:"token_env"`
	Timeout  Duration `yaml:"timeout"`
}

// flowBots are the configured flows' bots by id (the flow's id), and the
// queue each hands to when its turn fails.
type flowBots struct {
	bots        map[string]bot.Bot
	errorQueues map[string]string
	// csat is set when a flow asks a CSAT question, which the bot
	// runner asks.
	csat bool
}

// buildBots builds the bot of every flow that has one. A bot's id is its
// flow's, so two flows with bots may not share an id, even in different
// instances.
func buildBots(cfg *Config) (*flowBots, error) {
	fb := &flowBots{bots: map[string]bot.Bot{}, errorQueues: map[string]string{}}
	for _, in := range cfg.Instances {
		for _, f := range in.Flows {
			fb.csat = fb.csat || f.CSAT != nil
			if f.Bot == nil {
				continue
			}
			if fb.bots[f.ID] != nil {
				return nil, fmt.Errorf("instance %s: flow %s: another flow with a bot has the id %s", in.ID, f.ID, f.ID)
			}
			b, queue, err := f.Bot.build()
			if err != nil {
				return nil, fmt.Errorf("instance %s: flow %s: bot: %w", in.ID, f.ID, err)
			}
			fb.bots[f.ID] = b
			fb.errorQueues[f.ID] = queue
			if f.Queue != "" {
				fb.errorQueues[f.ID] = f.Queue
			}
		}
	}
	return fb, nil
}

// build returns the bot bc describes and the queue it hands off to.
func (bc *BotConfig) build() (bot.Bot, string, error) {
	switch bc.Kind {
	case "ecommerce":
	case BotKindRasa, BotKindWatson:
		if bc.Intents != "" || bc.Policies != "" || bc.Orders != (OrdersConfig{}) {
			return nil, "", fmt.Errorf("kind %s takes no intents, policies or orders (the built-in bot's)", bc.Kind)
		}
		b, err := NewRemoteBot(bc.RemoteBotConfig, os.Getenv)
		return b, bc.Queue, err
	default:
		return nil, "", fmt.Errorf("kind %q is not a bot kind (ecommerce, %s, %s)", bc.Kind, BotKindRasa, BotKindWatson)
	}
	if bc.URL != "" || bc.AssistantID != "" || bc.APIKeyEnv != "" || bc.TokenURL != "" || bc.Version != "" {
		return nil, "", errors.New("kind ecommerce takes no url, assistant_id, version, api_key_env or token_url (an outside bot's)")
	}
	clf, err := NewClassifier(bc.Intents)
	if err != nil {
		return nil, "", err
	}
	policies, err := LoadPolicies(bc.Policies)
	if err != nil {
		return nil, "", err
	}
	ec := bot.Config{Classifier: clf, Policies: policies, LookupTimeout: time.Duration(bc.Orders.Timeout)}
	if bc.Orders.URL != "" {
		u, err := url.Parse(bc.Orders.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, "", fmt.Errorf("orders: url %q is not an http(s) URL", bc.Orders.URL)
		}
		ec.Orders = &bot.OrdersClient{BaseURL: bc.Orders.URL, Token: os.Getenv(bc.Orders.TokenEnv)}
	}
	b, err := bot.NewEcommerce(ec)
	if err != nil {
		return nil, "", err
	}
	return b, policies.Handoff.Queue, nil
}
