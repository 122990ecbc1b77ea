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

// A connector is a module with a lifecycle (New → Provision → Close):
//
//   - Its kind builds it from its own configuration section (a
//     ConnectorKind, registered under the kind's name). Building checks
//     the settings and reaches nothing outside: a configuration error
//     stops the node before it opens anything else.
//   - Once the node exists (store, engine), a connector that needs
//     something of it is a Provisioner: the node hands it a ConnectorNode.
//   - On shutdown, after nothing calls it any more, a connector that holds
//     resources (connections, goroutines) is an io.Closer and is closed.
//
// What a connector can do is named by the interfaces it implements:
// Mirrorer (mirrors transcripts out), InboundConnector (takes webhooks),
// TicketDesk (ticket actions for bots), TicketLinker (links to its
// records) and Batcher (its batch size).

// Connector is any connector: a name, unique in a Helpline, and the
// abilities it implements.
type Connector interface {
	// Name is the connector's configured name.
	Name() string
}

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
}

// Provisioner is a connector that needs what only the running node has.
// The node calls Provision once, after every connector is built and the
// engine exists, before it mirrors anything to the connector or routes
// any request to it. An error stops the node from starting; the node
// then closes the connectors it built.
type Provisioner interface {
	Provision(ctx context.Context, node ConnectorNode) error
}

// ConnectorNode is what the node gives connectors in Provision. The node
// sets every field; a test may leave out what its connector does not use.
type ConnectorNode struct {
	// Intake is the engine, for what comes in through the connector
	// (agent replies typed in a helpdesk, chats of another system).
	Intake Intake
	// DefaultInstanceID is the id of the instance Helpline created on
	// first start. A connector's configuration names it, and its first
	// flow, "default", so that an example works as written on any data
	// directory.
	DefaultInstanceID string
	// Mirrors maps outside references (a ticket id) back to contacts.
	Mirrors MirrorStore
	// OpenAttachment opens the file of a completed attachment that an
	// ATTACHMENT item names, for connectors that copy files into their
	// system; the caller closes the reader. It returns ENOTFOUND when the
	// attachment or its file is gone. Nil when files are not available:
	// connectors then mirror attachments by name only.
	OpenAttachment func(ctx context.Context, id string) (*Attachment, io.ReadCloser, error)
	Now            func() time.Time
	// Logger already names the connector.
	Logger *slog.Logger
	// MarkerKey is a per-installation secret, the same on every node and
	// across restarts, that connectors use to sign the markers they leave
	// in outside systems to record what landed there, so that text a
	// customer typed into the chat can never pass for one. A connector
	// that needs it refuses to be provisioned without it.
	MarkerKey []byte
	// Replay remembers the inbound requests a connector accepted (webhook
	// signatures), in the store, so that a replay is refused after a
	// restart and on every node. Connectors scope their keys by their
	// name. A connector that takes signed webhooks refuses to be
	// provisioned without it.
	Replay ReplayGuard
	// Locks serialises a connector's read-modify-writes of one outside
	// record across the nodes sharing the store. Nil when the store is one
	// process's own (SQLite): a connector then locks within its process.
	Locks KeyLocker
	// Connector returns the node's connector of that name, or nil, for a
	// connector that works with another (a chat source that binds its
	// chats to a CRM connector's records). Every connector is built
	// before any is provisioned; one may not yet be provisioned when
	// another looks it up, so it is only called upon later.
	Connector func(name string) Connector
}

// LeadFinder is a connector that keeps customers as CRM records (Sell
// leads) and can find or create a customer's record ahead of the chat,
// so that a chat source binds the chat to it. FindOrCreateLead is
// idempotent on the email: a customer's second call finds the record of
// the first. It returns the record's id; errors are retryable (EUNAVAILABLE)
// or not, as the outside system answered.
type LeadFinder interface {
	Connector
	FindOrCreateLead(ctx context.Context, c LeadCustomer) (id string, err error)
}

// LeadCustomer is who a LeadFinder finds a record for; Email is required.
type LeadCustomer struct {
	FirstName, LastName, Email string
}

// InboundConnector is a connector that also takes requests from its
// outside system (webhooks), served at /connectors/{name}/ with that
// prefix stripped.
type InboundConnector interface {
	Connector
	http.Handler
}

// TicketLinker is a connector whose records people open in a browser: it
// says where the record a mirror pair's references name is, so that the
// agent console links a chat to its ticket.
type TicketLinker interface {
	Connector
	// TicketURL returns the http(s) address, in the outside system's own
	// web app, of the record refs (a MirrorPair's Refs) name, or "" when
	// they name none.
	TicketURL(refs map[string]string) string
}

// Batcher is a connector that takes at most BatchSize items per Mirror
// call; the dispatcher's default applies to others.
type Batcher interface {
	BatchSize() int
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
