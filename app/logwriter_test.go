package app

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logSink is an output that the test reads while the LogWriter writes.
type logSink struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An info line waits in memory; an error line goes out at once with
// everything before it, in order, in one write.
func TestLogWriterErrorsGoOutAtOnce(t *testing.T) {
	var out logSink
	w := NewLogWriter(&out, time.Hour)
	defer w.Close()
	log := slog.New(NewLogHandler(slog.NewTextHandler(w, nil), w, slog.LevelWarn))
	log.Info("first")
	log.With("k", "v").Info("second")
	if got := out.String(); got != "" {
		t.Fatalf("written before a flush: %q", got)
	}
	log.With("k", "v").Error("broke")
	got := out.String()
	if i, j, k := strings.Index(got, "msg=first"), strings.Index(got, "msg=second"), strings.Index(got, "msg=broke k=v"); i < 0 || j < i || k < j {
		t.Fatalf("after the error: %q; want first, second, broke in order", got)
	}
	if out.writes != 1 {
		t.Errorf("%d writes, want 1", out.writes)
	}
}

// The background flush writes lines out without a Flush, Close writes the
// rest, and lines written concurrently are neither lost nor torn.
func TestLogWriterBackgroundAndClose(t *testing.T) {
	var out logSink
	w := NewLogWriter(&out, 10*time.Millisecond)
	fmt.Fprintln(w, "early")
	for end := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), "early\n"); {
		if time.Now().After(end) {
			t.Fatal("the background flush wrote nothing in 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				fmt.Fprintf(w, "g%d line %d\n", g, i)
			}
		}()
	}
	wg.Wait()
	w.Close()
	fmt.Fprintln(w, "after close")
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1+8000+1 || lines[len(lines)-1] != "after close" {
		t.Fatalf("%d lines, last %q; want 8002, the last written after Close", len(lines), lines[len(lines)-1])
	}
	next := map[string]int{}
	for _, l := range lines[1 : len(lines)-1] {
		var g, i int
		if _, err := fmt.Sscanf(l, "g%d line %d", &g, &i); err != nil {
			t.Fatalf("torn line %q", l)
		}
		if key := fmt.Sprint(g); i != next[key] {
			t.Fatalf("goroutine %d: line %d after %d", g, i, next[key]-1)
		}
		next[fmt.Sprint(g)]++
	}
}
