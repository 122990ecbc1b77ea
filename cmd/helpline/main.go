// Command helpline is the Helpline chat gateway: one binary that serves the
// Amazon Connect chat APIs on an embedded SQLite database, and the tools
// that go with it.
//
//	helpline serve     run the server
//	helpline replay    resume mirror pairs parked by a permanent failure
//	helpline agents    add, list, disable agents and set their passwords
//	helpline queues    add and list queues
//	helpline bot       classify utterances with the built-in bot's model
//	helpline tokens    create, list and revoke agent API tokens
//	helpline migrate   move a SQLite install to PostgreSQL
//	helpline version   print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "helpline:", err)
		os.Exit(1)
	}
}

const usage = `Usage: helpline <command> [flags]

Commands:
  serve     run the chat server (embedded SQLite, zero configuration)
  replay    resume mirror deliveries parked by a permanent failure
  agents    add, list, disable agents and set their passwords
  queues    add and list queues
  bot       classify utterances with the built-in bot's model
  tokens    create, list and revoke agent API tokens
  migrate   move a SQLite install to an empty PostgreSQL database
  version   print the version

Run "helpline <command> -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if os.Getenv("GOGC") == "" {
		// A chat server's live heap is small (tens of MB for thousands of
		// chats), so letting it grow threefold between collections costs
		// little memory and saves a tenth of the CPU under load
		// (cmd/helpline-bench). GOGC still overrides it.
		debug.SetGCPercent(200)
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "replay":
		return runReplay(ctx, args[1:], stdout, stderr)
	case "agents":
		return runAgents(ctx, args[1:], stdout, stderr)
	case "queues":
		return runQueues(ctx, args[1:], stdout, stderr)
	case "bot":
		return runBot(ctx, args[1:], stdin, stdout, stderr)
	case "tokens":
		return runTokens(ctx, args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "helpline", version)
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "helpline: unknown command %q\n\n%s", args[0], usage)
	return flag.ErrHelp
}
