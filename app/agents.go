package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/routing"
)

// AgentConfig declares an agent (configuration section agents:). Its
// password comes from the environment variable PasswordEnv, so that it
// stays out of the file; without one, an existing agent keeps its
// password and a new one has none until "helpline agents passwd".
type AgentConfig struct {
	// Instance is the agent's instance id (default: the default instance).
	Instance    string   `yaml:"instance"`
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name"`
	Email       string   `yaml:"email"`
	Role        string   `yaml:"role"`     // agent (default), supervisor or admin
	Queues      []string `yaml:"queues"`   // ids of the queues the agent serves
	Capacity    int      `yaml:"capacity"` // concurrent chats, 1-10 (default 3)
	Disabled    bool     `yaml:"disabled"`
	PasswordEnv string   `yaml:"password_env"`
}

// QueueConfig declares a queue (configuration section queues:).
type QueueConfig struct {
	Instance      string   `yaml:"instance"` // default: the default instance
	ID            string   `yaml:"id"`
	Name          string   `yaml:"name"`
	Routing       string   `yaml:"routing"`        // longest_idle (default) or round_robin
	AcceptWithin  Duration `yaml:"accept_within"`  // default 30s
	AutoAccept    bool     `yaml:"auto_accept"`    // accept offers for the agent
	ReassignAfter Duration `yaml:"reassign_after"` // return an absent agent's chats after this long; 0 never
	// Hours, AwayMessage and EndOutOfHours are the queue's business hours
	// and what a chat entering it from its flow's start outside them is
	// told, or whether it ends (helpline.Queue); written as a flow's.
	Hours         *HoursConfig `yaml:"hours"`
	AwayMessage   string       `yaml:"away_message"`
	EndOutOfHours bool         `yaml:"end_out_of_hours"`
}

// validateRouting checks the agents: and queues: sections as far as can
// be done without the store; the store checks the rest when they are
// applied.
func (cfg *Config) validateRouting() error {
	for i, a := range cfg.Agents {
		if a.ID == "" || a.Email == "" {
			return fmt.Errorf("agents[%d]: id and email are required", i)
		}
		if a.PasswordEnv != "" && os.Getenv(a.PasswordEnv) == "" {
			return fmt.Errorf("agent %s: environment variable %s is empty", a.ID, a.PasswordEnv)
		}
	}
	for i, q := range cfg.Queues {
		if q.ID == "" {
			return fmt.Errorf("queues[%d]: id is required", i)
		}
	}
	return nil
}

// applyRouting saves the configured queues, then creates or updates the
// configured agents; defaultInstance is the instance of entries that name
// none.
func applyRouting(ctx context.Context, store helpline.Store, cfg *Config, defaultInstance string) error {
	orDefault := func(id string) string {
		if id == "" {
			return defaultInstance
		}
		return id
	}
	for _, qc := range cfg.Queues {
		q := &helpline.Queue{InstanceID: orDefault(qc.Instance), ID: qc.ID, Name: qc.Name, Routing: qc.Routing,
			AcceptWithin: qc.AcceptWithin.std(), AutoAccept: qc.AutoAccept, ReassignAfter: qc.ReassignAfter.std(),
			AwayMessage: qc.AwayMessage, EndOutOfHours: qc.EndOutOfHours}
		if qc.Hours != nil {
			var err error
			if q.Hours, err = qc.Hours.hours(); err != nil {
				return fmt.Errorf("queue %s: %w", qc.ID, err)
			}
		}
		if err := store.SaveQueue(ctx, q); err != nil {
			return fmt.Errorf("queue %s: %w", qc.ID, err)
		}
	}
	for _, ac := range cfg.Agents {
		a := &helpline.Agent{InstanceID: orDefault(ac.Instance), ID: ac.ID, DisplayName: ac.Name, Email: ac.Email, Role: ac.Role,
			Queues: ac.Queues, Capacity: ac.Capacity, Enabled: !ac.Disabled, CreatedAt: helpline.Now()}
		if ac.PasswordEnv != "" {
			h, err := HashPassword(os.Getenv(ac.PasswordEnv))
			if err != nil {
				return fmt.Errorf("agent %s: %w", ac.ID, err)
			}
			a.PasswordHash = h
		}
		if err := saveAgent(ctx, store, a); err != nil {
			return fmt.Errorf("agent %s: %w", ac.ID, err)
		}
	}
	return nil
}

// saveAgent creates a, or updates the agent with its id, keeping the
// stored password when a sets none. Nodes starting at once on one store
// race to create the agents of their configuration: the one whose create
// finds the agent made meanwhile updates it instead.
func saveAgent(ctx context.Context, store helpline.Store, a *helpline.Agent) error {
	for raced := false; ; raced = true {
		old, err := store.FindAgentByID(ctx, a.InstanceID, a.ID)
		if helpline.ErrorCode(err) == helpline.ENOTFOUND {
			err = store.CreateAgent(ctx, a)
			if helpline.ErrorCode(err) == helpline.ECONFLICT && !raced {
				continue
			}
			return err
		} else if err != nil {
			return err
		}
		if a.PasswordHash == "" {
			a.PasswordHash = old.PasswordHash
		}
		return store.UpdateAgent(ctx, a)
	}
}

func (d Duration) std() time.Duration { return time.Duration(d) }

// HashPassword returns the stored form of an agent's password
// (routing.HashPassword: Argon2id), or EINVALID for a password too short
// or too long.
func HashPassword(password string) (string, error) { return routing.HashPassword(password) }

// DefaultInstanceID returns the id of the default instance, creating it on
// first use as serve does.
func DefaultInstanceID(ctx context.Context, store helpline.Store) (string, error) {
	id, err := ensureDefaultInstance(ctx, store)
	if err != nil {
		return "", err
	}
	return id.InstanceID, nil
}
