// Package natstest finds a NATS server for tests: the shared one named by
// HELPLINE_TEST_NATS, or a private nats-server process a test can stop and
// start again.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/helplinehq/helpline"
)

// DefaultURL is the server tests use when HELPLINE_TEST_NATS is unset.
const DefaultURL = "nats://127.0.0.1:4222"

// URL returns the NATS server tests share: HELPLINE_TEST_NATS, or
// DefaultURL when that is unset and a server answers there. A server that
// HELPLINE_TEST_NATS names and that does not answer fails the test; with
// the variable unset and nothing at DefaultURL the test is skipped, or
// fails when the environment variable CI is set, so that a CI run never
// passes without NATS.
func URL(t testing.TB) string {
	t.Helper()
	return resolve(t, os.LookupEnv, DefaultURL)
}

// resolve is URL with the environment and the default server given.
func resolve(t testing.TB, lookupEnv func(string) (string, bool), def string) string {
	t.Helper()
	u, named := lookupEnv("HELPLINE_TEST_NATS")
	if u == "" {
		u, named = def, false
	}
	if err := reachable(u); err != nil {
		msg := fmt.Sprintf("no NATS server at %s (%v); start one, or set HELPLINE_TEST_NATS to its URL", u, err)
		if ci, _ := lookupEnv("CI"); named || ci != "" {
			t.Fatal(msg)
		} else {
			t.Skip(msg)
		}
	}
	return u
}

// Prefix returns a subject prefix of its own, so that tests sharing a
// server see neither each other's events nor anyone else's.
func Prefix() string { return "test-" + helpline.NewID() }

// reachable dials the first server of a NATS URL list.
func reachable(urls string) error {
	first, _, _ := strings.Cut(urls, ",")
	u, err := url.Parse(first)
	if err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// Server is a private nats-server process on a port of its own, which a
// test can stop (the server gone, as when it crashes) and start again on
// the same port.
type Server struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// Start runs nats-server from PATH on a free loopback port; the test is
// skipped when there is no nats-server binary, or fails when CI is set.
// The process is stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("nats-server"); err != nil {
		msg := "no nats-server binary in PATH for a private NATS server"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, port: ln.Addr().(*net.TCPAddr).Port}
	ln.Close()
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's URL.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// Stop kills the server, if it runs, and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server, stopped or never started, on its port and
// waits until it accepts connections.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	cmd := exec.Command("nats-server", "-a", "127.0.0.1", "-p", fmt.Sprint(s.port))
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting nats-server: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for reachable(s.URL()) != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("nats-server on port %d did not answer within 10s", s.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
