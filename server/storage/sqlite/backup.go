package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database to dest while it stays
// in use: VACUUM INTO reads one snapshot (WAL readers never block the
// writer, here or in another process) and writes a compact database file.
// The copy is written next to dest, synced, checked with
// PRAGMA integrity_check, then renamed over dest, so dest is either the
// previous file or a complete backup.
func (db *DB) Backup(ctx context.Context, dest string) error {
	dir := filepath.Dir(dest)
	tmpf, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".*.tmp")
	if err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", dest, err)
	}
	tmp := tmpf.Name()
	tmpf.Close()
	// VACUUM INTO refuses an existing non-empty file and writes an empty
	// one; removing it keeps the name reserved only briefly.
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", dest, err)
	}
	done := false
	defer func() {
		if !done {
			os.Remove(tmp)
		}
	}()
	// The read pool is query_only, which VACUUM INTO refuses: use a
	// connection of its own on the same file.
	var seq int
	var name, file string
	if err := db.r.QueryRowContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		return fmt.Errorf("sqlite: backup to %s: finding the database file: %w", dest, err)
	}
	src, err := sql.Open("sqlite", file+"?"+url.Values{"_pragma": {fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds())}}.Encode())
	if err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", dest, err)
	}
	_, err = src.ExecContext(ctx, `VACUUM INTO ?`, tmp)
	src.Close()
	if err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", dest, err)
	}
	if err := checkBackup(ctx, tmp); err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", dest, err)
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", dest, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", dest, err)
	}
	done = true
	if err := syncFile(dir); err != nil {
		return fmt.Errorf("sqlite: backup to %s: syncing folder: %w", dest, err)
	}
	db.log.InfoContext(ctx, "backup written", "dest", dest)
	return nil
}

// checkBackup opens the written copy read-only and runs an integrity check.
func checkBackup(ctx context.Context, path string) error {
	b, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return fmt.Errorf("opening the copy: %w", err)
	}
	defer b.Close()
	var res string
	if err := b.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return fmt.Errorf("checking the copy: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("the copy fails its integrity check: %s", res)
	}
	return nil
}

// syncFile flushes a file or folder to stable storage.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
