package app

// Cheap logging for the goroutine that logs: a LogWriter takes lines into
// memory and writes them out in the background, many per system call, and
// a LogHandler writes everything out at once after a warning or an error,
// so that those are out before whatever follows.

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// maxLogBuffered is how many bytes a LogWriter holds before a Write writes them
// out itself: memory stays bounded when the output is slower than the log.
const maxLogBuffered = 256 << 10

// LogWriter buffers what is written to it and writes it to its output every
// interval, when it passes maxLogBuffered, on Flush and on Close, in order.
// It is safe for concurrent use. Output errors are dropped: a log has
// nowhere to report them.
type LogWriter struct {
	out io.Writer

	// mu guards buf and closed.
	mu     sync.Mutex
	buf    []byte
	closed bool
	// flushing is held while writing out, so that flushes keep the
	// order of the lines; spare is the buffer that is not being filled.
	flushing sync.Mutex
	spare    []byte

	stop chan struct{}
	done chan struct{}
}

// NewLogWriter returns a LogWriter to out that writes out every interval. Close
// it to stop its goroutine and write out the rest.
func NewLogWriter(out io.Writer, interval time.Duration) *LogWriter {
	w := &LogWriter{out: out, stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop(interval)
	return w
}

func (w *LogWriter) loop(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.Flush()
		}
	}
}

// Write takes a copy of p. After Close it writes p out at once.
func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	full := w.closed || len(w.buf) >= maxLogBuffered
	w.mu.Unlock()
	if full {
		w.Flush()
	}
	return len(p), nil
}

// Flush writes out what has been written so far.
func (w *LogWriter) Flush() error {
	w.flushing.Lock()
	defer w.flushing.Unlock()
	w.mu.Lock()
	out := w.buf
	w.buf = w.spare[:0]
	w.mu.Unlock()
	var err error
	if len(out) > 0 {
		_, err = w.out.Write(out)
	}
	w.spare = out
	return err
}

// Close stops the background writes and writes out the rest; later
// Writes go out at once.
func (w *LogWriter) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	return w.Flush()
}

// LogHandler passes records to its inner handler, which writes to w, and
// flushes w after each record at or above level.
type LogHandler struct {
	inner slog.Handler
	w     *LogWriter
	level slog.Level
}

// NewLogHandler returns a LogHandler over inner, which must write to w.
func NewLogHandler(inner slog.Handler, w *LogWriter, level slog.Level) *LogHandler {
	return &LogHandler{inner: inner, w: w, level: level}
}

func (h *LogHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.inner.Handle(ctx, r)
	if r.Level >= h.level {
		h.w.Flush()
	}
	return err
}

func (h *LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &LogHandler{inner: h.inner.WithAttrs(as), w: h.w, level: h.level}
}

func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{inner: h.inner.WithGroup(name), w: h.w, level: h.level}
}
