package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
	"github.com/helplinehq/helpline/chat"
	"github.com/helplinehq/helpline/connectapi"
	"github.com/helplinehq/helpline/httpapi"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/mirror"
	"github.com/helplinehq/helpline/sqlite"
)

// defaultRegion is the region printed for clients; SigV4 scopes of any
// region are accepted unless the configuration names one.
const defaultRegion = "us-east-1"

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML); optional")
	listen := fs.String("listen", "", "address to listen on (default 127.0.0.1:8080)")
	data := fs.String("data", "", "data directory (default ./helpline-data)")
	publicURL := fs.String("public-url", "", "URL clients reach Helpline at, when behind a TLS proxy")
	noRateLimits := fs.Bool("disable-rate-limits", false, "turn off the request-rate limits, per instance and per participant, and the open-socket limit (load tests)")
	maxActive := fs.Int("max-active-chats", 0, "active chats allowed per instance (default 500, as Amazon Connect)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	override(&cfg.Listen, *listen, "127.0.0.1:8080")
	override(&cfg.Data, *data, "./helpline-data")
	override(&cfg.PublicURL, *publicURL, "")
	if *noRateLimits {
		cfg.Limits.DisableRateLimits = true
	}
	if *maxActive > 0 {
		cfg.Limits.MaxActiveChats = *maxActive
	}

	logger, err := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	srv, err := openServer(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer srv.close()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	var metricsLn net.Listener
	if cfg.Metrics.Listen != "" {
		if metricsLn, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			ln.Close()
			return err
		}
	}
	endpoint := cfg.PublicURL
	if endpoint == "" {
		endpoint = "http://" + loopbackAddr(ln.Addr().(*net.TCPAddr))
	}
	metricsURL := endpoint + "/metrics"
	if metricsLn != nil {
		metricsURL = "http://" + loopbackAddr(metricsLn.Addr().(*net.TCPAddr)) + "/metrics"
	} else if cfg.Metrics.TokenEnv == "" && !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		logger.Warn("/metrics needs no token and is served on an address others may reach; set metrics.listen or metrics.token_env",
			"addr", ln.Addr().String())
	}
	region := cfg.Region
	if region == "" {
		region = defaultRegion
	}
	fmt.Fprintf(stdout, `Helpline is ready.
  Connect endpoint:    %s
  Region:              %s
  Instance id:         %s
  Contact flow id:     %s
  Access key id:       %s
  Secret access key:   %s
  Data directory:      %s
  Metrics:             %s
Point the AWS SDKs' endpoint option, or ChatJS's setGlobalConfig({endpoint}), at the Connect endpoint.
`, endpoint, region, srv.identity.InstanceID, srv.identity.FlowID, srv.identity.AccessKeyID, srv.identity.secretLine(), cfg.Data, metricsURL)
	logger.Info("listening", "addr", ln.Addr().String(), "endpoint", endpoint, "data", cfg.Data)
	return srv.serve(ctx, ln, metricsLn)
}

// override sets *dst to flag when the flag was given, and to def when
// neither the flag nor the configuration set it.
func override(dst *string, flag, def string) {
	if flag != "" {
		*dst = flag
	} else if *dst == "" {
		*dst = def
	}
}

// loopbackAddr is the address to print for clients: an unspecified
// listen address (0.0.0.0, ::) is reachable at 127.0.0.1.
func loopbackAddr(a *net.TCPAddr) string {
	if a.IP.IsUnspecified() {
		return fmt.Sprintf("127.0.0.1:%d", a.Port)
	}
	return a.String()
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if level != "" {
		if err := lv.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("log level: %w", err)
		}
	}
	opts := &slog.HandlerOptions{Level: lv}
	if strings.EqualFold(format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// server is a wired Helpline: store, bus, engine and HTTP handlers.
type server struct {
	logger   *slog.Logger
	store    helpline.Store
	bus      helpline.Bus
	engine   *chat.Service
	api      http.Handler
	identity *defaultIdentity
	// mirrors delivers transcripts to the connectors; inbound are the
	// connectors taking webhooks, by name; admin serves /admin and /api.
	mirrors *mirror.Dispatcher
	inbound map[string]helpline.InboundConnector
	admin   http.Handler
	// limits bounds the HTTP server's connections.
	limits connLimits
	// conns are the connectors, closed on shutdown.
	conns []helpline.Connector
	// metrics serves the Prometheus metrics, behind a bearer token when
	// one is configured.
	metrics http.Handler
}

func openServer(ctx context.Context, cfg *Config, logger *slog.Logger) (*server, error) {
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(cfg.Data); err == nil && fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("the data directory can be read by other users; its files are created for the owner only, but consider chmod 700",
			"data", cfg.Data, "mode", fi.Mode().Perm().String())
	}
	store, err := sqlite.Open(filepath.Join(cfg.Data, "helpline.db"))
	if err != nil {
		return nil, err
	}
	s := &server{logger: logger, store: store}
	if err := s.init(ctx, cfg); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *server) init(ctx context.Context, cfg *Config) error {
	s.limits = cfg.HTTP.limits()
	blobs, err := blobfs.New(filepath.Join(cfg.Data, "attachments"))
	if err != nil {
		return err
	}
	if s.identity, err = ensureDefaultInstance(ctx, s.store); err != nil {
		return err
	}
	for _, in := range cfg.instances() {
		if err := s.store.SaveInstance(ctx, in); err != nil {
			return err
		}
	}
	if err := checkAccessKeysUnique(ctx, s.store); err != nil {
		return err
	}
	key, err := s.store.Secret(ctx, "token-signing-key", randomBytes(32))
	if err != nil {
		return err
	}
	// The mirror dispatcher's lease owner id stays the same across
	// restarts, so that a restarted process takes back at once the pairs
	// it held when killed. It is a file of the data directory, not a row of
	// the database, because nodes sharing a database each need their own.
	node, err := nodeID(filepath.Join(cfg.Data, "node-id"))
	if err != nil {
		return err
	}
	s.bus = inmem.NewBus()
	conns, err := buildConnectors(cfg)
	if err != nil {
		return err
	}
	s.conns = conns
	var mirrors []helpline.Connector
	var names []string
	desks := map[string]helpline.TicketDesk{}
	s.inbound = map[string]helpline.InboundConnector{}
	for _, c := range conns {
		if !isSource(c) {
			mirrors = append(mirrors, c)
			names = append(names, c.Name())
		}
		if d, ok := c.(helpline.TicketDesk); ok {
			desks[c.Name()] = d
		}
		if in, ok := c.(helpline.InboundConnector); ok {
			s.inbound[c.Name()] = in
		}
	}
	s.engine = chat.New(chat.Config{
		Store:  s.store,
		Bus:    s.bus,
		Blobs:  blobs,
		Tokens: helpline.NewTokens(key),
		Logger: s.logger,
		Limits: chat.Limits{
			MaxActiveChats:           cfg.Limits.MaxActiveChats,
			MaxAttachmentsPerContact: cfg.Limits.MaxAttachmentsPerContact,
			DefaultChatDuration:      time.Duration(cfg.Limits.ChatDuration),
		},
		Mirrors: names,
	})
	if err := provisionConnectors(ctx, conns, s.engine, s.store, chat.AttachmentOpener(s.store, blobs), s.logger); err != nil {
		return err
	}
	// A registry per server rather than the process-wide default, so that
	// every series it serves is this server's.
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.mirrors = mirror.New(mirror.Config{
		Store:        s.store,
		Bus:          s.bus,
		Connectors:   mirrors,
		Owner:        node,
		Logger:       s.logger,
		Lease:        time.Duration(cfg.Mirror.Lease),
		Workers:      cfg.Mirror.Workers,
		PollInterval: time.Duration(cfg.Mirror.PollInterval),
		Linger:       time.Duration(cfg.Mirror.Linger),
		Registerer:   registry,
	})
	s.metrics = promhttp.HandlerFor(registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)})
	if cfg.Metrics.TokenEnv != "" {
		s.metrics = httpapi.RequireToken(os.Getenv(cfg.Metrics.TokenEnv), s.metrics)
	}
	tokenEnv := cfg.APITokenEnv
	if tokenEnv == "" {
		tokenEnv = "HELPLINE_API_TOKEN"
	}
	s.admin = httpapi.New(httpapi.Config{Mirrors: s.store, Desks: desks, Token: os.Getenv(tokenEnv), Logger: s.logger})
	uploadRate := s.limits.minUploadRate
	if s.limits.readBody == 0 {
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
	s.api = connectapi.New(connectapi.Config{
		Service:   s.engine,
		Logger:    s.logger,
		PublicURL: cfg.PublicURL,
		Region:    cfg.Region,
		Limits:    rates,

		MinUploadRate: uploadRate,
		UploadGrace:   s.limits.readBody,
	})
	return nil
}

// serve runs until ctx is done, then shuts down: in-flight requests
// finish, sockets close, the engine stops and the store is closed by close.
//
// metricsLn, when not nil, serves /metrics instead of ln.
func (s *server) serve(ctx context.Context, ln, metricsLn net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/", s.api)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	if metricsLn == nil {
		mux.Handle("GET /metrics", s.metrics)
	}
	mux.Handle("/admin/", s.admin)
	mux.Handle("/api/", s.admin)
	for name, c := range s.inbound {
		mux.Handle("/connectors/"+name+"/", http.StripPrefix("/connectors/"+name, c))
	}
	// No ReadTimeout or WriteTimeout: they would cut WebSockets before
	// the upgrade hands them over, and a 20 MB download to a slow client.
	// Bodies get deadlines per request instead (limitBodyRead, and the
	// attachment upload's own).
	hs := &http.Server{
		Handler:           connectapi.LogRequests(s.logger, limitBodyRead(s.limits.readBody, mux)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       s.limits.idle,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	ln = newLimitListener(ln, s.limits, s.logger)

	engineCtx, stopEngine := context.WithCancel(context.Background())
	engineDone := make(chan error, 1)
	go func() { engineDone <- s.engine.Run(engineCtx) }()
	mirrorsDone := make(chan error, 1)
	go func() { mirrorsDone <- s.mirrors.Run(engineCtx) }()
	serveDone := make(chan error, 2)
	go func() { serveDone <- hs.Serve(ln) }()
	ms := &http.Server{
		Handler: connectapi.LogRequests(s.logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || r.URL.Path != "/metrics" {
				http.NotFound(w, r)
				return
			}
			s.metrics.ServeHTTP(w, r)
		})),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       s.limits.idle,
		ErrorLog:          hs.ErrorLog,
	}
	if metricsLn != nil {
		go func() { serveDone <- ms.Serve(newLimitListener(metricsLn, s.limits, s.logger)) }()
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveDone:
	}
	s.logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if e := hs.Shutdown(shutdownCtx); e != nil {
		s.logger.Warn("http shutdown", "err", e)
	}
	if e := ms.Shutdown(shutdownCtx); e != nil {
		s.logger.Warn("metrics shutdown", "err", e)
	}
	// Stopping the engine ends every watched socket (close 1000).
	stopEngine()
	if e := <-engineDone; e != nil && !errors.Is(e, context.Canceled) {
		s.logger.Warn("engine stopped", "err", e)
	}
	if e := <-mirrorsDone; e != nil && !errors.Is(e, context.Canceled) {
		s.logger.Warn("mirror dispatcher stopped", "err", e)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *server) close() {
	closeConnectors(s.conns, s.logger)
	if s.bus != nil {
		s.bus.Close()
	}
	if err := s.store.Close(); err != nil {
		s.logger.Error("closing the store", "err", err)
	}
	s.logger.Info("stopped")
}

// defaultIdentity is the instance, flow and signing key Helpline creates on
// first start, kept in the data directory's database.
type defaultIdentity struct {
	InstanceID      string `json:"instance_id"`
	FlowID          string `json:"flow_id"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	// FromEnv is set when the key came from the environment: its secret is
	// the operator's, and never printed.
	FromEnv bool `json:"-"`
}

// secretLine is what the banner shows for the secret access key: the
// secret Helpline generated, or where the operator's secret came from.
func (id *defaultIdentity) secretLine() string {
	if id.FromEnv {
		return "(from HELPLINE_SECRET_ACCESS_KEY)"
	}
	return id.SecretAccessKey
}

// ensureDefaultInstance creates the default instance on first start and
// saves it on every start, with the signing key taken from
// HELPLINE_ACCESS_KEY_ID and HELPLINE_SECRET_ACCESS_KEY when they are set.
func ensureDefaultInstance(ctx context.Context, store helpline.Store) (*defaultIdentity, error) {
	raw, err := store.Secret(ctx, "default-instance", func() ([]byte, error) {
		return json.Marshal(defaultIdentity{
			InstanceID:      helpline.NewID(),
			FlowID:          helpline.NewID(),
			AccessKeyID:     "HL" + randomString(18, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
			SecretAccessKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
		})
	})
	if err != nil {
		return nil, err
	}
	var id defaultIdentity
	if err := json.Unmarshal(raw, &id); err != nil {
		return nil, fmt.Errorf("default instance: %w", err)
	}
	akid, secret := os.Getenv("HELPLINE_ACCESS_KEY_ID"), os.Getenv("HELPLINE_SECRET_ACCESS_KEY")
	if (akid == "") != (secret == "") {
		return nil, errors.New("set both HELPLINE_ACCESS_KEY_ID and HELPLINE_SECRET_ACCESS_KEY, or neither")
	} else if akid != "" {
		id.AccessKeyID, id.SecretAccessKey, id.FromEnv = akid, secret, true
	}
	err = store.SaveInstance(ctx, &helpline.Instance{
		ID:         id.InstanceID,
		Name:       "default",
		Flows:      []helpline.Flow{{ID: id.FlowID, Name: "Default flow"}},
		AccessKeys: []helpline.AccessKey{{ID: id.AccessKeyID, Secret: id.SecretAccessKey}},
	})
	return &id, err
}

// checkAccessKeysUnique refuses to start when two instances share an
// access key id: a key id names one tenant's secret, and a request signed
// with it must not be able to pick which tenant it speaks for.
func checkAccessKeysUnique(ctx context.Context, store helpline.Store) error {
	instances, err := store.FindInstances(ctx)
	if err != nil {
		return err
	}
	owner := map[string]string{}
	for _, in := range instances {
		for _, k := range in.AccessKeys {
			if other, ok := owner[k.ID]; ok && other != in.ID {
				return fmt.Errorf("access key id %s belongs to instances %s and %s; every access key id must be unique", k.ID, other, in.ID)
			}
			owner[k.ID] = in.ID
		}
	}
	return nil
}

func randomBytes(n int) func() ([]byte, error) {
	return func() ([]byte, error) {
		b := make([]byte, n)
		_, err := rand.Read(b)
		return b, err
	}
}

// randomString returns n characters drawn uniformly from alphabet, whose
// length must divide 256.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
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
