package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/helplinehq/helpline"
	// The connector kinds a configuration may name.
	_ "github.com/helplinehq/helpline/connector/streamchat"
	_ "github.com/helplinehq/helpline/connector/webhook"
	_ "github.com/helplinehq/helpline/connector/zendesk"
	_ "github.com/helplinehq/helpline/connector/zendesksell"
)

// ConnectorEntry is one item of the connectors list: a name, a kind, and
// the kind's own settings inline, which the kind decodes (unknown keys are
// an error):
//
//	connectors:
//	  - name: hooks
//	    kind: webhook
//	    urls: [https://example.com/helpline]
//	    secret_env: HOOK_SECRET
type ConnectorEntry struct {
	Name string
	Kind string
	// settings is the entry without name and kind.
	settings *yaml.Node
}

func (e *ConnectorEntry) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a connector is a mapping with name, kind and its settings", n.Line)
	}
	e.settings = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "name":
			e.Name = v.Value
		case "kind":
			e.Kind = v.Value
		default:
			e.settings.Content = append(e.settings.Content, k, v)
		}
	}
	return nil
}

// decode fills v, the kind's settings struct, refusing unknown keys.
func (e *ConnectorEntry) decode(v any) error {
	if e.settings == nil || len(e.settings.Content) == 0 {
		return nil
	}
	raw, err := yaml.Marshal(e.settings)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("settings (from line %d): %w", e.settings.Line, err)
	}
	return nil
}

func validConnectorName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// lateChat is the engine as connectors see it (their Intake): connectors
// are built before the engine (which needs the names of those that
// mirror), and the engine is set before anything runs.
type lateChat struct{ helpline.Intake }

// buildConnectors builds the configured connectors; open gives them the
// chat's attachment files. The store gives them their marker key (a
// secret generated on first use and kept in the database, so that every
// node and every restart signs markers alike) and their replay guard.
func buildConnectors(ctx context.Context, cfg *Config, chat *lateChat, store helpline.Store, open func(context.Context, string) (*helpline.Attachment, io.ReadCloser, error), logger *slog.Logger) ([]helpline.Connector, error) {
	if len(cfg.Connectors) == 0 {
		return nil, nil
	}
	markerKey, err := store.Secret(ctx, "connector-marker-key", randomBytes(32))
	if err != nil {
		return nil, err
	}
	var out []helpline.Connector
	for _, e := range cfg.Connectors {
		c, err := helpline.NewConnector(e.Kind, helpline.ConnectorConfig{
			Name:           e.Name,
			Decode:         e.decode,
			Getenv:         os.Getenv,
			Logger:         logger.With("connector", e.Name),
			Now:            helpline.Now,
			Intake:         chat,
			Mirrors:        store,
			OpenAttachment: open,
			MarkerKey:      markerKey,
			Replay:         store,
		})
		if err != nil {
			return nil, fmt.Errorf("connector %s: %w", e.Name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// isSource reports whether c only brings contacts in (Stream Chat) and
// mirrors nothing.
func isSource(c helpline.Connector) bool {
	s, ok := c.(interface{ Source() bool })
	return ok && s.Source()
}
