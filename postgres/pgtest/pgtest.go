// Package pgtest gives tests an empty PostgreSQL schema of their own on
// the test server, so that tests, and several people's test runs, share
// one server without seeing each other's rows.
//
// The server is the one HELPLINE_TEST_POSTGRES names (a DSN), else
// DefaultDSN when something answers there. When neither is there, tests
// that need it are skipped, or fail when the environment variable CI is
// set, so that a CI run never passes by skipping them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDSN is the server tried when HELPLINE_TEST_POSTGRES is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// EnvDSN names the environment variable holding the test server's DSN.
const EnvDSN = "HELPLINE_TEST_POSTGRES"

var (
	probeOnce sync.Once
	probeErr  error
)

// DSN returns the test server's DSN, or skips t (fails it under CI) when
// HELPLINE_TEST_POSTGRES is unset and nothing answers at DefaultDSN.
func DSN(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	probeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, DefaultDSN)
		if err != nil {
			probeErr = err
			return
		}
		conn.Close(ctx)
	})
	if probeErr != nil {
		msg := "no PostgreSQL for the tests: " + EnvDSN + " is unset and " + DefaultDSN + " does not answer (" + probeErr.Error() + "); set " + EnvDSN + " to a server's DSN"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return DefaultDSN
}

// Schema creates a new, empty schema on the test server, drops it with
// everything in it when t ends, and returns a DSN whose connections use
// it (search_path). The connections commit without waiting for the
// server's disk (synchronous_commit=off): locking and visibility are the
// same, the tests take half the time, and only a crash of the server
// would show the difference.
func Schema(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	b := make([]byte, 8)
	rand.Read(b)
	name := "helpline_test_" + hex.EncodeToString(b)
	exec(t, dsn, `CREATE SCHEMA `+name)
	t.Cleanup(func() { exec(t, dsn, `DROP SCHEMA `+name+` CASCADE`) })
	return WithSearchPath(t, dsn, name)
}

// WithSearchPath returns dsn with its connections' search_path set to
// schema, committing without waiting for the disk.
func WithSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema + " synchronous_commit=off"
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}

func exec(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
