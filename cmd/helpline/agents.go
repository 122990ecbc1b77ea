package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/app"
)

// The agents and queues subcommands manage the data directory's store
// directly, which is safe while serve runs on it.

const agentsUsage = `Usage: helpline agents <add|list|passwd|disable> [flags]

  add      -email E [-id ID] [-name N] [-role agent|supervisor|admin] [-queues q1,q2] [-capacity 3]
  list     list the instance's agents
  passwd   -id ID   set the password from $HELPLINE_AGENT_PASSWORD (or -password-env)
  disable  -id ID   stop the agent logging in and being offered chats
`

const queuesUsage = `Usage: helpline queues <add|list> [flags]

  add   -id ID [-name N] [-routing longest_idle|round_robin] [-accept-within 30s] [-auto-accept] [-reassign-after 0]
        [-hours "mon-fri 09:00-18:00,sat 10:00-13:00" [-time-zone Europe/Paris] [-holidays 2025-12-25,2026-01-01]
         [-away-message TEXT] [-end-out-of-hours]]
  list  list the instance's queues
`

// storeFlags are the flags every agents and queues subcommand takes.
type storeFlags struct {
	config, data, store, instance *string
}

func newStoreFlags(fs *flag.FlagSet) storeFlags {
	return storeFlags{
		config:   fs.String("config", "", "configuration file (YAML); optional, for its data directory"),
		data:     fs.String("data", "", "data directory (default ./helpline-data)"),
		store:    fs.String("store", "", storeUsage),
		instance: fs.String("instance", "", "instance id (default: the default instance)"),
	}
}

// open opens the store and resolves the instance.
func (f storeFlags) open(ctx context.Context) (helpline.Store, string, error) {
	cfg, err := app.Load(*f.config)
	if err != nil {
		return nil, "", err
	}
	override(&cfg.Data, *f.data, "./helpline-data")
	override(&cfg.Store, *f.store, "")
	store, err := app.OpenStore(cfg)
	if err != nil {
		return nil, "", err
	}
	instance := *f.instance
	if instance == "" {
		if instance, err = app.DefaultInstanceID(ctx, store); err != nil {
			store.Close()
			return nil, "", err
		}
	}
	return store, instance, nil
}

func runAgents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, agentsUsage)
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("agents "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := newStoreFlags(fs)
	id := fs.String("id", "", "agent id: letters, digits, - or _ (default: from the email)")
	email := fs.String("email", "", "email address, the login name")
	name := fs.String("name", "", "display name (default: the id)")
	role := fs.String("role", helpline.AgentRoleAgent, "agent, supervisor or admin")
	queues := fs.String("queues", "", "comma-separated ids of the queues the agent serves")
	capacity := fs.Int("capacity", helpline.DefaultCapacity, "concurrent chats, 1-10")
	passwordEnv := fs.String("password-env", "HELPLINE_AGENT_PASSWORD", "environment variable holding the password")
	switch args[0] {
	case "add", "list", "passwd", "disable":
	default:
		fmt.Fprintf(stderr, "helpline agents: unknown subcommand %q\n\n%s", args[0], agentsUsage)
		return flag.ErrHelp
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	store, instance, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	password := func() (string, error) {
		if os.Getenv(*passwordEnv) == "" {
			return "", nil
		}
		return app.HashPassword(os.Getenv(*passwordEnv))
	}

	switch args[0] {
	case "add":
		a := &helpline.Agent{InstanceID: instance, ID: *id, DisplayName: *name, Email: *email, Role: *role,
			Capacity: *capacity, Enabled: true, CreatedAt: helpline.Now()}
		if *queues != "" {
			a.Queues = strings.Split(*queues, ",")
		}
		if a.PasswordHash, err = password(); err != nil {
			return err
		}
		if err := store.CreateAgent(ctx, a); err != nil {
			return errors.New(helpline.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "agent %s (%s) added\n", a.ID, a.Email)
		if a.PasswordHash == "" {
			fmt.Fprintf(stdout, "no password set: set $%s and run helpline agents passwd -id %s\n", *passwordEnv, a.ID)
		}
	case "list":
		agents, err := store.FindAgents(ctx, instance)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tROLE\tQUEUES\tCAPACITY\tENABLED")
		for _, a := range agents {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%v\n", a.ID, a.Email, a.DisplayName, a.Role, strings.Join(a.Queues, ","), a.Capacity, a.Enabled)
		}
		return tw.Flush()
	case "passwd", "disable":
		a, err := store.FindAgentByID(ctx, instance, *id)
		if err != nil {
			return errors.New(helpline.ErrorMessage(err))
		}
		if args[0] == "disable" {
			a.Enabled = false
		} else if a.PasswordHash, err = password(); err != nil {
			return errors.New(helpline.ErrorMessage(err))
		} else if a.PasswordHash == "" {
			return fmt.Errorf("environment variable %s is empty", *passwordEnv)
		}
		if err := store.UpdateAgent(ctx, a); err != nil {
			return errors.New(helpline.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "agent %s updated\n", a.ID)
	}
	return nil
}

func runQueues(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "list") {
		fmt.Fprint(stderr, queuesUsage)
		return flag.ErrHelp
	}
	fs := flag.NewFlagSet("queues "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := newStoreFlags(fs)
	id := fs.String("id", "", "queue id: letters, digits, - or _")
	name := fs.String("name", "", "display name (default: the id)")
	routingMethod := fs.String("routing", helpline.RoutingLongestIdle, "longest_idle or round_robin")
	acceptWithin := fs.Duration("accept-within", helpline.DefaultAcceptWithin, "how long an agent has to accept an offer")
	autoAccept := fs.Bool("auto-accept", false, "accept offers for the agent")
	reassignAfter := fs.Duration("reassign-after", 0, "return an absent agent's chats to the queue after this long (0: never)")
	hours := fs.String("hours", "", `business hours, comma-separated open periods such as "mon-fri 09:00-18:00,sat 10:00-13:00" (default: always open)`)
	timeZone := fs.String("time-zone", "", "the hours' IANA time zone, such as Europe/Paris (default UTC)")
	holidays := fs.String("holidays", "", "comma-separated dates the hours are closed, such as 2025-12-25")
	awayMessage := fs.String("away-message", "", "what a chat entering the queue out of hours is told (needs -hours)")
	endOutOfHours := fs.Bool("end-out-of-hours", false, "end a chat entering the queue out of hours instead of letting it wait (needs -hours)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	store, instance, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	if args[0] == "add" {
		q := &helpline.Queue{InstanceID: instance, ID: *id, Name: *name, Routing: *routingMethod,
			AcceptWithin: *acceptWithin, AutoAccept: *autoAccept, ReassignAfter: *reassignAfter,
			AwayMessage: *awayMessage, EndOutOfHours: *endOutOfHours}
		switch {
		case *hours != "":
			open, err := helpline.ParseOpenPeriods(strings.Split(*hours, ","))
			if err != nil {
				return errors.New(helpline.ErrorMessage(err))
			}
			q.Hours = &helpline.BusinessHours{TimeZone: *timeZone, Open: open}
			if *holidays != "" {
				q.Hours.Holidays = strings.Split(*holidays, ",")
			}
		case *timeZone != "" || *holidays != "":
			return errors.New("-time-zone and -holidays need -hours")
		}
		if err := store.SaveQueue(ctx, q); err != nil {
			return errors.New(helpline.ErrorMessage(err))
		}
		fmt.Fprintf(stdout, "queue %s saved\n", q.ID)
		return nil
	}
	queues, err := store.FindQueues(ctx, instance)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROUTING\tACCEPT WITHIN\tAUTO ACCEPT\tREASSIGN AFTER\tHOURS\tOUT OF HOURS")
	for _, q := range queues {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\t%s\n", q.ID, q.Name, q.Routing, q.AcceptWithin, q.AutoAccept, durationOrNever(q.ReassignAfter),
			hoursText(q.Hours), outOfHours(q))
	}
	return tw.Flush()
}

// hoursText writes business hours on one line: "always" for none, else
// the zone, the open periods and the holidays.
func hoursText(h *helpline.BusinessHours) string {
	if h == nil {
		return "always"
	}
	tz := h.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	text := tz + " " + strings.Join(helpline.FormatOpenPeriods(h.Open), ",")
	if len(h.Holidays) > 0 {
		text += "; closed " + strings.Join(h.Holidays, ",")
	}
	return text
}

// outOfHours says what happens to a chat entering q out of hours.
func outOfHours(q *helpline.Queue) string {
	switch {
	case q.Hours == nil:
		return "-"
	case q.EndOutOfHours:
		return "end"
	case q.AwayMessage != "":
		return "wait: " + strconv.Quote(q.AwayMessage)
	}
	return "wait"
}

func durationOrNever(d time.Duration) string {
	if d == 0 {
		return "never"
	}
	return d.String()
}
