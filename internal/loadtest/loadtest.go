// Package loadtest drives a running Helpline server from outside, as its
// clients do. It holds what the load command (cmd/helpline-bench) and the
// end-to-end tests of cmd/helpline share.
//
// Its name ends in "test": the dependency rules (deps_test.go) keep it,
// like every fake, out of production code, so the product binary never
// links it.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Parallel runs f(0), ..., f(n-1), width at a time, and returns the
// first error.
func Parallel(n, width int, f func(i int) error) error {
	errs := make(chan error, n)
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// PostParticipant calls a participant API operation at base (the
// server's Connect endpoint) with a JSON body and the X-Amz-Bearer token;
// anything but 200 is an error. With out not nil it decodes the answer
// into it.
func PostParticipant(ctx context.Context, hc *http.Client, base, path, token string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, "POST", base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Bearer", token)
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return fmt.Errorf("%s: %d %s", path, res.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// Said returns what a transcript line such as "[10:42:07] Ada
// (customer): Where is my order?" says, or false for a line that reports
// no message (joins, footers, markers).
func Said(line string) (string, bool) {
	if !strings.HasPrefix(line, "[") {
		return "", false
	}
	_, text, ok := strings.Cut(line, "): ")
	return text, ok
}

// LogBuffer collects what a server logs while it runs: writes and reads
// may come from different goroutines.
type LogBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Trickle writes b to conn once every interval, as a client too slow to
// be served would, until conn fails or the returned stop is called.
func Trickle(conn net.Conn, every time.Duration, b []byte) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if _, err := conn.Write(b); err != nil {
					return
				}
			}
		}
	}()
	return func() { close(done) }
}
