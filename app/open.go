package app

import (
	"path/filepath"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/blobfs"
	"github.com/helplinehq/helpline/inmem"
	"github.com/helplinehq/helpline/sqlite"
)

// The node's shared parts are opened here, and only here, from the
// configuration: today the embedded SQLite database, the in-process bus
// and attachment files on local disk, all in the data directory. Stores
// and buses for several nodes (PostgreSQL, NATS, shared blobs) are chosen
// in these functions, so that nothing else changes when they come.

// OpenStore opens the store: the SQLite database helpline.db in cfg.Data,
// created on first use. It is safe to open while a node runs on it.
func OpenStore(cfg *Config) (helpline.Store, error) {
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

// OpenBus opens the bus: in-process, as one node needs.
func OpenBus(cfg *Config) (helpline.Bus, error) {
	return inmem.NewBus(), nil
}

// OpenBlobs opens the attachment files: the directory attachments in
// cfg.Data.
func OpenBlobs(cfg *Config) (helpline.BlobStore, error) {
	b, err := blobfs.New(filepath.Join(cfg.Data, "attachments"))
	if err != nil {
		return nil, err
	}
	return b, nil
}
