// Command helpline-bench is Helpline's load generator: it builds the
// product binary (cmd/helpline), starts `helpline serve` on a temporary
// data directory and measures message throughput, latency, socket memory,
// the built-in bot's turn latency and classifier throughput
// and, on request, transcript mirroring into fakes of the helpdesks and
// one node against three on PostgreSQL and NATS.
//
//	go run ./cmd/helpline-bench [-phases throughput,latency,memory,bot,mirror,zendesk,cluster] [flags]
//
// It is a command of its own so that what it links (the AWS SDK's
// Connect client, the Zendesk and webhook fakes) never ships in the
// binary users deploy.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	if addr := os.Getenv(floorEnv); addr != "" {
		fmt.Fprintln(os.Stderr, "helpline-bench floor:", serveFloor(addr))
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runBench(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "helpline-bench:", err)
		os.Exit(1)
	}
}

// productPackage is the product binary's package, which the bench builds
// when it is given no -bin.
const productPackage = "github.com/helplinehq/helpline/cmd/helpline"

// buildProduct builds the product binary into dir with the go command and
// returns its path. It builds from the current directory, which must be
// inside this module (as it is under `go run ./cmd/helpline-bench`).
func buildProduct(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	exe := filepath.Join(dir, "helpline")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", exe, productPackage)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s (run from inside the module, or pass -bin): %w", productPackage, err)
	}
	return exe, nil
}
