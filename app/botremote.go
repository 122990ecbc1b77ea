package app

import (
	"errors"
	"fmt"
	"time"

	"github.com/helplinehq/helpline/bot"
)

// RemoteBotConfig is the settings of a bot that runs elsewhere, as a
// flow's bot: section declares it:
//
//	bot: {kind: rasa, url: http://rasa:5005/webhooks/rest/webhook}
//	bot: {kind: watson, url: https://api.us-south.assistant.watson.cloud.ibm.com/instances/…,
//	      assistant_id: …, api_key_env: WATSON_APIKEY}
//
// Kind is rasa or watson; the Watson settings are refused for Rasa.
type RemoteBotConfig struct {
	Kind string `yaml:"kind"`
	URL  string `yaml:"url"`
	// Queue is where the bot hands off unless it names a queue itself;
	// "" is the flow's queue.
	Queue string `yaml:"queue"`
	// Timeout bounds one request to the bot; 0 is 10 s.
	Timeout Duration `yaml:"timeout"`
	// Fallback is said when the bot cannot answer, before the handoff.
	Fallback string `yaml:"fallback"`

	AssistantID string `yaml:"assistant_id"`
	// Version is the Watson API version date; "" is the tested one.
	Version string `yaml:"version"`
	// APIKeyEnv names the environment variable holding the IBM Cloud API
	// key.
	APIKeyEnv string `yaml:"api_key_env"`
	// TokenURL is IAM's token endpoint; "" is IBM Cloud's.
	TokenURL string `yaml:"token_url"`
}

// Kinds of remote bots.
const (
	BotKindRasa   = "rasa"
	BotKindWatson = "watson"
)

// NewRemoteBot builds the bot s declares, reading secrets with getenv.
func NewRemoteBot(s RemoteBotConfig, getenv func(string) string) (bot.Bot, error) {
	switch s.Kind {
	case BotKindRasa:
		return NewRasa(s)
	case BotKindWatson:
		return NewWatson(s, getenv)
	}
	return nil, fmt.Errorf("bot: kind %q is not %s or %s", s.Kind, BotKindRasa, BotKindWatson)
}

// NewRasa builds a Rasa bot from s.
func NewRasa(s RemoteBotConfig) (*bot.Rasa, error) {
	if s.AssistantID != "" || s.Version != "" || s.APIKeyEnv != "" || s.TokenURL != "" {
		return nil, errors.New("bot: rasa takes no assistant_id, version, api_key_env or token_url")
	}
	return bot.NewRasa(bot.RasaConfig{URL: s.URL, Remote: s.remote()})
}

// NewWatson builds a Watson Assistant bot from s, its API key read with
// getenv.
func NewWatson(s RemoteBotConfig, getenv func(string) string) (*bot.Watson, error) {
	if s.APIKeyEnv == "" {
		return nil, errors.New("bot: watson: api_key_env is required")
	}
	key := getenv(s.APIKeyEnv)
	if key == "" {
		return nil, fmt.Errorf("bot: watson: api_key_env: environment variable %s is empty", s.APIKeyEnv)
	}
	return bot.NewWatson(bot.WatsonConfig{URL: s.URL, AssistantID: s.AssistantID, Version: s.Version,
		APIKey: key, TokenURL: s.TokenURL, Remote: s.remote()})
}

func (s RemoteBotConfig) remote() bot.Remote {
	return bot.Remote{Queue: s.Queue, Fallback: s.Fallback, Timeout: time.Duration(s.Timeout)}
}
