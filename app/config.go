package app

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/connectapi"
)

// Config is the optional configuration file (YAML). Every field has a
// default, so Helpline runs without one; command-line flags override it.
type Config struct {
	// Listen is the address to serve on (default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// Data is the data directory (default ./helpline-data). Every node
	// needs its own, also when the store is shared: it holds the node's
	// id.
	Data string `yaml:"data"`
	// Store is where contacts, transcripts and everything else durable
	// live: "sqlite" (the default), the database helpline.db in the data
	// directory, or a PostgreSQL URL, postgres://user@host:5432/db, which
	// several nodes share. The environment variable HELPLINE_STORE, when
	// set, replaces it, and serve's -store flag replaces both.
	Store string `yaml:"store"`
	// Blobs is where attachment files live: "dir:/path" for a directory
	// (a shared file system when several nodes run), or "postgres" for
	// the PostgreSQL store's own database. The default is the directory
	// attachments in the data directory with SQLite, and "postgres" with
	// a PostgreSQL store, so that every node reads every attachment.
	Blobs string `yaml:"blobs"`
	// PublicURL is the URL clients reach Helpline at when it is behind a
	// TLS proxy, e.g. https://chat.example.com; WebSocket and attachment
	// URLs are built from it.
	PublicURL string `yaml:"public_url"`
	// Region is the AWS region accepted in SigV4 signatures; empty accepts
	// any. It is also the region printed for clients (default us-east-1).
	Region string `yaml:"region"`
	// Log holds the log level (debug, info, warn, error) and format (text,
	// json), and RequestSample: log one in that many successful HTTP
	// requests (0 or 1: every one; failed and slow ones always).
	Log struct {
		Level         string `yaml:"level"`
		Format        string `yaml:"format"`
		RequestSample int    `yaml:"request_sample"`
	} `yaml:"log"`
	Limits    LimitsConfig     `yaml:"limits"`
	Instances []InstanceConfig `yaml:"instances"`
	// Connectors are the outside systems contacts are mirrored into (or,
	// for sources, come from); see ConnectorEntry.
	Connectors []ConnectorEntry `yaml:"connectors"`
	// Agents and Queues declare human agents and the queues they serve,
	// created or updated on every start (AgentConfig, QueueConfig).
	Agents []AgentConfig `yaml:"agents"`
	Queues []QueueConfig `yaml:"queues"`
	// Routing tunes how waiting chats are offered to agents.
	Routing RoutingConfig `yaml:"routing"`
	// Mirror tunes the mirror dispatcher.
	Mirror MirrorConfig `yaml:"mirror"`
	// HTTP bounds how long and how many connections clients hold.
	HTTP HTTPConfig `yaml:"http"`
	// Metrics says where and to whom GET /metrics (Prometheus) is served.
	Metrics MetricsConfig `yaml:"metrics"`
	// SQLite tunes the embedded database.
	SQLite SQLiteConfig `yaml:"sqlite"`
	// APITokenEnv names the environment variable holding the token of the
	// /admin and /api endpoints (default HELPLINE_API_TOKEN); with no token
	// those endpoints answer 404.
	APITokenEnv string `yaml:"api_token_env"`
	// AgentAPI tunes the agent API's sessions and login throttling.
	AgentAPI AgentAPIConfig `yaml:"agent_api"`
	// Bus carries events between the parts of a node and, with several
	// nodes, between the nodes: empty for the in-process bus of one node,
	// or the NATS server every node of a cluster connects to,
	// nats://host:4222 (a comma-separated list for a NATS cluster; tls://
	// for TLS; user:password@ when the server asks for them).
	Bus string `yaml:"bus"`
	// BusPrefix is put before every NATS subject (default "helpline"):
	// Helpline clusters sharing one NATS server need one each.
	BusPrefix string `yaml:"bus_prefix"`
	// DrainTimeout is how long a node stopping (SIGTERM, Ctrl-C) waits
	// for in-flight requests and mirror deliveries to finish, after it has
	// stopped taking WebSockets and asked the open ones to reconnect
	// elsewhere (default 15s).
	DrainTimeout Duration `yaml:"drain_timeout"`
}

// AgentAPIConfig tunes the agent API (/api/agent, /api/admin); zero values
// keep the defaults.
type AgentAPIConfig struct {
	// SessionIdleTimeout ends a session unused this long (default 1h).
	SessionIdleTimeout Duration `yaml:"session_idle_timeout"`
	// SessionLifetime ends a session this long after login, however busy
	// (default 12h).
	SessionLifetime Duration `yaml:"session_lifetime"`
	// LoginFailuresPerAccount failed logins to one account within
	// LoginThrottle refuse its logins until LoginThrottle has passed since
	// the first of them (default 5).
	LoginFailuresPerAccount int `yaml:"login_failures_per_account"`
	// LoginFailuresPerAddress does the same per client address (default
	// 50; behind a reverse proxy every client has the proxy's address).
	LoginFailuresPerAddress int `yaml:"login_failures_per_address"`
	// LoginThrottle is the spell failures are counted in and logins
	// refused for (default 15m).
	LoginThrottle Duration `yaml:"login_throttle"`
}

// MetricsConfig protects the Prometheus metrics, which need no
// authentication by default: fine on the default loopback address, not on
// an address others reach.
type MetricsConfig struct {
	// Listen serves /metrics on this address only (e.g. 127.0.0.1:9090),
	// and no longer on the main address.
	Listen string `yaml:"listen"`
	// TokenEnv names the environment variable holding a token that
	// /metrics then requires as "Authorization: Bearer <token>"; without
	// it the answer is 401.
	TokenEnv string `yaml:"token_env"`
}

// MirrorConfig tunes the mirror dispatcher; zero values keep its defaults.
type MirrorConfig struct {
	// Lease is how long a node holds a pair it delivers; when a node dies,
	// another node takes its pairs over after this long, while the node
	// itself takes them back at once when it restarts (default 30s).
	Lease Duration `yaml:"lease"`
	// Workers is how many contacts per connector are delivered at once
	// (default 64; deliveries mostly wait on the network).
	Workers int `yaml:"workers"`
	// PollInterval is how often the store is scanned for pairs due for
	// delivery or retry (default 1s).
	PollInterval Duration `yaml:"poll_interval"`
	// Linger is how long a node keeps the lease of a contact it just
	// delivered, so that the contact's next items need no new claim
	// (default 1s; at most a third of the lease).
	Linger Duration `yaml:"linger"`
}

// HTTPConfig bounds the connections of the HTTP server. An absent key
// keeps its default; 0 turns a timeout or cap off (min_upload_rate must be
// positive); negative values are refused. A request's headers always have
// 10 s to arrive.
type HTTPConfig struct {
	// ReadBodyTimeout is how long a request body may take to arrive, from
	// when its headers have been read (default 30s). A body still arriving
	// then is cut off and its connection closed. Attachment uploads get
	// longer, see MinUploadRate; requests without a body (the WebSocket
	// upgrade included) are not affected. 0 turns every body deadline off,
	// uploads' included.
	ReadBodyTimeout *Duration `yaml:"read_body_timeout"`
	// MinUploadRate, in bytes per second, is the slowest an attachment
	// upload (PUT /attachments/upload/...) may arrive: its body gets
	// read_body_timeout plus its Content-Length at this rate, so 20 MB
	// take at most 30s + 320s by default (default 65536, 64 KiB/s).
	MinUploadRate *int64 `yaml:"min_upload_rate"`
	// IdleTimeout closes a keep-alive connection that has carried no
	// request for this long (default 60s, as AWS load balancers: a chat
	// participant's next call at human pace mostly reuses its connection,
	// while an abandoned one holds a descriptor for a minute at most).
	// WebSockets are not affected: they have their own idle timeout.
	IdleTimeout *Duration `yaml:"idle_timeout"`
	// MaxConnections caps the open connections, WebSockets included
	// (default 16384). A connection over the cap is closed at once,
	// before any byte is read, rather than left waiting in the listen
	// backlog: the client sees the connection closed and may retry.
	MaxConnections *int `yaml:"max_connections"`
	// MaxConnectionsPerIP caps the open connections of one client
	// address, an IPv6 client's /64 counting as one address (default
	// 1024: a few per browser, for an office of agents behind one NAT).
	// Over the cap, connections are closed as over MaxConnections.
	MaxConnectionsPerIP *int `yaml:"max_connections_per_ip"`
	// PerIPExempt lists the addresses or CIDR prefixes that
	// max_connections_per_ip does not apply to (default loopback,
	// 127.0.0.0/8 and ::1: a reverse proxy on the same host makes every
	// client 127.0.0.1, and the load command helpline-bench loads from
	// there). Behind a
	// proxy on another host, list the proxy's address. They still count
	// towards max_connections. An empty list exempts nobody.
	PerIPExempt []string `yaml:"per_ip_exempt"`
}

// LimitsConfig overrides the per-instance quotas and the per-participant
// limits. Zero values keep the defaults: Amazon Connect's for the
// instance, connectapi.DefaultRateLimits and
// connectapi.DefaultSocketsPerParticipant for participants.
type LimitsConfig struct {
	MaxActiveChats           int      `yaml:"max_active_chats"`
	MaxAttachmentsPerContact int      `yaml:"max_attachments_per_contact"`
	ChatDuration             Duration `yaml:"chat_duration"`
	// DisableRateLimits turns the request-rate limits off altogether, the
	// per-participant ones and sockets_per_participant included.
	DisableRateLimits bool `yaml:"disable_rate_limits"`
	// Rates overrides single operations' per-instance limits, keyed by
	// operation name (SendMessage, StartChatContact, ...).
	Rates map[string]RateConfig `yaml:"rates"`
	// Nodes is how many nodes share the per-instance limits (Rates and
	// their defaults), which each node holds in memory: each enforces
	// 1/Nodes of every rate and of every burst (rounded up), so that the
	// cluster together keeps to the quota. Default 1. The per-participant
	// limits and sockets_per_participant are each node's own.
	Nodes int `yaml:"nodes"`
	// ParticipantRates overrides single operations' per-participant
	// limits, keyed by operation name: SendMessage, SendEvent,
	// CreateParticipantConnection, GetTranscript, StartAttachmentUpload,
	// CompleteAttachmentUpload, GetAttachment, DisconnectParticipant, and
	// OpenWebSocket for opening a participant WebSocket. A request over one
	// is refused with 429 ThrottlingException before it counts against the
	// instance's limit.
	ParticipantRates map[string]RateConfig `yaml:"participant_rates"`
	// SocketsPerParticipant is how many WebSockets one participant may
	// hold open (default 3); one more is refused with 429
	// ThrottlingException before the upgrade.
	SocketsPerParticipant int `yaml:"sockets_per_participant"`
}

// RateConfig is a token bucket: Rate requests per second, bursts of Burst.
type RateConfig struct {
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
}

// InstanceConfig declares an instance beyond the default one.
type InstanceConfig struct {
	ID    string       `yaml:"id"`
	Name  string       `yaml:"name"`
	Flows []FlowConfig `yaml:"flows"`
	// AccessKeys sign the instance's Connect contact operations. An
	// instance without any takes chats only from sources (Stream Chat).
	AccessKeys []AccessKeyConfig `yaml:"access_keys"`
}

// AccessKeyConfig is a signing key; the secret comes from the environment
// variable SecretEnv so that it stays out of the file.
type AccessKeyConfig struct {
	ID        string `yaml:"id"`
	SecretEnv string `yaml:"secret_env"`
}

// Duration is a time.Duration written as "25h" or "90m" in YAML.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// SQLiteConfig tunes the embedded database.
type SQLiteConfig struct {
	// WALLimitMB is the size, in MiB, the database's write-ahead log
	// (helpline.db-wal) is kept under; 0 means the default, 64.
	WALLimitMB int `yaml:"wal_limit_mb"`
}

// Load reads and validates the configuration file at path; an empty path
// is the configuration with every default. HELPLINE_STORE, when set,
// replaces the file's store (StoreEnv).
func Load(path string) (*Config, error) {
	var cfg Config
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		dec := yaml.NewDecoder(f)
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if s := os.Getenv(StoreEnv); s != "" {
		cfg.Store = s
	}
	if err := cfg.validate(); err != nil {
		if path == "" {
			return nil, err
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &cfg, nil
}

// StoreEnv names the environment variable that, when set, replaces the
// configuration's store.
const StoreEnv = "HELPLINE_STORE"

func (cfg *Config) validate() error {
	if err := cfg.validateStorage(); err != nil {
		return err
	}
	seen := map[string]bool{}
	keyOwner := map[string]string{}
	for i, in := range cfg.Instances {
		if in.ID == "" {
			return fmt.Errorf("instances[%d]: id is required", i)
		} else if seen[in.ID] {
			return fmt.Errorf("instances[%d]: duplicate id %q", i, in.ID)
		} else if len(in.Flows) == 0 {
			return fmt.Errorf("instance %s: at least one flow is required", in.ID)
		}
		seen[in.ID] = true
		for j, f := range in.Flows {
			if f.ID == "" {
				return fmt.Errorf("instance %s: flows[%d]: id is required", in.ID, j)
			}
			if _, err := f.flow(); err != nil {
				return fmt.Errorf("instance %s: flow %s: %w", in.ID, f.ID, err)
			}
		}
		for j, k := range in.AccessKeys {
			if k.ID == "" || k.SecretEnv == "" {
				return fmt.Errorf("instance %s: access_keys[%d]: id and secret_env are required", in.ID, j)
			}
			if os.Getenv(k.SecretEnv) == "" {
				return fmt.Errorf("instance %s: access key %s: environment variable %s is empty", in.ID, k.ID, k.SecretEnv)
			}
			if other, ok := keyOwner[k.ID]; ok && other != in.ID {
				return fmt.Errorf("instance %s: access key id %s is instance %s's too; every access key id must be unique", in.ID, k.ID, other)
			}
			keyOwner[k.ID] = in.ID
		}
	}
	names := map[string]bool{}
	for i, c := range cfg.Connectors {
		if !validConnectorName(c.Name) {
			return fmt.Errorf("connectors[%d]: name %q must be 1-64 lower-case letters, digits, - or _", i, c.Name)
		} else if names[c.Name] {
			return fmt.Errorf("connectors[%d]: duplicate name %q", i, c.Name)
		} else if c.Kind == "" {
			return fmt.Errorf("connector %s: kind is required", c.Name)
		}
		names[c.Name] = true
	}
	if a := cfg.AgentAPI; a.SessionIdleTimeout < 0 || a.SessionLifetime < 0 || a.LoginThrottle < 0 ||
		a.LoginFailuresPerAccount < 0 || a.LoginFailuresPerAddress < 0 {
		return fmt.Errorf("agent_api: durations and login failure counts must not be negative")
	}
	if err := cfg.validateRouting(); err != nil {
		return err
	}
	if cfg.Routing.PresenceGrace < 0 || cfg.Routing.PositionStep < 0 {
		return fmt.Errorf("routing: presence_grace and position_step must not be negative")
	}
	if cfg.Mirror.Lease < 0 || cfg.Mirror.Workers < 0 || cfg.Mirror.PollInterval < 0 || cfg.Mirror.Linger < 0 {
		return fmt.Errorf("mirror: lease, workers, poll_interval and linger must not be negative")
	}
	if cfg.SQLite.WALLimitMB < 0 {
		return fmt.Errorf("sqlite.wal_limit_mb must not be negative")
	}
	if cfg.Metrics.TokenEnv != "" && os.Getenv(cfg.Metrics.TokenEnv) == "" {
		return fmt.Errorf("metrics.token_env: environment variable %s is empty", cfg.Metrics.TokenEnv)
	}
	if err := cfg.HTTP.validate(); err != nil {
		return fmt.Errorf("http: %w", err)
	}
	defaults := connectapi.DefaultRateLimits()
	if err := validateRates("limits.rates", cfg.Limits.Rates, defaults.PerOperation); err != nil {
		return err
	}
	if err := validateRates("limits.participant_rates", cfg.Limits.ParticipantRates, defaults.PerParticipant); err != nil {
		return err
	}
	if cfg.Limits.Nodes < 0 {
		return fmt.Errorf("limits.nodes must not be negative")
	}
	if cfg.Limits.SocketsPerParticipant < 0 {
		return fmt.Errorf("limits.sockets_per_participant must not be negative")
	}
	if err := cfg.validateBusValues(); err != nil {
		return err
	}
	if cfg.DrainTimeout < 0 {
		return fmt.Errorf("drain_timeout must not be negative")
	}
	switch strings.ToLower(cfg.Log.Format) {
	case "", "text", "json":
	default:
		return fmt.Errorf("log.format must be text or json")
	}
	if cfg.Log.RequestSample < 0 {
		return fmt.Errorf("log.request_sample must not be negative")
	}
	return nil
}

// validateRates checks the rates of the section named key: each operation
// is one of known, with a positive rate and burst.
func validateRates(key string, rates map[string]RateConfig, known map[string]connectapi.Rate) error {
	for op, r := range rates {
		if _, ok := known[op]; !ok {
			return fmt.Errorf("%s: unknown operation %q", key, op)
		} else if r.Rate <= 0 || r.Burst <= 0 {
			return fmt.Errorf("%s.%s: rate and burst must be positive", key, op)
		}
	}
	return nil
}

// instances returns the configured instances with their secrets resolved.
func (cfg *Config) instances() []*helpline.Instance {
	var out []*helpline.Instance
	for _, ic := range cfg.Instances {
		in := &helpline.Instance{ID: ic.ID, Name: ic.Name}
		for _, fc := range ic.Flows {
			f, _ := fc.flow() // validate checked it
			in.Flows = append(in.Flows, *f)
		}
		if in.Name == "" {
			in.Name = ic.ID
		}
		for _, k := range ic.AccessKeys {
			in.AccessKeys = append(in.AccessKeys, helpline.AccessKey{ID: k.ID, Secret: os.Getenv(k.SecretEnv)})
		}
		out = append(out, in)
	}
	return out
}

// ValidateBus checks that Bus is empty or a list of NATS server URLs, and
// BusPrefix a NATS subject prefix, set only with them. Load checks the
// file's values but the last rule, which the command checks after its
// -bus flag, and OpenBus again.
func (cfg *Config) ValidateBus() error {
	if err := cfg.validateBusValues(); err != nil {
		return err
	}
	if cfg.Bus == "" && cfg.BusPrefix != "" {
		return fmt.Errorf("bus_prefix is for a NATS bus; set bus (or serve's -bus) too")
	}
	return nil
}

func (cfg *Config) validateBusValues() error {
	if cfg.Bus != "" {
		for _, s := range strings.Split(cfg.Bus, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" || (u.Path != "" && u.Path != "/") {
				return fmt.Errorf("bus: %q is not a NATS server URL (nats://host:4222 or tls://host:4222)", redactURL(s))
			}
		}
	}
	if cfg.BusPrefix != "" && !helpline.ValidGroup(cfg.BusPrefix) {
		return fmt.Errorf("bus_prefix %q must be letters, digits, '-', '_' and inner '.'", cfg.BusPrefix)
	}
	return nil
}

// redactURL hides what follows "://" up to an '@' (a password or token).
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if at := strings.LastIndexByte(rest, '@'); ok && at >= 0 {
		return scheme + "://***" + rest[at:]
	}
	return s
}

// drainTimeout is DrainTimeout or its default.
func (cfg *Config) drainTimeout() time.Duration {
	if cfg.DrainTimeout > 0 {
		return time.Duration(cfg.DrainTimeout)
	}
	return defaultDrainTimeout
}

func (h *HTTPConfig) validate() error {
	if negative(h.ReadBodyTimeout) || negative(h.IdleTimeout) || negative(h.MaxConnections) || negative(h.MaxConnectionsPerIP) {
		return fmt.Errorf("read_body_timeout, idle_timeout, max_connections and max_connections_per_ip must not be negative")
	}
	if h.MinUploadRate != nil && *h.MinUploadRate <= 0 {
		return fmt.Errorf("min_upload_rate must be positive")
	}
	for _, p := range h.PerIPExempt {
		if _, err := parsePrefix(p); err != nil {
			return fmt.Errorf("per_ip_exempt: %w", err)
		}
	}
	return nil
}

func negative[T int | Duration](v *T) bool { return v != nil && *v < 0 }
