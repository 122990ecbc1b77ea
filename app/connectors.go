package app

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
	_ "github.com/helplinehq/helpline/connector/freshdesk"
	_ "github.com/helplinehq/helpline/connector/kustomer"
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

// buildConnectors builds the configured connectors from their settings.
// They run only once provisioned (provisionConnectors). On an error it
// returns those built so far, for the caller to close.
func buildConnectors(cfg *Config) ([]helpline.Connector, error) {
	var out []helpline.Connector
	for _, e := range cfg.Connectors {
		c, err := helpline.NewConnector(e.Kind, helpline.ConnectorConfig{Name: e.Name, Decode: e.decode, Getenv: os.Getenv})
		if err != nil {
			return out, fmt.Errorf("connector %s: %w", e.Name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// provisionConnectors gives the connectors what they need of the node:
// the engine, the store, the default instance's id, the chat's
// attachment files and the other connectors by name. The store gives
// them their marker key (a secret generated on first use and kept in the
// database, so that every node and every restart signs markers alike)
// and their replay guard, and, when several nodes share it, its key locks.
func provisionConnectors(ctx context.Context, conns []helpline.Connector, intake helpline.Intake, store helpline.Store, defaultInstanceID string, open func(context.Context, string) (*helpline.Attachment, io.ReadCloser, error), logger *slog.Logger) error {
	if len(conns) == 0 {
		return nil
	}
	markerKey, err := store.Secret(ctx, "connector-marker-key", randomBytes(32))
	if err != nil {
		return err
	}
	locks, _ := store.(helpline.KeyLocker)
	byName := map[string]helpline.Connector{}
	for _, c := range conns {
		byName[c.Name()] = c
	}
	for _, c := range conns {
		p, ok := c.(helpline.Provisioner)
		if !ok {
			continue
		}
		err := p.Provision(ctx, helpline.ConnectorNode{
			Intake:            intake,
			DefaultInstanceID: defaultInstanceID,
			Mirrors:           store,
			OpenAttachment:    open,
			Now:               helpline.Now,
			Logger:            logger.With("connector", c.Name()),
			MarkerKey:         markerKey,
			Replay:            store,
			Locks:             locks,
			Connector:         func(name string) helpline.Connector { return byName[name] },
		})
		if err != nil {
			return fmt.Errorf("connector %s: %w", c.Name(), err)
		}
	}
	return nil
}

// closeConnectors closes the connectors that hold resources.
func closeConnectors(conns []helpline.Connector, logger *slog.Logger) {
	for _, c := range conns {
		if cl, ok := c.(io.Closer); ok {
			if err := cl.Close(); err != nil {
				logger.Warn("closing a connector", "connector", c.Name(), "err", err)
			}
		}
	}
}
