// Package app assembles a Helpline node: it turns a configuration into a
// running node (store, bus, attachment files, engine, connectors, mirror
// dispatcher, HTTP transports) and runs its parts as one group with an
// orderly shutdown. Only app wires concrete types together; the command
// parses flags and calls it.
package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/bot"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/connectapi"
	"github.com/helplinehq/helpline/httpapi"
	"github.com/helplinehq/helpline/mirror"
	"github.com/helplinehq/helpline/routing"
	"github.com/helplinehq/helpline/web"
)

// defaultDrainTimeout bounds how long in-flight requests and deliveries
// get to finish when the node stops (Config.DrainTimeout).
const defaultDrainTimeout = 15 * time.Second

// Node is a wired Helpline: New opens and builds it, Run serves it until
// its context is done, Close releases what New opened.
type Node struct {
	cfg     *Config
	logger  *slog.Logger
	store   helpline.Store
	bus     helpline.Bus
	blobs   helpline.BlobStore
	engine  *chat.Service
	conns   []helpline.Connector
	mirrors *mirror.Dispatcher
	router  *router
	// bots is nil when no flow has a bot or a CSAT question.
	bots     *bot.Runner
	identity *Identity
	// api serves the Connect API; admin serves /admin and /api; agents
	// serves the agent API, /api/agent and /api/admin; inbound
	// are the connectors taking webhooks, by name.
	api    http.Handler
	admin  http.Handler
	agents http.Handler
	// web serves the pages: landing, widget and console; widgets the
	// widget's API, /api/widget.
	web     *web.Handler
	widgets *httpapi.WidgetAPI
	inbound map[string]helpline.InboundConnector
	// limits bounds the HTTP server's connections.
	limits connLimits
	// metrics serves the Prometheus metrics, behind a bearer token when
	// one is configured.
	metrics http.Handler
	// draining is closed when Run starts stopping: the transports then
	// close their WebSockets for clients to reconnect elsewhere, and
	// refuse new ones; /healthz says "draining".
	draining  chan struct{}
	drainOnce sync.Once
	// realtimeSlots bounds the /healthz/realtime round trips under way.
	realtimeSlots chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// New builds the node cfg describes, in this order: the connectors from
// their settings (a configuration error opens nothing), the store, the bus
// and the attachment files, the instances, the engine, the connectors'
// provisioning with the engine, the routing loop, the mirror dispatcher
// and the HTTP handlers. cfg.Data must be set. When New fails it closes what it opened.
func New(ctx context.Context, cfg *Config, logger *slog.Logger) (*Node, error) {
	n := &Node{cfg: cfg, logger: logger, limits: cfg.HTTP.limits(),
		draining: make(chan struct{}), realtimeSlots: make(chan struct{}, 4)}
	if err := n.open(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) open(ctx context.Context) error {
	cfg := n.cfg
	var err error
	if n.conns, err = buildConnectors(cfg); err != nil {
		return err
	}
	bots, err := buildBots(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return err
	}
	if fi, err := os.Stat(cfg.Data); err == nil && fi.Mode().Perm()&0o077 != 0 {
		n.logger.Warn("the data directory can be read by other users; its files are created for the owner only, but consider chmod 700",
			"data", cfg.Data, "mode", fi.Mode().Perm().String())
	}
	if n.store, err = OpenStore(cfg); err != nil {
		return err
	}
	if n.bus, err = OpenBus(cfg, n.logger); err != nil {
		return err
	}
	if n.blobs, err = OpenBlobs(cfg, n.store); err != nil {
		return err
	}
	blobs := n.blobs
	if n.identity, err = ensureDefaultInstance(ctx, n.store); err != nil {
		return err
	}
	for _, in := range cfg.instances() {
		if err := n.store.SaveInstance(ctx, in); err != nil {
			return err
		}
	}
	if err := checkAccessKeysUnique(ctx, n.store); err != nil {
		return err
	}
	if err := ensureDefaultQueue(ctx, n.store, n.identity.InstanceID); err != nil {
		return err
	}
	if err := applyRouting(ctx, n.store, cfg, n.identity.InstanceID); err != nil {
		return err
	}
	key, err := n.store.Secret(ctx, "token-signing-key", randomBytes(32))
	if err != nil {
		return err
	}
	// The mirror dispatcher's lease owner id stays the same across
	// restarts, so that a restarted process takes back at once the pairs
	// it held when killed. It is a file of the data directory, not a row of
	// the database, because nodes sharing a database each need their own.
	owner, err := nodeID(filepath.Join(cfg.Data, "node-id"))
	if err != nil {
		return err
	}

	var mirrors []helpline.Mirrorer
	var names []string
	desks := map[string]helpline.TicketDesk{}
	links := map[string]helpline.TicketLinker{}
	n.inbound = map[string]helpline.InboundConnector{}
	for _, c := range n.conns {
		if m, ok := c.(helpline.Mirrorer); ok {
			mirrors = append(mirrors, m)
			names = append(names, c.Name())
		}
		if d, ok := c.(helpline.TicketDesk); ok {
			desks[c.Name()] = d
		}
		if l, ok := c.(helpline.TicketLinker); ok {
			links[c.Name()] = l
		}
		if in, ok := c.(helpline.InboundConnector); ok {
			n.inbound[c.Name()] = in
		}
	}
	n.engine = chat.New(chat.Config{
		Store:  n.store,
		Bus:    n.bus,
		Blobs:  blobs,
		Tokens: helpline.NewTokens(key),
		Logger: n.logger,
		Limits: chat.Limits{
			MaxActiveChats:           cfg.Limits.MaxActiveChats,
			MaxAttachmentsPerContact: cfg.Limits.MaxAttachmentsPerContact,
			DefaultChatDuration:      time.Duration(cfg.Limits.ChatDuration),
		},
		Mirrors:       names,
		PresenceGrace: cfg.Routing.grace(),
	})
	n.router = newRouter(n.store, n.bus, n.engine, nil, cfg.Routing, n.logger)
	if len(bots.bots) > 0 || bots.csat {
		n.bots = bot.NewRunner(bot.RunnerConfig{Store: n.store, Bus: n.bus, Engine: n.engine,
			Bots: bots.bots, ErrorQueues: bots.errorQueues, Logger: n.logger})
	}
	if err := provisionConnectors(ctx, n.conns, n.engine, n.store, n.identity.InstanceID, chat.AttachmentOpener(n.store, blobs), n.logger); err != nil {
		return err
	}

	// A registry per node rather than the process-wide default, so that
	// every series it serves is this node's.
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.mirrors = mirror.New(mirror.Config{
		Store:        n.store,
		Bus:          n.bus,
		Connectors:   mirrors,
		Owner:        owner,
		Logger:       n.logger,
		Lease:        time.Duration(cfg.Mirror.Lease),
		Workers:      cfg.Mirror.Workers,
		PollInterval: time.Duration(cfg.Mirror.PollInterval),
		Linger:       time.Duration(cfg.Mirror.Linger),
		Registerer:   registry,
	})
	n.metrics = promhttp.HandlerFor(registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(n.logger.Handler(), slog.LevelWarn)})
	if cfg.Metrics.TokenEnv != "" {
		n.metrics = httpapi.RequireToken(os.Getenv(cfg.Metrics.TokenEnv), n.metrics)
	}
	tokenEnv := cfg.APITokenEnv
	if tokenEnv == "" {
		tokenEnv = "HELPLINE_API_TOKEN"
	}
	csrfKey, err := n.store.Secret(ctx, "csrf-key", randomBytes(32))
	if err != nil {
		return err
	}
	aa := cfg.AgentAPI
	agents := httpapi.NewAgentAPI(httpapi.AgentConfig{
		Agents:             n.store,
		Desk:               n.engine,
		Participants:       n.engine,
		Mirrors:            n.store,
		Connectors:         names,
		TicketLinks:        links,
		CheckPassword:      routing.CheckPassword,
		HashPassword:       routing.HashPassword,
		DefaultInstance:    n.identity.InstanceID,
		CSRFKey:            csrfKey,
		SecureCookie:       strings.HasPrefix(cfg.PublicURL, "https://"),
		SessionIdle:        time.Duration(aa.SessionIdleTimeout),
		SessionLifetime:    time.Duration(aa.SessionLifetime),
		LoginFailsAccount:  aa.LoginFailuresPerAccount,
		LoginFailsAddress:  aa.LoginFailuresPerAddress,
		LoginThrottleSpell: time.Duration(aa.LoginThrottle),
		Logger:             n.logger,
		Feed:               n.engine,
		Bus:                n.bus,
		Widgets:            n.store,
		Instances:          n.store,
		PublicURL:          cfg.PublicURL,
		// A live socket records its agent as seen well within the grace.
		SocketPing: min(httpapi.DefaultSocketPing, cfg.Routing.grace()/3),
		Draining:   n.draining,
	})
	n.agents = agents
	n.admin = httpapi.New(httpapi.Config{Mirrors: n.store, Desks: desks, Token: os.Getenv(tokenEnv), Agents: agents, Logger: n.logger})
	uploadRate := n.limits.minUploadRate
	if n.limits.readBody == 0 {
		uploadRate = -1 // read_body_timeout: 0 turns every body deadline off
	}
	rates := connectapi.DefaultRateLimits()
	rates.Disabled = cfg.Limits.DisableRateLimits
	for op, r := range cfg.Limits.Rates {
		rates.PerOperation[op] = connectapi.Rate{Rate: r.Rate, Burst: r.Burst}
	}
	for op, r := range cfg.Limits.ParticipantRates {
		rates.PerParticipant[op] = connectapi.Rate{Rate: r.Rate, Burst: r.Burst}
	}
	rates.SocketsPerParticipant = cfg.Limits.SocketsPerParticipant
	rates.PerOperation = shareRates(rates.PerOperation, cfg.Limits.Nodes)
	n.api = connectapi.New(connectapi.Config{
		Service:   n.engine,
		Logger:    n.logger,
		PublicURL: cfg.PublicURL,
		Region:    cfg.Region,
		Limits:    rates,

		MinUploadRate: uploadRate,
		UploadGrace:   n.limits.readBody,
		Draining:      n.draining,
	})
	n.widgets = httpapi.NewWidgetAPI(httpapi.WidgetConfig{Widgets: n.store, Contacts: n.engine,
		DefaultInstance: n.identity.InstanceID, PublicURL: cfg.PublicURL,
		Routing: n.store, Presence: n.engine.PresenceStatus,
		DisableRateLimit: cfg.Limits.DisableRateLimits, Logger: n.logger})
	n.web, err = web.New(web.Options{FrameAncestors: n.widgets.FrameAncestors})
	return err
}

// Identity is the default instance's: what a client needs to reach it.
func (n *Node) Identity() *Identity { return n.identity }

// HasAgents reports whether the default instance has an agent, enabled
// or not, once the configuration's agents are applied.
func (n *Node) HasAgents(ctx context.Context) (bool, error) {
	agents, err := n.store.FindAgents(ctx, n.identity.InstanceID)
	return len(agents) > 0, err
}

// Run serves the node on ln until ctx is done or a part of it fails,
// then drains and shuts down in order. Draining first: open WebSockets
// are closed with code 1012, which clients answer by reconnecting (to
// another node, behind a load balancer), new ones are refused with 503
// and Retry-After, and /healthz answers 503 "draining". Then the HTTP
// server stops taking connections and lets in-flight requests finish,
// the mirror dispatcher lets its deliveries in flight finish and releases
// its leases (both within Config.DrainTimeout from the start of the
// drain), then the bot runner (when a flow has a bot
// or a CSAT question), the routing loop
// and the engine stop. It returns the failure that stopped it, or nil.
// Close releases the rest afterwards.
//
// metricsLn, when not nil, serves /metrics instead of ln.
func (n *Node) Run(ctx context.Context, ln, metricsLn net.Listener) error {
	if metricsLn == nil && n.cfg.Metrics.TokenEnv == "" {
		if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
			n.logger.Warn("/metrics needs no token and is served on an address others may reach; set metrics.listen or metrics.token_env",
				"addr", ln.Addr().String())
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/", n.api)
	mux.HandleFunc("GET /healthz", n.healthz)
	mux.HandleFunc("GET /healthz/realtime", n.realtime)
	if metricsLn == nil {
		mux.Handle("GET /metrics", n.metrics)
	}
	mux.Handle("/admin/", n.admin)
	mux.Handle("/api/", n.admin)
	mux.Handle("/api/agent/", n.agents)
	mux.Handle("/api/admin/", n.agents)
	mux.Handle("/api/widget/", n.widgets)
	n.web.Routes(mux)
	for name, c := range n.inbound {
		mux.Handle("/connectors/"+name+"/", http.StripPrefix("/connectors/"+name, c))
	}
	errorLog := slog.NewLogLogger(n.logger.Handler(), slog.LevelWarn)
	// No ReadTimeout or WriteTimeout: they would cut WebSockets before
	// the upgrade hands them over, and a 20 MB download to a slow client.
	// Bodies get deadlines per request instead (limitBodyRead, and the
	// attachment upload's own).
	hs := &http.Server{
		Handler:           connectapi.LogRequests(n.logger, limitBodyRead(n.limits.readBody, mux), connectapi.SampleSuccesses(n.cfg.Log.RequestSample)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       n.limits.idle,
		ErrorLog:          errorLog,
	}
	// grace ends DrainTimeout after the drain starts: requests and mirror
	// deliveries in flight get until then.
	grace, endGrace := context.WithCancel(context.Background())
	defer endGrace()
	// Started in this order, stopped in the reverse one.
	parts := []component{
		{"engine", n.engine.Run},
		{"routing", n.router.Run},
	}
	if n.bots != nil {
		parts = append(parts, component{"bot runner", n.bots.Run})
	}
	parts = append(parts, component{"mirror dispatcher", func(ctx context.Context) error { return n.mirrors.RunGraceful(ctx, grace) }})
	if metricsLn != nil {
		ms := &http.Server{
			Handler: connectapi.LogRequests(n.logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/metrics" {
					http.NotFound(w, r)
					return
				}
				n.metrics.ServeHTTP(w, r)
			})),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       n.limits.idle,
			ErrorLog:          errorLog,
		}
		parts = append(parts, component{"metrics server", serveHTTP(ms, newLimitListener(metricsLn, n.limits, n.logger), grace)})
	}
	parts = append(parts,
		component{"http server", serveHTTP(hs, newLimitListener(ln, n.limits, n.logger), grace)},
		// Stopped first.
		component{"drain", func(ctx context.Context) error {
			<-ctx.Done()
			n.drain()
			stop := time.AfterFunc(n.cfg.drainTimeout(), endGrace)
			context.AfterFunc(grace, func() { stop.Stop() })
			return nil
		}})
	return runGroup(ctx, n.logger, parts)
}

// drain tells the transports and /healthz that the node is stopping.
func (n *Node) drain() {
	n.drainOnce.Do(func() {
		n.logger.Info("draining: asking WebSocket clients to reconnect elsewhere", "timeout", n.cfg.drainTimeout())
		close(n.draining)
	})
}

// isDraining reports whether the node has started stopping.
func (n *Node) isDraining() bool {
	select {
	case <-n.draining:
		return true
	default:
		return false
	}
}

// Close releases what New opened: the connectors, the bus and the store.
// Call it after Run has returned; calling it again does nothing.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		closeConnectors(n.conns, n.logger)
		if n.bus != nil {
			n.bus.Close()
		}
		if n.store != nil {
			if n.closeErr = n.store.Close(); n.closeErr != nil {
				n.logger.Error("closing the store", "err", n.closeErr)
			}
		}
		n.logger.Info("stopped")
	})
	return n.closeErr
}

// component is a long-running part of a node: run works until its context
// is done, or it fails, and returns once it has stopped.
type component struct {
	name string
	run  func(ctx context.Context) error
}

// runGroup starts parts in order and runs them until ctx is done or one
// of them returns; it then stops them in reverse order, each once the
// ones started after it have returned. It returns the error of the part
// that returned first, if any; the errors of parts being stopped are
// logged.
func runGroup(ctx context.Context, log *slog.Logger, parts []component) error {
	cancels := make([]context.CancelFunc, len(parts))
	errs := make([]error, len(parts))
	dones := make([]chan struct{}, len(parts))
	returned := make(chan int, len(parts))
	for i, p := range parts {
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		cancels[i], dones[i] = cancel, make(chan struct{})
		go func() {
			errs[i] = p.run(pctx)
			close(dones[i])
			returned <- i
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case i := <-returned:
		if err = errs[i]; stopped(err) {
			err = nil
		} else {
			err = fmt.Errorf("%s: %w", parts[i].name, err)
		}
	}
	log.Info("shutting down")
	for i := len(parts) - 1; i >= 0; i-- {
		cancels[i]()
		<-dones[i]
		if e := errs[i]; !stopped(e) && (err == nil || !errors.Is(err, e)) {
			log.Warn(parts[i].name+" stopped", "err", e)
		}
	}
	return err
}

// stopped reports whether err is no failure: how a part says it stopped
// because it was told to.
func stopped(err error) bool {
	return err == nil || errors.Is(err, context.Canceled) || errors.Is(err, http.ErrServerClosed)
}

// serveHTTP is a component that serves hs on ln and, when its context is
// done, shuts hs down, letting in-flight requests finish until grace is
// done.
func serveHTTP(hs *http.Server, ln net.Listener, grace context.Context) func(context.Context) error {
	return func(ctx context.Context) error {
		served := make(chan error, 1)
		go func() { served <- hs.Serve(ln) }()
		select {
		case err := <-served:
			return err
		case <-ctx.Done():
		}
		err := hs.Shutdown(grace)
		if err != nil {
			// The grace is over: what is still open is cut.
			hs.Close()
		}
		<-served
		return err
	}
}

// nodeID returns the id kept in the file at path, creating it on first use.
func nodeID(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	id := "node-" + helpline.NewID()
	return id, os.WriteFile(path, []byte(id+"\n"), 0o600)
}

// shareRates returns this node's share of per-instance rates that nodes
// nodes enforce each in its own memory: 1/nodes of each rate and of each
// burst, rounded up so that no operation is shut off.
func shareRates(rates map[string]connectapi.Rate, nodes int) map[string]connectapi.Rate {
	if nodes <= 1 {
		return rates
	}
	out := make(map[string]connectapi.Rate, len(rates))
	for op, r := range rates {
		out[op] = connectapi.Rate{Rate: r.Rate / float64(nodes), Burst: (r.Burst + nodes - 1) / nodes}
	}
	return out
}
