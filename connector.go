package helpline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"
)

// ConnectorKind builds a connector of one kind (zendesk, webhook, ...)
// from its configuration section. Kinds register themselves from their
// package's init, so adding one touches no core package.
type ConnectorKind func(cfg ConnectorConfig) (Connector, error)

// ConnectorConfig is what a ConnectorKind is built from.
type ConnectorConfig struct {
	// Name is the connector's configured name.
	Name string
	// Decode fills v, a pointer to the kind's own settings struct, from
	// the connector's configuration section; unknown keys are an error.
	Decode func(v any) error
	// Getenv reads secrets named by the configuration.
	Getenv func(string) string
	Logger *slog.Logger
	Now    func() time.Time
	// Intake is the engine's door for what comes in from the outside
	// system (replies, chats started elsewhere); Mirrors maps outside
	// references (a ticket id) back to contacts.
	Intake  Intake
	Mirrors MirrorStore
	// OpenAttachment opens the file of a completed attachment that an
	// ATTACHMENT item names, for connectors that copy files into their
	// system; the caller closes the reader. It returns ENOTFOUND when the
	// attachment or its file is gone. Nil when files are not available:
	// connectors then mirror attachments by name only.
	OpenAttachment func(ctx context.Context, id string) (*Attachment, io.ReadCloser, error)
	// MarkerKey is a per-installation secret, the same on every node and
	// across restarts, that connectors use to sign the markers they leave
	// in outside systems to record what landed there, so that text a
	// customer typed into the chat can never pass for one. Nil when the
	// node has none: a connector that needs it refuses to be built.
	MarkerKey []byte
	// Replay remembers the inbound requests a connector accepted (webhook
	// signatures), in the store, so that a replay is refused after a
	// restart and on every node. Connectors scope their keys by their
	// name. Nil when the node has none: a connector that takes signed
	// webhooks refuses to be built.
	Replay ReplayGuard
}

// InboundConnector is a connector that also takes requests from its
// outside system (webhooks), served at /connectors/{name}/ with that
// prefix stripped.
type InboundConnector interface {
	Connector
	http.Handler
}

var (
	kindsMu sync.Mutex // guards kinds
	kinds   = map[string]ConnectorKind{}
)

// RegisterConnectorKind makes a kind available to the configuration. It
// panics if the kind is registered twice.
func RegisterConnectorKind(kind string, f ConnectorKind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if _, dup := kinds[kind]; dup {
		panic("helpline: connector kind registered twice: " + kind)
	}
	kinds[kind] = f
}

// NewConnector builds a connector of a registered kind.
func NewConnector(kind string, cfg ConnectorConfig) (Connector, error) {
	kindsMu.Lock()
	f := kinds[kind]
	kindsMu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("unknown connector kind %q (known: %v)", kind, ConnectorKinds())
	}
	return f(cfg)
}

// ConnectorKinds lists the registered kinds, sorted.
func ConnectorKinds() []string {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	var out []string
	for k := range kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
