package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/app"
)

// runReplay resumes parked mirror pairs: they become active and due now,
// and the dispatcher of a running (or the next) serve delivers them from
// their cursor. It opens the node's store directly, which is safe while
// serve runs on it.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML); optional, for its data directory")
	data := fs.String("data", "", "data directory (default ./helpline-data)")
	storeURL := fs.String("store", "", storeUsage)
	connector := fs.String("connector", "", "resume only this connector's pairs")
	contact := fs.String("contact", "", "resume only this contact's pairs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := app.Load(*configPath)
	if err != nil {
		return err
	}
	override(&cfg.Data, *data, "./helpline-data")
	override(&cfg.Store, *storeURL, "")
	store, err := app.OpenStore(cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	parked, err := store.FindMirrorPairs(ctx, helpline.MirrorPairFilter{Connector: *connector, ContactID: *contact, State: helpline.MirrorParked})
	if err != nil {
		return err
	}
	for _, p := range parked {
		fmt.Fprintf(stdout, "resuming %s %s at item %d of %d (parked: %s)\n", p.Connector, p.ContactID, p.Cursor, p.LastSeq, p.LastError)
	}
	n, err := store.ResumeMirrorPairs(ctx, *connector, *contact, helpline.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d parked pair(s) resumed\n", n)
	return nil
}
