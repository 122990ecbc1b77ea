package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/helplinehq/helpline"
)

// The tokens subcommand manages the agent API's tokens in the data
// directory's store, as an admin does with /api/admin/tokens; it is how
// the first token of an instance is made.

const tokensUsage = `Usage: helpline tokens <create|list|revoke> [flags]

  create  -role agent|supervisor|admin [-name N]   print a new token, shown this once
  list    list the instance's tokens, without their secrets
  revoke  -id ID                                   stop the token working
`

func runTokens(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokensUsage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "create", "list", "revoke":
	default:
		fmt.Fprintf(stderr, "helpline tokens: unknown subcommand %q\n\n%s", args[0], tokensUsage)
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("tokens "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := newStoreFlags(fs)
	role := fs.String("role", "", "agent, supervisor or admin: the rights the token has on its instance")
	name := fs.String("name", "", "what the token is for")
	id := fs.String("id", "", "token id (from list)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	store, instance, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()

	switch args[0] {
	case "create":
		if *role == "" {
			return errors.New("-role is required: agent, supervisor or admin")
		}
		t, secret, err := helpline.NewAPIToken(instance, *role, *name, "cli", helpline.Now())
		if err == nil {
			err = store.CreateAPIToken(ctx, t)
		}
		if err != nil {
			return errors.New(helpline.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "token %s (%s on instance %s) created; it is shown only now:\n%s\n", t.ID, t.Role, t.InstanceID, secret)
	case "list":
		tokens, err := store.FindAPITokens(ctx, instance)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED BY\tCREATED\tREVOKED")
		for _, t := range tokens {
			revoked := "-"
			if !t.RevokedAt.IsZero() {
				revoked = t.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.CreatedBy, t.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke":
		if err := store.RevokeAPIToken(ctx, instance, *id, helpline.Now()); err != nil {
			return errors.New(helpline.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "token %s revoked\n", *id)
	}
	return nil
}
