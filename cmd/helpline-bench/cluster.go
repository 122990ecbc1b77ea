package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline/internal/loadtest"
)

// clusterBench (-phases cluster) measures SendMessage throughput and the
// time from SendMessage to the other participant's socket on three
// set-ups, one after another in one run so that their figures share the
// machine's conditions:
//
//   - one node on SQLite with the in-process bus;
//   - one node on PostgreSQL (-store) and NATS (-bus);
//   - three nodes on the same PostgreSQL and NATS, every chat's customer
//     on one node and its agent on the next, so that every message
//     crosses from one node to another through NATS.
//
// Each set-up gets a fresh PostgreSQL schema (dropped afterwards) and a
// NATS subject prefix of its own. The load is the throughput phase's: a
// closed loop of -workers callers, each sending to the node its party is
// connected to.
type clusterBench struct {
	bin            string
	store, bus     string
	chats, workers int
	duration       time.Duration
	cpuProfile     string // the single PostgreSQL node's CPU profile
	setups         string // the set-ups to run, by key; empty for all
}

// clusterFlags registers the cluster phase's flags on fs.
func clusterFlags(fs *flag.FlagSet) *clusterBench {
	cb := &clusterBench{}
	fs.StringVar(&cb.store, "store", "", "the cluster phase's PostgreSQL server (postgres://...); it creates a schema of its own per set-up and drops it")
	fs.StringVar(&cb.cpuProfile, "cluster-cpuprofile", "", "the cluster phase's single PostgreSQL node writes a CPU profile of its run to this file")
	fs.StringVar(&cb.setups, "cluster-setups", "", "the cluster phase's set-ups to run, comma-separated: sqlite, pg1 (one PostgreSQL node), pg3 (three); default all")
	return cb
}

// clusterSetup is one measured set-up.
type clusterSetup struct {
	key      string // what -cluster-setups names it by
	name     string
	nodes    int
	postgres bool
}

// clusterResult is what one set-up measured.
type clusterResult struct {
	sent, failed, delivered int64
	p50, p99                time.Duration
}

func (cb *clusterBench) run(ctx context.Context, w, stderr io.Writer) error {
	if cb.store == "" || benchBus == "" {
		return fmt.Errorf("the cluster phase needs -store (a PostgreSQL server) and -bus (a NATS server)")
	}
	// Each set-up names its bus itself: the three nodes of one must share
	// a subject prefix, which startBenchServer would make per node.
	cb.bus = benchBus
	defer func(b string) { benchBus = b }(benchBus)
	benchBus = ""

	setups := []clusterSetup{{"sqlite", "1 node, SQLite", 1, false}, {"pg1", "1 node, PostgreSQL+NATS", 1, true}, {"pg3", "3 nodes, PostgreSQL+NATS", 3, true}}
	if cb.setups != "" {
		var chosen []clusterSetup
		for _, key := range strings.Split(cb.setups, ",") {
			i := slices.IndexFunc(setups, func(s clusterSetup) bool { return s.key == strings.TrimSpace(key) })
			if i < 0 {
				return fmt.Errorf("-cluster-setups: no set-up %q (sqlite, pg1, pg3)", key)
			}
			chosen = append(chosen, setups[i])
		}
		setups = chosen
	}
	results := make([]clusterResult, len(setups))
	for i, s := range setups {
		r, err := cb.measure(ctx, stderr, s)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		results[i] = r
	}
	fmt.Fprintf(w, "cluster: %d chats, %d workers, %s each\n", cb.chats, cb.workers, cb.duration)
	fmt.Fprintf(w, "  %-26s %12s %8s %10s %10s %10s\n", "set-up", "messages/s", "failed", "missing", "p50", "p99")
	for i, s := range setups {
		r := results[i]
		fmt.Fprintf(w, "  %-26s %12.0f %8d %10d %10s %10s\n", s.name, float64(r.sent)/cb.duration.Seconds(), r.failed, r.sent-r.delivered, r.p50, r.p99)
	}
	return nil
}

// measure starts the set-up's nodes, runs the load on them and stops them.
func (cb *clusterBench) measure(ctx context.Context, stderr io.Writer, s clusterSetup) (clusterResult, error) {
	config := ""
	if s.postgres {
		dsn, drop, err := benchSchema(ctx, cb.store)
		if err != nil {
			return clusterResult{}, err
		}
		defer drop()
		config = fmt.Sprintf("store: %s\nbus: %s\nbus_prefix: bench-%s\n", dsn, cb.bus, strconv.FormatInt(time.Now().UnixNano(), 36))
	}
	nodes := make([]*bench, s.nodes)
	for i := range nodes {
		var extra []string
		if i == 0 && s.postgres && s.nodes == 1 && cb.cpuProfile != "" {
			path, err := filepath.Abs(cb.cpuProfile)
			if err != nil {
				return clusterResult{}, err
			}
			extra = append(extra, "--cpuprofile", path)
		}
		srv, err := startBenchServer(ctx, stderr, cb.bin, cb.chats+16, config, extra...)
		if err != nil {
			return clusterResult{}, err
		}
		defer srv.stop()
		nodes[i] = &bench{srv: srv, http: newBenchHTTP()}
	}

	// Chat i starts on node i; its customer connects there and its agent
	// on the next node.
	type sender struct {
		b *bench
		p *benchParty
	}
	senders := make([]sender, 2*cb.chats)
	var mu sync.Mutex
	err := loadtest.Parallel(cb.chats, 32, func(i int) error {
		home, next := nodes[i%len(nodes)], nodes[(i+1)%len(nodes)]
		c, err := home.newChat(ctx, home.connectClient(), i, false, false)
		if err != nil {
			return err
		}
		for k, b := range []*bench{home, next} {
			if err := b.connectParty(ctx, c.parties[k], true); err != nil {
				return err
			}
		}
		mu.Lock()
		senders[2*i], senders[2*i+1] = sender{home, c.parties[0]}, sender{next, c.parties[1]}
		mu.Unlock()
		return nil
	})
	if err != nil {
		return clusterResult{}, err
	}
	defer func() {
		for _, s := range senders {
			s.p.conn.Close()
		}
	}()

	var turn atomic.Int64
	loop := func(d time.Duration) (sent, failed int64) {
		var ok, bad atomic.Int64
		end := time.Now().Add(d)
		var wg sync.WaitGroup
		for range cb.workers {
			wg.Go(func() {
				for time.Now().Before(end) && ctx.Err() == nil {
					s := senders[int(turn.Add(1))%len(senders)]
					if err := s.b.send(ctx, s.p); err != nil {
						bad.Add(1)
					} else {
						ok.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return ok.Load(), bad.Load()
	}
	delivered := func() int64 {
		var n int64
		for _, b := range nodes {
			n += b.delivered.Load()
		}
		return n
	}
	settle := func(want int64) {
		for end := time.Now().Add(10 * time.Second); delivered() < want && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	warm, _ := loop(2 * time.Second)
	settle(warm)
	for _, b := range nodes {
		b.record(true)
	}
	base := delivered()
	sent, failed := loop(cb.duration)
	settle(base + sent)
	var lat []time.Duration
	for _, b := range nodes {
		lat = append(lat, b.record(false)...)
	}
	return clusterResult{sent: sent, failed: failed, delivered: delivered() - base, p50: pct(lat, 50), p99: pct(lat, 99)}, nil
}

// benchSchema creates a schema of its own on the PostgreSQL server dsn
// names and returns a DSN whose connections use it, and a function that
// drops it.
func benchSchema(ctx context.Context, dsn string) (string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		return "", nil, fmt.Errorf("-store %q is not a postgres:// URL", dsn)
	}
	name := "helpline_bench_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	// The pool's settings (pool_max_conns) are the store's, not the
	// server's: a plain connection refuses them.
	admin := *u
	q := admin.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	admin.RawQuery = q.Encode()
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + name); err != nil {
		return "", nil, err
	}
	q = u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), func() { exec("DROP SCHEMA " + name + " CASCADE") }, nil
}
