package connectapi

import (
	"bufio"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/helplinehq/helpline"
)

// LogRequests assigns every request an id, sends it as x-amzn-RequestId on
// the response (New's handler keeps it), and logs one line per request at
// Info with the method, path (attachment URL tokens redacted), status, duration, request id and response
// bytes. A WebSocket is logged once upgraded, with status 101. With
// SampleSuccesses, only some successful requests are logged; failures and
// slow requests always are.
func LogRequests(logger *slog.Logger, next http.Handler, opts ...LogOption) http.Handler {
	var cfg logConfig
	for _, o := range opts {
		o(&cfg)
	}
	var successes atomic.Uint64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := helpline.NewID()
		w.Header().Set(requestIDHeader, id)
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		took := time.Since(start)
		if cfg.every > 1 && rec.status < 400 && took < slowRequest && successes.Add(1)%cfg.every != 1 {
			return
		}
		logger.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("method", r.Method),
			slog.String("path", logPath(r.URL.Path)),
			slog.Int("status", rec.status),
			slog.Duration("duration", took),
			slog.String("request_id", id),
			slog.Int64("bytes", rec.bytes),
		)
	})
}

// slowRequest is how long a request takes to be logged whatever the
// sampling.
const slowRequest = time.Second

// A LogOption tunes LogRequests.
type LogOption func(*logConfig)

type logConfig struct {
	every uint64
}

// SampleSuccesses logs one in every n successful requests (status below
// 400, answered within a second): the first, the n+1st, and so on. A
// failed or slow request is always logged. n of 0 or 1 logs every request.
func SampleSuccesses(n int) LogOption {
	return func(c *logConfig) { c.every = uint64(max(n, 1)) }
}

// tokenPaths are the path prefixes followed by a bearer token: an upload
// or download URL lets anyone who reads it use the attachment.
var tokenPaths = []string{"/attachments/upload/", "/attachments/download/"}

// logPath is path as the access log writes it, with tokens redacted.
func logPath(path string) string {
	for _, p := range tokenPaths {
		if strings.HasPrefix(path, p) {
			return p + "REDACTED"
		}
	}
	return path
}

// recorder captures the status and size of a response. It passes Hijack
// (WebSockets) and Flush through.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

func (rec *recorder) Flush() {
	if f, ok := rec.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := rec.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connectapi: response writer cannot hijack")
	}
	conn, rw, err := h.Hijack()
	if err == nil {
		rec.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
