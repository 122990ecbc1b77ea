package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline/connectapi"
)

// Negative limits are refused.
func TestLoadRejectsBadHTTPConfig(t *testing.T) {
	dir := t.TempDir()
	for i, body := range []string{
		"http:\n  read_body_timeout: -1s\n",
		"http:\n  idle_timeout: -1s\n",
		"http:\n  max_connections: -1\n",
		"http:\n  max_connections_per_ip: -1\n",
		"http:\n  min_upload_rate: 0\n",
		"http:\n  per_ip_exempt: [localhost]\n",
	} {
		path := filepath.Join(dir, fmt.Sprintf("%d.yaml", i))
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), "http:") {
			t.Errorf("%q: err = %v, want an http: config error", body, err)
		}
	}
}

// The WAL limit is read and a negative one refused.
func TestLoadSQLiteConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("sqlite:\n  wal_limit_mb: 16\n"), 0o600)
	os.WriteFile(bad, []byte("sqlite:\n  wal_limit_mb: -1\n"), 0o600)
	cfg, err := Load(good)
	if err != nil || cfg.SQLite.WALLimitMB != 16 {
		t.Fatalf("good: %+v, %v", cfg, err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "sqlite.wal_limit_mb must not be negative") {
		t.Fatalf("bad: err = %v", err)
	}
}

// limits.nodes is read and a negative one refused; each of three nodes
// enforces a third of every per-instance rate and burst, rounded up, so
// that no operation is shut off, and one node the whole quota.
func TestLimitsSharedByNodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("limits:\n  nodes: 3\n"), 0o600)
	os.WriteFile(bad, []byte("limits:\n  nodes: -1\n"), 0o600)
	cfg, err := Load(good)
	if err != nil || cfg.Limits.Nodes != 3 {
		t.Fatalf("good: %+v, %v", cfg.Limits, err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "limits.nodes must not be negative") {
		t.Fatalf("bad: err = %v", err)
	}
	quota := map[string]connectapi.Rate{"SendMessage": {Rate: 10, Burst: 15}, "StartChatContact": {Rate: 5, Burst: 8}, "Rare": {Rate: 1, Burst: 1}}
	share := shareRates(quota, 3)
	want := map[string]connectapi.Rate{"SendMessage": {Rate: 10.0 / 3, Burst: 5}, "StartChatContact": {Rate: 5.0 / 3, Burst: 3}, "Rare": {Rate: 1.0 / 3, Burst: 1}}
	for op, w := range want {
		if share[op] != w {
			t.Errorf("%s: a node's share %+v, want %+v", op, share[op], w)
		}
	}
	for _, n := range []int{0, 1} {
		if got := shareRates(quota, n); got["SendMessage"] != quota["SendMessage"] {
			t.Errorf("nodes %d: %+v, want the whole quota", n, got["SendMessage"])
		}
	}
}

// The agents: and queues: sections create agents and queues on start and
// update them on the next, keeping a password the file does not set.
func TestRoutingConfigApplied(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ADA_PASSWORD", "correct horse")
	path := filepath.Join(dir, "helpline.yaml")
	write := func(body string) {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`
queues:
  - id: sales
    routing: round_robin
    accept_within: 20s
    hours:
      time_zone: Europe/Paris
      open: ["mon-fri 09:00-18:00"]
    away_message: "We open at nine."
agents:
  - id: ada
    email: ada@example.com
    queues: [sales]
    capacity: 4
    password_env: ADA_PASSWORD
`)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data = dir
	store, err := OpenStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := t.Context()
	instance, err := DefaultInstanceID(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if err := applyRouting(ctx, store, cfg, instance); err != nil {
		t.Fatal(err)
	}
	a, err := store.FindAgentByID(ctx, instance, "ada")
	if err != nil || a.Capacity != 4 || !a.Serves("sales") || !a.Enabled || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
		t.Fatalf("agent %+v, %v", a, err)
	}
	if q, err := store.FindQueueByID(ctx, instance, "sales"); err != nil || q.Routing != "round_robin" || q.AcceptWithin.Seconds() != 20 ||
		q.Hours == nil || q.Hours.TimeZone != "Europe/Paris" || len(q.Hours.Open) != 5 || q.AwayMessage != "We open at nine." {
		t.Errorf("queue %+v, %v", q, err)
	}
	hash := a.PasswordHash

	write("agents:\n  - id: ada\n    email: ada@example.com\n    capacity: 2\n    disabled: true\n")
	if cfg, err = Load(path); err != nil {
		t.Fatal(err)
	}
	if err := applyRouting(ctx, store, cfg, instance); err != nil {
		t.Fatal(err)
	}
	if a, _ := store.FindAgentByID(ctx, instance, "ada"); a.Capacity != 2 || a.Enabled || a.PasswordHash != hash {
		t.Errorf("after the update: %+v, want capacity 2, disabled, the password kept", a)
	}

	for body, want := range map[string]string{
		"agents:\n  - email: x@example.com\n":                                          "id and email are required",
		"agents:\n  - id: x\n    email: x@example.com\n    password_env: NOPE_UNSET\n": "NOPE_UNSET is empty",
		"queues:\n  - name: x\n":                                                       "id is required",
	} {
		write(body)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", body, err, want)
		}
	}
	write("agents:\n  - id: x\n    email: x@example.com\n    capacity: 11\n")
	cfg, _ = Load(path)
	if err := applyRouting(ctx, store, cfg, instance); err == nil || !strings.Contains(err.Error(), "capacity") {
		t.Errorf("capacity 11: %v, want refused", err)
	}
}

// Negative agent API settings are refused; the section's keys load.
func TestLoadAgentAPIConfig(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range []struct{ body, err string }{
		{"agent_api:\n  session_idle_timeout: 30m\n  session_lifetime: 8h\n  login_failures_per_account: 3\n  login_failures_per_address: 20\n  login_throttle: 10m\n", ""},
		{"agent_api:\n  session_idle_timeout: -1s\n", "agent_api:"},
		{"agent_api:\n  login_failures_per_account: -1\n", "agent_api:"},
		{"agent_api:\n  session_timeout: 1h\n", "session_timeout"},
	} {
		path := filepath.Join(dir, fmt.Sprintf("%d.yaml", i))
		if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path)
		switch {
		case tc.err == "" && (err != nil || cfg.AgentAPI.LoginFailuresPerAccount != 3 || cfg.AgentAPI.SessionLifetime.std().Hours() != 8):
			t.Errorf("%q: %v %+v", tc.body, err, cfg)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: err = %v, want one saying %q", tc.body, err, tc.err)
		}
	}
}

// A flow's hours are written as day ranges and clock times; a malformed
// period, an unknown zone, or an away message without hours is refused.
func TestFlowConfig(t *testing.T) {
	fc := FlowConfig{ID: "web", Queue: "sales", AwayMessage: "Back soon.",
		Hours: &HoursConfig{TimeZone: "Europe/Paris", Open: []string{"fri-mon 09:00-17:30"}, Holidays: []string{"2025-12-25"}}}
	f, err := fc.flow()
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, p := range f.Hours.Open {
		days = append(days, p.Day.String()[:3]+" "+p.From+"-"+p.To)
	}
	if want := "Fri 09:00-17:30,Sat 09:00-17:30,Sun 09:00-17:30,Mon 09:00-17:30"; strings.Join(days, ",") != want || f.Name != "web" {
		t.Errorf("flow %q named %q, want %q", days, f.Name, want)
	}
	for _, bad := range []FlowConfig{
		{ID: "a", Hours: &HoursConfig{Open: []string{"weekdays 09:00-17:00"}}},
		{ID: "b", Hours: &HoursConfig{Open: []string{"mon 17:00-09:00"}}},
		{ID: "c", Hours: &HoursConfig{TimeZone: "Mars/Olympus"}},
		{ID: "d", AwayMessage: "closed"},
		{ID: "e", Queue: "no spaces"},
	} {
		if _, err := bad.flow(); err == nil {
			t.Errorf("flow %+v accepted", bad)
		}
	}
}

// bus names NATS servers, bus_prefix goes with it, drain_timeout is a
// duration; anything else is refused with a message naming the key, and
// without the password a URL holds.
func TestLoadBusConfig(t *testing.T) {
	dir := t.TempDir()
	load := func(i int, body string) (*Config, error) {
		path := filepath.Join(dir, fmt.Sprintf("%d.yaml", i))
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(path)
	}
	for i, body := range []string{
		"bus: nats://127.0.0.1:4222\n",
		"bus: nats://user:pw@nats-1:4222,nats://nats-2:4222\nbus_prefix: shop-eu.helpline\n",
		"bus: tls://nats.example.com:4222\ndrain_timeout: 40s\n",
	} {
		cfg, err := load(i, body)
		if err != nil {
			t.Errorf("%q: %v", body, err)
		} else if cfg.Bus == "" {
			t.Errorf("%q: bus not kept", body)
		}
	}
	// A prefix alone loads, for serve's -bus flag to complete, but opens
	// no bus.
	cfg, err := load(9, "bus_prefix: shop\n")
	if err != nil {
		t.Fatalf("bus_prefix alone: %v", err)
	}
	if b, err := OpenBus(cfg, quiet()); err == nil || !strings.Contains(err.Error(), "bus_prefix") {
		if b != nil {
			b.Close()
		}
		t.Errorf("OpenBus with a prefix and no bus: %v, want an error naming bus_prefix", err)
	}
	cfg, err = load(10, "drain_timeout: 40s\n")
	if err != nil || cfg.drainTimeout() != 40*time.Second || cfg.Bus != "" {
		t.Errorf("drain_timeout 40s: %v, %v", cfg, err)
	}
	if cfg, _ := load(11, "log:\n  level: info\n"); cfg.drainTimeout() != defaultDrainTimeout {
		t.Errorf("default drain timeout %v, want %v", cfg.drainTimeout(), defaultDrainTimeout)
	}
	for i, tc := range []struct{ body, want string }{
		{"bus: http://u:secret@127.0.0.1:4222\n", "bus:"},
		{"bus: 127.0.0.1:4222\n", "bus:"},
		{"bus: nats://\n", "bus:"},
		{"bus: nats://h:4222/path\n", "bus:"},
		{"bus: nats://h:4222,redis://h:6379\n", "bus:"},
		{"bus: nats://h:4222\nbus_prefix: a b\n", "bus_prefix"},
		{"bus: nats://h:4222\nbus_prefix: shop.\n", "bus_prefix"},
		{"bus: nats://h:4222\nbus_prefix: '*'\n", "bus_prefix"},
		{"drain_timeout: -1s\n", "drain_timeout"},
		{"drain_timeout: soon\n", "line 1"},
		{"bus_url: nats://h:4222\n", "bus_url"},
	} {
		_, err := load(20+i, tc.body)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: err = %v, want one naming %s, without the password", tc.body, err, tc.want)
		}
	}
}

// A flow's csat: section turns the question on with the defaults in the
// fields it leaves out; without one the flow asks nothing. A bot may not
// be called csat, the CSAT question's owner, and the wait may not be
// negative.
func TestFlowCSATConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "helpline.yaml")
	t.Setenv("K_SECRET", "secret")
	body := `
instances:
  - id: shop
    flows:
      - id: plain
      - id: rated
        csat: { question: "Rate us?", wait: 30s }
      - id: defaults
        csat: {}
    access_keys: [{ id: K, secret_env: K_SECRET }]
`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.instances()[0]
	if in.FindFlow("plain").CSAT != nil {
		t.Error("a flow without csat: asks the question")
	}
	if q := in.FindFlow("rated").CSAT; q == nil || q.Question != "Rate us?" || q.Thanks != "Thank you for your feedback!" || q.Wait.String() != "30s" {
		t.Errorf("csat %+v, want Rate us?, the default thanks and 30s", q)
	}
	if q := in.FindFlow("defaults").CSAT; q == nil || q.Wait.String() != "2m0s" || q.Question == "" {
		t.Errorf("csat: {} is %+v, want the defaults", q)
	}
	fb, err := buildBots(cfg)
	if err != nil || !fb.csat {
		t.Errorf("buildBots: %v, csat %v; want the runner for the CSAT question", err, fb != nil && fb.csat)
	}
	for _, bad := range []FlowConfig{
		{ID: "csat", Bot: &BotConfig{RemoteBotConfig: RemoteBotConfig{Kind: "ecommerce"}}},
		{ID: "f", CSAT: &CSATConfig{Wait: Duration(-1)}},
	} {
		if _, err := bad.flow(); err == nil {
			t.Errorf("flow %+v accepted", bad)
		}
	}
}

// log.request_sample loads; a negative one is refused.
func TestLoadLogRequestSample(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range []struct {
		body string
		want int
		err  string
	}{
		{"log:\n  request_sample: 100\n", 100, ""},
		{"log:\n  level: info\n", 0, ""},
		{"log:\n  request_sample: -1\n", 0, "log.request_sample must not be negative"},
	} {
		path := filepath.Join(dir, fmt.Sprintf("%d.yaml", i))
		if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path)
		switch {
		case tc.err == "" && (err != nil || cfg.Log.RequestSample != tc.want):
			t.Errorf("%q: %v %+v", tc.body, err, cfg)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: err = %v, want one saying %q", tc.body, err, tc.err)
		}
	}
}
