package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/helplinehq/helpline"
	"github.com/helplinehq/helpline/postgres"
	"github.com/helplinehq/helpline/sqlite"
)

// migratedTables are the SQLite store's tables that Migrate copies, in an
// order that satisfies the foreign keys. A table added to the SQLite
// schema is added here too: Migrate refuses a database holding a table
// this list lacks, rather than leave its rows behind.
var migratedTables = []string{
	"instances", "secrets",
	"contacts", "participants", "items", "attachments",
	"mirror_pairs", "mirror_refs", "remembered",
	"agents", "queues", "offers",
	"sessions", "api_tokens",
	"bot_states", "canned_responses", "widget_settings",
}

// MigrateOptions says what Migrate moves where.
type MigrateOptions struct {
	// From is the SQLite install's data directory, as a path or
	// sqlite:path.
	From string
	// To is the PostgreSQL database, a postgres:// URL.
	To string
	// Attachments is the directory of the install's attachment files;
	// by default attachments in From.
	Attachments string
}

// Migrate moves a single-node SQLite install to an empty PostgreSQL
// database: every table's rows (instances with their keys, contacts,
// items with their Seqs, mirror pairs with their cursors and refs,
// agents, queues, sessions, tokens...) and the attachment files' bytes,
// streamed a chunk at a time, all in one transaction on the PostgreSQL
// side, after bringing its schema up to date. Mirror leases are cleared;
// parked pairs stay parked. It refuses a database that already holds an
// instance or a contact, and writes nothing when anything fails.
//
// The SQLite database is opened read-only, and only what it holds at
// that moment is copied: stop the node first. Migrate writes to out, for
// each table, the rows in SQLite and in PostgreSQL, then the attachments'
// files and bytes on both sides, and fails when any pair differs.
func Migrate(ctx context.Context, opts MigrateOptions, out io.Writer) error {
	dir := strings.TrimPrefix(opts.From, storeSQLite+":")
	if dir == "" {
		return errors.New("--from is required: the SQLite install's data directory")
	}
	dbPath := filepath.Join(dir, "helpline.db")
	if fi, err := os.Stat(dbPath); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("--from %s is not a Helpline data directory: it has no helpline.db", dir)
	}
	if !isPostgres(opts.To) {
		// Not echoed: a mistyped URL may still hold a password.
		return errors.New("--to must be a postgres:// URL")
	}
	attachments := opts.Attachments
	if attachments == "" {
		attachments = filepath.Join(dir, "attachments")
	}
	files, err := attachmentFiles(attachments)
	if err != nil {
		return err
	}

	src, err := sqlite.OpenExport(ctx, dbPath)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := checkTables(ctx, src); err != nil {
		return err
	}
	dst, err := postgres.Open(ctx, opts.To)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer dst.Close()

	err = dst.Import(ctx, func(im *postgres.Importer) error {
		for _, table := range migratedTables {
			if err := copyTable(ctx, src, im, table); err != nil {
				return err
			}
		}
		for _, f := range files {
			if err := copyFile(im, attachments, f); err != nil {
				return err
			}
		}
		return nil
	})
	var he *helpline.Error
	if errors.As(err, &he) {
		return fmt.Errorf("nothing was written: %s", he.Message)
	} else if err != nil {
		return fmt.Errorf("nothing was written: %w", err)
	}
	return verify(ctx, src, dst, files, out)
}

// checkTables refuses a SQLite database with a table migratedTables
// lacks.
func checkTables(ctx context.Context, src *sqlite.Export) error {
	tables, err := src.Tables(ctx)
	if err != nil {
		return err
	}
	var unknown []string
	for _, t := range tables {
		if !slices.Contains(migratedTables, t) {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("the SQLite database has tables this version does not migrate: %s; nothing was written", strings.Join(unknown, ", "))
	}
	return nil
}

func copyTable(ctx context.Context, src *sqlite.Export, im *postgres.Importer, table string) error {
	rows, err := src.Rows(ctx, table)
	if err != nil {
		return err
	}
	defer rows.Close()
	if _, err := im.CopyTable(table, rows); err != nil {
		return err
	}
	return rows.Err()
}

// attachmentFile is one file of the attachments directory.
type attachmentFile struct {
	name string
	size int64
}

// attachmentFiles lists the attachment files in dir: every regular file
// whose name is a blob key (temporary files of unfinished uploads start
// with a dot and are left). A missing directory holds none.
func attachmentFiles(dir string) ([]attachmentFile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("attachments: %w", err)
	}
	var files []attachmentFile
	for _, e := range entries {
		if !e.Type().IsRegular() || helpline.CheckBlobKey(e.Name()) != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("attachments: %w", err)
		}
		files = append(files, attachmentFile{name: e.Name(), size: fi.Size()})
	}
	return files, nil
}

// copyFile streams one attachment file into the import.
func copyFile(im *postgres.Importer, dir string, f attachmentFile) error {
	r, err := os.Open(filepath.Join(dir, f.name))
	if err != nil {
		return fmt.Errorf("attachments: %w", err)
	}
	defer r.Close()
	return im.PutBlob(f.name, f.size, r)
}

// verify writes each table's rows on both sides, and the attachments'
// files and bytes, and fails when any pair differs.
func verify(ctx context.Context, src *sqlite.Export, dst *postgres.DB, files []attachmentFile, out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tSQLITE\tPOSTGRESQL")
	var differ []string
	line := func(name string, a, b int64) {
		mark := ""
		if a != b {
			mark = "  DIFFERS"
			differ = append(differ, name)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d%s\n", name, a, b, mark)
	}
	for _, table := range migratedTables {
		a, err := src.Count(ctx, table)
		if err != nil {
			return err
		}
		b, err := dst.Count(ctx, table)
		if err != nil {
			return err
		}
		line(table, a, b)
	}
	var bytes int64
	for _, f := range files {
		bytes += f.size
	}
	blobs, blobBytes, err := dst.BlobTotals(ctx)
	if err != nil {
		return err
	}
	line("attachment files", int64(len(files)), blobs)
	line("attachment bytes", bytes, blobBytes)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(differ) > 0 {
		return fmt.Errorf("verification failed: %s differ", strings.Join(differ, ", "))
	}
	fmt.Fprintln(out, "migrated: every count matches")
	return nil
}
