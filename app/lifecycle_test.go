package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

// probe is a connector kind that records its lifecycle: "new",
// "provision", "mirror" and "close", in the order they happen.
type probe struct {
	name          string
	failProvision bool

	mu     sync.Mutex // guards the fields below
	events []string
	node   helpline.ConnectorNode
	// lookup is what Intake answered in Provision for an unknown
	// instance: an engine answers ENOTFOUND.
	lookup  error
	mirrors map[string][]int64 // the Seqs mirrored, by contact
}

var (
	probesMu sync.Mutex // guards probes
	probes   = map[string]*probe{}
)

func init() {
	helpline.RegisterConnectorKind("probe", func(cfg helpline.ConnectorConfig) (helpline.Connector, error) {
		var s struct {
			FailProvision bool `yaml:"fail_provision"`
		}
		if err := cfg.Decode(&s); err != nil {
			return nil, err
		}
		p := &probe{name: cfg.Name, failProvision: s.FailProvision, mirrors: map[string][]int64{}}
		p.record("new")
		probesMu.Lock()
		probes[cfg.Name] = p
		probesMu.Unlock()
		return p, nil
	})
}

func probeNamed(t *testing.T, name string) *probe {
	t.Helper()
	probesMu.Lock()
	defer probesMu.Unlock()
	p := probes[name]
	if p == nil {
		t.Fatalf("connector %s was never built", name)
	}
	return p
}

func (p *probe) record(e string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
}

// lifecycle returns the events, runs of "mirror" counted as one.
func (p *probe) lifecycle() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Compact(slices.Clone(p.events))
}

func (p *probe) Name() string { return p.name }

func (p *probe) Provision(ctx context.Context, node helpline.ConnectorNode) error {
	p.record("provision")
	var lookup error
	if node.Intake != nil {
		_, lookup = node.Intake.StartChat(ctx, helpline.StartChatInput{InstanceID: "no-such-instance", ContactFlowID: "f", DisplayName: "Ada"})
	}
	p.mu.Lock()
	p.node, p.lookup = node, lookup
	p.mu.Unlock()
	if p.failProvision {
		return fmt.Errorf("the probe refuses to run")
	}
	return nil
}

func (p *probe) Mirror(ctx context.Context, b *helpline.MirrorBatch) (helpline.MirrorResult, error) {
	p.record("mirror")
	p.mu.Lock()
	for _, it := range b.Items {
		p.mirrors[b.Contact.ID] = append(p.mirrors[b.Contact.ID], it.Seq)
	}
	p.mu.Unlock()
	return helpline.MirrorResult{Delivered: len(b.Items)}, nil
}

func (p *probe) mirrored(contactID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.mirrors[contactID]) > 0
}

// delivered returns the Seqs mirrored of contactID, in order.
func (p *probe) delivered(contactID string) []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.mirrors[contactID])
}

func (p *probe) Close() error {
	p.record("close")
	return nil
}

// loadConfig loads yaml as a configuration file, with a fresh data
// directory.
func loadConfig(t *testing.T, yaml string) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "helpline.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data = t.TempDir()
	return cfg
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A connector is built, then provisioned once the engine exists with an
// intake that works, then mirrored to while the node runs, then closed on
// shutdown, in that order.
func TestConnectorLifecycle(t *testing.T) {
	ctx := context.Background()
	cfg := loadConfig(t, "connectors:\n  - name: probe-run\n    kind: probe\n")
	node, err := New(ctx, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	p := probeNamed(t, "probe-run")
	if got := p.lifecycle(); !slices.Equal(got, []string{"new", "provision"}) {
		t.Fatalf("after New: %q, want new then provision", got)
	}
	p.mu.Lock()
	intake, lookup := p.node.Intake, p.lookup
	p.mu.Unlock()
	if helpline.ErrorCode(lookup) != helpline.ENOTFOUND {
		t.Fatalf("the intake given in Provision answered %v for an unknown instance, want ENOTFOUND from the engine", lookup)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- node.Run(runCtx, ln, nil) }()

	id := node.Identity()
	started, err := intake.StartChat(ctx, helpline.StartChatInput{InstanceID: id.InstanceID, ContactFlowID: id.FlowID, DisplayName: "Ada", ClientToken: "lifecycle"})
	if err != nil {
		t.Fatalf("StartChat through the provisioned intake: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); !p.mirrored(started.Contact.ID); {
		if time.Now().After(deadline) {
			t.Fatalf("the chat started through the intake was never mirrored to the connector; events %q", p.lifecycle())
		}
		time.Sleep(10 * time.Millisecond)
	}

	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := p.lifecycle(); slices.Contains(got, "close") {
		t.Fatalf("closed before Close: %q", got)
	}
	if err := node.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := p.lifecycle(); !slices.Equal(got, []string{"new", "provision", "mirror", "close"}) {
		t.Fatalf("lifecycle %q, want new, provision, mirror, close", got)
	}
	node.Close()
	p.mu.Lock()
	closes := strings.Count(strings.Join(p.events, " "), "close")
	p.mu.Unlock()
	if n := closes; n != 1 {
		t.Fatalf("closed %d times, want once", n)
	}
}

// A connector that fails to be provisioned stops the node from starting:
// New returns the error naming it, and closes every connector it built
// and the store it opened.
func TestConnectorProvisionFailureClosesWhatWasOpened(t *testing.T) {
	ctx := context.Background()
	cfg := loadConfig(t, "connectors:\n  - name: probe-ok\n    kind: probe\n  - name: probe-bad\n    kind: probe\n    fail_provision: true\n")
	node, err := New(ctx, cfg, quiet())
	if err == nil || !strings.Contains(err.Error(), "connector probe-bad") || !strings.Contains(err.Error(), "the probe refuses to run") {
		t.Fatalf("New = %v, %v; want the provisioning error naming probe-bad", node, err)
	}
	for _, name := range []string{"probe-ok", "probe-bad"} {
		if got := probeNamed(t, name).lifecycle(); !slices.Equal(got, []string{"new", "provision", "close"}) {
			t.Errorf("%s: lifecycle %q, want new, provision, close", name, got)
		}
	}
	store := probeNamed(t, "probe-ok").node.Mirrors
	if _, err := store.FindMirrorPairs(ctx, helpline.MirrorPairFilter{}); err == nil {
		t.Error("the store given to the connectors still answers after New failed; want it closed")
	}
}

// A connector whose settings are wrong stops the node before it opens
// anything: not even the data directory is created, and the connectors
// built before it are closed unprovisioned.
func TestConnectorBuildFailureOpensNothing(t *testing.T) {
	cfg := loadConfig(t, "connectors:\n  - name: probe-before\n    kind: probe\n  - name: probe-typo\n    kind: probe\n    fail_provison: true\n")
	cfg.Data = filepath.Join(t.TempDir(), "data")
	if _, err := New(context.Background(), cfg, quiet()); err == nil || !strings.Contains(err.Error(), "connector probe-typo") {
		t.Fatalf("New = %v, want an error naming probe-typo", err)
	}
	if got := probeNamed(t, "probe-before").lifecycle(); !slices.Equal(got, []string{"new", "close"}) {
		t.Errorf("probe-before: lifecycle %q, want new, close", got)
	}
	if _, err := os.Stat(cfg.Data); !os.IsNotExist(err) {
		t.Errorf("the data directory exists after a configuration error (%v)", err)
	}
}
