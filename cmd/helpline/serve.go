package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/helplinehq/helpline/app"
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
	store := fs.String("store", "", storeUsage)
	publicURL := fs.String("public-url", "", "URL clients reach Helpline at, when behind a TLS proxy")
	bus := fs.String("bus", "", "NATS server the nodes of a cluster share, nats://host:4222 (default: the in-process bus of one node)")
	noRateLimits := fs.Bool("disable-rate-limits", false, "turn off the request-rate limits, per instance and per participant, and the open-socket limit (load tests)")
	maxActive := fs.Int("max-active-chats", 0, "active chats allowed per instance (default 500, as Amazon Connect)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (measuring)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cfg, err := app.Load(*configPath)
	if err != nil {
		return err
	}
	override(&cfg.Listen, *listen, "127.0.0.1:8080")
	override(&cfg.Data, *data, "./helpline-data")
	override(&cfg.Store, *store, "")
	override(&cfg.PublicURL, *publicURL, "")
	override(&cfg.Bus, *bus, "")
	if err := cfg.ValidateBus(); err != nil {
		return err
	}
	if *noRateLimits {
		cfg.Limits.DisableRateLimits = true
	}
	if *maxActive > 0 {
		cfg.Limits.MaxActiveChats = *maxActive
	}

	// The log goes out in the background, a few times a second and at
	// once after a warning or an error, so that a request's line costs
	// its caller no system call.
	logOut := app.NewLogWriter(stderr, 200*time.Millisecond)
	defer logOut.Close()
	logger, err := newLogger(logOut, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	node, err := app.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer node.Close()

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
	}
	region := cfg.Region
	if region == "" {
		region = defaultRegion
	}
	id := node.Identity()
	agentsHint := ""
	if has, err := node.HasAgents(ctx); err != nil {
		return err
	} else if !has {
		agentsHint = fmt.Sprintf("  Agents:              none yet; create an admin (it may add the others through the API):\n    %s\n", firstAgentCommand(cfg.Data, cfg.Store))
	}
	fmt.Fprintf(stdout, `Helpline is ready.
  Demo shop + widget:  %s/
  Agent console:       %s/console/ (log in with an agent's email and password)
  Connect endpoint:    %s
  Region:              %s
  Instance id:         %s
  Contact flow id:     %s
  Default queue:       default (the flow's chats wait there for an agent once one serves it)
  Access key id:       %s
  Secret access key:   %s
  Data directory:      %s
  Metrics:             %s
%sPoint the AWS SDKs' endpoint option, or ChatJS's setGlobalConfig({endpoint}), at the Connect endpoint.
`, endpoint, endpoint, endpoint, region, id.InstanceID, id.FlowID, id.AccessKeyID, id.SecretLine(), cfg.Data, metricsURL, agentsHint)
	logger.Info("listening", "addr", ln.Addr().String(), "endpoint", endpoint, "data", cfg.Data)
	return node.Run(ctx, ln, metricsLn)
}

// storeUsage describes the -store flag of the commands that open the
// store.
const storeUsage = "store: sqlite (default, in the data directory) or a postgres:// URL shared by several nodes; overrides $" + app.StoreEnv + " and the configuration"

// firstAgentCommand is the command the banner of a store without
// agents prints: it creates an admin of the default instance, the
// password from the environment, never a flag. The admin serves no queue: the default flow starts queueing chats only once an
// agent serves the default queue. A PostgreSQL store is named with
// -store, its password left out: the command then takes it from
// PGPASSWORD or ~/.pgpass, as psql does.
func firstAgentCommand(data, store string) string {
	storeArg := ""
	if u, err := url.Parse(store); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if _, hasPassword := u.User.Password(); hasPassword {
			u.User = url.User(u.User.Username())
		}
		storeArg = " -store " + shellQuote(u.String())
	}
	return "HELPLINE_AGENT_PASSWORD='a long passphrase' helpline agents add -data " + shellQuote(data) + storeArg +
		" -email you@example.com -name You -role admin"
}

// shellQuote quotes s for a POSIX shell unless it needs none.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+=@,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if strings.EqualFold(format, "json") {
		h = slog.NewJSONHandler(w, opts)
	}
	if lw, ok := w.(*app.LogWriter); ok {
		h = app.NewLogHandler(h, lw, slog.LevelWarn)
	}
	return slog.New(h), nil
}
