package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/helplinehq/helpline/app"
	"github.com/helplinehq/helpline/postgres/pgtest"
)

// Every YAML example in README loads as a configuration file as written
// (no unknown key, no invalid value), and a node starts from it: every
// connector it names is built from its settings and provisioned. An
// example's PostgreSQL store, a server the reader has, is replaced by a
// fresh schema on the test server.
func TestReadmeConfigExamplesLoad(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(blocks) < 5 {
		t.Fatalf("found %d YAML examples in README", len(blocks))
	}
	// The examples name environment variables for their secrets.
	for _, m := range regexp.MustCompile(`_env: ([A-Z_]+)`).FindAllStringSubmatch(string(readme), -1) {
		t.Setenv(m[1], "example-secret")
	}
	dir := t.TempDir()
	for i, b := range blocks {
		path := filepath.Join(dir, "example.yaml")
		if err := os.WriteFile(path, []byte(b[1]), 0o600); err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(b[1], "\n")
		cfg, err := app.Load(path)
		if err != nil {
			t.Errorf("README YAML example %d (%s…): %v", i+1, first, err)
			continue
		}
		cfg.Data = filepath.Join(dir, fmt.Sprintf("data-%d", i))
		if strings.HasPrefix(cfg.Store, "postgres") {
			cfg.Store = pgtest.Schema(t)
		}
		node, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Errorf("README YAML example %d (%s…): the node does not start: %v", i+1, first, err)
			continue
		}
		node.Close()
	}
}
