package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/helplinehq/helpline/nats/natstest"
	"github.com/helplinehq/helpline/postgres/pgtest"
)

// A short run of the cluster phase: each of its three set-ups reports a
// line, with every message acknowledged and delivered to the other
// socket (across nodes in the three-node set-up); without a PostgreSQL
// server or a NATS server named it refuses to start.
func TestBenchClusterRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the product binary")
	}
	store, bus := pgtest.DSN(t), natstest.URL(t)
	var out, errs bytes.Buffer
	err := runBench(context.Background(), []string{"-phases", "cluster", "-store", store, "-bus", bus,
		"-chats", "6", "-workers", "4", "-duration", "500ms"}, &out, &errs)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errs.String())
	}
	t.Log(out.String())
	for _, setup := range []string{"1 node, SQLite", "1 node, PostgreSQL\\+NATS", "3 nodes, PostgreSQL\\+NATS"} {
		if !regexp.MustCompile(`(?m)^  ` + setup + ` +[1-9]\d* +0 +0 +\S+ +\S+$`).Match(out.Bytes()) {
			t.Errorf("output lacks a line for %s with nothing failed or missing", setup)
		}
	}
	for _, args := range [][]string{{"-bus", bus}, {"-store", store}} {
		err := runBench(context.Background(), append([]string{"-phases", "cluster", "-bin", "/nonexistent"}, args...), &out, &errs)
		if err == nil || !strings.Contains(err.Error(), "needs -store") {
			t.Errorf("%v: err = %v, want the cluster phase's refusal", args, err)
		}
	}
}
