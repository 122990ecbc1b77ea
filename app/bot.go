package app

import (
	"bytes"
	"fmt"
	"os"

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
