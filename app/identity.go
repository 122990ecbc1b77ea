package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/helplinehq/helpline"
)

// Identity is the instance, flow and signing key Helpline creates on
// first start, kept in the store.
type Identity struct {
	InstanceID      string `json:"instance_id"`
	FlowID          string `json:"flow_id"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	// FromEnv is set when the key came from the environment: its secret is
	// the operator's, and never printed.
	FromEnv bool `json:"-"`
}

// SecretLine is what a banner shows for the secret access key: the
// secret Helpline generated, or where the operator's secret came from.
func (id *Identity) SecretLine() string {
	if id.FromEnv {
		return "(from HELPLINE_SECRET_ACCESS_KEY)"
	}
	return id.SecretAccessKey
}

// ensureDefaultInstance creates the default instance on first start and
// saves it on every start, with the signing key taken from
// HELPLINE_ACCESS_KEY_ID and HELPLINE_SECRET_ACCESS_KEY when they are set.
func ensureDefaultInstance(ctx context.Context, store helpline.Store) (*Identity, error) {
	raw, err := store.Secret(ctx, "default-instance", func() ([]byte, error) {
		return json.Marshal(Identity{
			InstanceID:      helpline.NewID(),
			FlowID:          helpline.NewID(),
			AccessKeyID:     "HL" + randomString(18, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
			SecretAccessKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
		})
	})
	if err != nil {
		return nil, err
	}
	var id Identity
	if err := json.Unmarshal(raw, &id); err != nil {
		return nil, fmt.Errorf("default instance: %w", err)
	}
	akid, secret := os.Getenv("HELPLINE_ACCESS_KEY_ID"), os.Getenv("HELPLINE_SECRET_ACCESS_KEY")
	if (akid == "") != (secret == "") {
		return nil, errors.New("set both HELPLINE_ACCESS_KEY_ID and HELPLINE_SECRET_ACCESS_KEY, or neither")
	} else if akid != "" {
		id.AccessKeyID, id.SecretAccessKey, id.FromEnv = akid, secret, true
	}
	err = store.SaveInstance(ctx, &helpline.Instance{
		ID:         id.InstanceID,
		Name:       "default",
		Flows:      []helpline.Flow{{ID: id.FlowID, Name: "Default flow", Queue: helpline.DefaultQueueID}},
		AccessKeys: []helpline.AccessKey{{ID: id.AccessKeyID, Secret: id.SecretAccessKey}},
	})
	return &id, err
}

// ensureDefaultQueue creates the default instance's queue "default",
// which the default flow sends chats to, unless it exists: an operator's
// changes to it (helpline queues add, queues:) are kept.
func ensureDefaultQueue(ctx context.Context, store helpline.Store, instanceID string) error {
	_, err := store.FindQueueByID(ctx, instanceID, helpline.DefaultQueueID)
	if helpline.ErrorCode(err) == helpline.ENOTFOUND {
		err = store.SaveQueue(ctx, &helpline.Queue{InstanceID: instanceID, ID: helpline.DefaultQueueID, Name: "Default queue"})
	}
	return err
}

// checkAccessKeysUnique refuses to start when two instances share an
// access key id: a key id names one tenant's secret, and a request signed
// with it must not be able to pick which tenant it speaks for.
func checkAccessKeysUnique(ctx context.Context, store helpline.Store) error {
	instances, err := store.FindInstances(ctx)
	if err != nil {
		return err
	}
	owner := map[string]string{}
	for _, in := range instances {
		for _, k := range in.AccessKeys {
			if other, ok := owner[k.ID]; ok && other != in.ID {
				return fmt.Errorf("access key id %s belongs to instances %s and %s; every access key id must be unique", k.ID, other, in.ID)
			}
			owner[k.ID] = in.ID
		}
	}
	return nil
}

func randomBytes(n int) func() ([]byte, error) {
	return func() ([]byte, error) {
		b := make([]byte, n)
		_, err := rand.Read(b)
		return b, err
	}
}

// randomString returns n characters drawn uniformly from alphabet, whose
// length must divide 256.
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
