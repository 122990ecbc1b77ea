package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// floorEnv, set in the environment of this program, makes it serve the
// floor (serveFloor) on the address it holds instead of running the bench.
const floorEnv = "HELPLINE_BENCH_FLOOR"

// serveFloor is the throughput phase's floor: a bare net/http server that
// does for POST /participant/message only what any handler of it must —
// read the bearer header and the JSON body, decode it, answer a small JSON
// object — with nothing stored and nothing pushed. It prints its address
// on stdout and serves until it is killed.
func serveFloor(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("floor:", ln.Addr().String())
	var n atomic.Int64
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ ContentType, Content, ClientToken string }
		if r.Header.Get("X-Amz-Bearer") == "" || json.NewDecoder(r.Body).Decode(&req) != nil || req.Content == "" {
			http.Error(w, `{"Message":"bad request"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"Id": strconv.FormatInt(n.Add(1), 10), "AbsoluteTime": time.Now().UTC().Format(time.RFC3339Nano)})
	}))
}

// floorServer is the floor running as a child process of its own, so that
// its CPU time is measured apart from the load generator's.
type floorServer struct {
	cmd      *exec.Cmd
	endpoint string
}

// startFloor starts this program again as the floor on a loopback port.
func startFloor(ctx context.Context) (*floorServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), floorEnv+"=127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "floor: ") {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("the floor server did not start: %q", sc.Text())
	}
	go io.Copy(io.Discard, out)
	return &floorServer{cmd: cmd, endpoint: "http://" + strings.TrimPrefix(sc.Text(), "floor: ")}, nil
}

func (f *floorServer) stop() {
	f.cmd.Process.Kill()
	f.cmd.Wait()
}

// clockTicks is the unit of the CPU times in /proc/<pid>/stat (USER_HZ),
// 100 per second on every Linux architecture Go supports.
const clockTicks = 100

// cpuTime returns the CPU time (user and system) that process pid has used
// so far, read from /proc.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis, where field 3 (state) starts.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// cpuMeter measures the CPU time a process uses between its start and end.
type cpuMeter struct {
	pid   int
	start time.Duration
	err   error
}

func meterCPU(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid}
	m.start, m.err = cpuTime(pid)
	return m
}

// perMessage returns the CPU time used since meterCPU, per message, in
// microseconds, or -1 if it could not be read.
func (m *cpuMeter) perMessage(messages int64) float64 {
	end, err := cpuTime(m.pid)
	if m.err != nil || err != nil || messages <= 0 {
		return -1
	}
	return float64(end-m.start) / float64(time.Microsecond) / float64(messages)
}

// serverMallocs reads the server's count of heap allocations so far
// (go_memstats_mallocs_total on its /metrics), or -1 if it cannot.
func serverMallocs(ctx context.Context, endpoint string) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/metrics", nil)
	if err != nil {
		return -1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_mallocs_total "); ok {
			if n, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return n
			}
		}
	}
	return -1
}
