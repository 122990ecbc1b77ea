package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"github.com/helplinehq/helpline/app"
)

// runMigrate moves a single-node SQLite install to an empty PostgreSQL
// database (app.Migrate). The node must be stopped first: the SQLite
// database is read as it is at the start.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "./helpline-data", "the SQLite install's data directory, as a path or sqlite:path (stop its node first)")
	to := fs.String("to", "", "the empty PostgreSQL database to move it to, a postgres:// URL")
	attachments := fs.String("attachments", "", "the install's attachment files (default: attachments in the data directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("migrate takes no arguments, only flags")
	}
	if *to == "" {
		return errors.New("--to is required: the PostgreSQL database, a postgres:// URL")
	}
	return app.Migrate(ctx, app.MigrateOptions{From: *from, To: *to, Attachments: *attachments}, stdout)
}
