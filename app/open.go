package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
	"github.com/helplinehq/helpline/inmem"
	natsbus "github.com/helplinehq/helpline/nats"
	"github.com/helplinehq/helpline/postgres"
	"github.com/helplinehq/helpline/sqlite"
)

// The node's shared parts are opened here, and only here, from the
// configuration: the store (the embedded SQLite database in the data
// directory, or PostgreSQL for several nodes), the in-process bus, and
// the attachment files (a directory, or the PostgreSQL store's database).

// Store and blob kinds, as the configuration writes them.
const (
	storeSQLite   = "sqlite"
	blobsPostgres = "postgres"
	blobsDir      = "dir:"
)

// isPostgres reports whether a store setting names a PostgreSQL database.
func isPostgres(store string) bool {
	return strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://")
}

// validateStorage checks the forms of the store and blobs settings.
// Whether they go together (blobs: postgres needs a PostgreSQL store) is
// checked as they are opened, once the -store flag has had its say.
func (cfg *Config) validateStorage() error {
	if cfg.Store != "" && cfg.Store != storeSQLite && !isPostgres(cfg.Store) {
		return fmt.Errorf("store must be sqlite or a postgres:// URL")
	}
	switch {
	case cfg.Blobs == "", cfg.Blobs == blobsPostgres:
	case strings.HasPrefix(cfg.Blobs, blobsDir):
		if strings.TrimPrefix(cfg.Blobs, blobsDir) == "" {
			return fmt.Errorf("blobs: dir: needs a directory, as dir:/srv/helpline/attachments")
		}
	default:
		return fmt.Errorf("blobs must be postgres or dir:/path")
	}
	return nil
}

// OpenStore opens the store cfg.Store names: by default the SQLite
// database helpline.db in cfg.Data, created on first use; with a
// postgres:// URL that database, its schema brought up to date. Either is
// safe to open while nodes run on it.
func OpenStore(cfg *Config) (helpline.Store, error) {
	if err := cfg.validateStorage(); err != nil {
		return nil, err
	}
	if isPostgres(cfg.Store) {
		s, err := postgres.Open(context.Background(), cfg.Store)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	var opts []sqlite.Option
	if mb := cfg.SQLite.WALLimitMB; mb > 0 {
		opts = append(opts, sqlite.WALLimit(int64(mb)<<20))
	}
	s, err := sqlite.Open(filepath.Join(cfg.Data, "helpline.db"), opts...)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// OpenBus opens the bus: in-process, as one node needs, unless cfg.Bus
// names a NATS server, which every node of a cluster then shares. A NATS
// server that cannot be reached fails the start; once connected, the bus
// reconnects for as long as the node runs, logging to logger.
func OpenBus(cfg *Config, logger *slog.Logger) (helpline.Bus, error) {
	if err := cfg.ValidateBus(); err != nil {
		return nil, err
	}
	if cfg.Bus == "" {
		return inmem.NewBus(), nil
	}
	host, _ := os.Hostname()
	b, err := natsbus.Open(natsbus.Options{URL: cfg.Bus, Prefix: cfg.BusPrefix, Name: "helpline " + host, Logger: logger})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// OpenBlobs opens the attachment files cfg.Blobs names: a directory, or
// the database of store, which must then be the PostgreSQL store; by
// default the latter with a PostgreSQL store and the directory
// attachments in cfg.Data otherwise.
func OpenBlobs(cfg *Config, store helpline.Store) (helpline.BlobStore, error) {
	dir := filepath.Join(cfg.Data, "attachments")
	switch {
	case cfg.Blobs == blobsPostgres || cfg.Blobs == "" && isPostgres(cfg.Store):
		pg, ok := store.(*postgres.DB)
		if !ok {
			return nil, fmt.Errorf("blobs: postgres needs a PostgreSQL store (store: postgres://...)")
		}
		return pg.Blobs(), nil
	case strings.HasPrefix(cfg.Blobs, blobsDir):
		dir = strings.TrimPrefix(cfg.Blobs, blobsDir)
	}
	b, err := blobfs.New(dir)
	if err != nil {
		return nil, err
	}
	return b, nil
}
