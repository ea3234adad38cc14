package sqlcommon

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Quota is the SQL of the quota-checked writes of storage.Offline and
// storage.Private and of storage.ArchiveUsage. A check and its insert are
// one statement; where writers run concurrently, writers of one user also
// serialise on a per-user lock (Dialect.LockUser), so that concurrent
// callers cannot exceed the quota either way. The backend keeps the
// trimming of an archive.
type Quota struct {
	D  Dialect
	R  Querier  // reads
	W  Execer   // writes of one statement
	Tx Transact // writes of several
}

// lockedExec runs one statement: under the per-user lock of class in a
// transaction of its own where the dialect takes such locks, as it is
// (SQLite: through the group commit) otherwise.
func (q Quota) lockedExec(ctx context.Context, class LockClass, key, text string, args ...any) (int64, error) {
	if !q.D.UserLocks {
		return q.W.Exec(ctx, text, args...)
	}
	var n int64
	err := q.Tx(ctx, func(tx Tx) error {
		if err := q.D.LockUser(ctx, tx, class, key); err != nil {
			return err
		}
		var err error
		n, err = tx.Exec(ctx, text, args...)
		return err
	})
	return n, err
}

// StoreOffline appends a message for user; storage.ErrQuota when user
// already has limit messages stored (limit <= 0: no limit).
func (q Quota) StoreOffline(ctx context.Context, user jid.JID, stanza []byte, limit int) error {
	u := UserKey(user)
	at := Nanos(time.Now())
	if limit <= 0 {
		_, err := q.W.Exec(ctx, q.D.SQL(`INSERT INTO offline({user}, stanza, at) VALUES (?, ?, ?)`), u, NonNil(stanza), at)
		if err != nil {
			return fmt.Errorf("%s: store offline message for %s: %w", q.D.Name, u, err)
		}
		return nil
	}
	n, err := q.lockedExec(ctx, LockOffline, u, q.D.SQL(`INSERT INTO offline({user}, stanza, at)
		SELECT ?, ?, ? WHERE (SELECT COUNT(*) FROM offline WHERE {user} = ?) < ?`),
		u, NonNil(stanza), at, u, limit)
	if err != nil {
		return fmt.Errorf("%s: store offline message for %s: %w", q.D.Name, u, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: store offline message for %s: %d stored: %w", q.D.Name, u, limit, storage.ErrQuota)
	}
	return nil
}

// StoreOfflineWithin appends a message for user unless the user's stored
// messages would then exceed quota; storage.ErrQuota then.
func (q Quota) StoreOfflineWithin(ctx context.Context, user jid.JID, stanza []byte, quota storage.Quota) error {
	u := UserKey(user)
	maxCount, maxBytes := quota.Bounds()
	room := maxBytes - int64(len(stanza)) // bytes the others may take
	if room < 0 {
		return fmt.Errorf("%s: store offline message for %s: %d bytes: %w", q.D.Name, u, len(stanza), storage.ErrQuota)
	}
	n, err := q.lockedExec(ctx, LockOffline, u, q.D.SQL(`INSERT INTO offline({user}, stanza, at)
		SELECT ?, ?, ? WHERE (SELECT COUNT(*) < ? AND COALESCE(SUM({len}(stanza)), 0) <= ? FROM offline WHERE {user} = ?)`),
		u, NonNil(stanza), Nanos(time.Now()), maxCount, room, u)
	if err != nil {
		return fmt.Errorf("%s: store offline message for %s: %w", q.D.Name, u, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: store offline message for %s: %w", q.D.Name, u, storage.ErrQuota)
	}
	return nil
}

// SetPrivateXMLWithin stores elems unless the user's elements would then
// exceed quota; storage.ErrQuota then, and none is stored.
func (q Quota) SetPrivateXMLWithin(ctx context.Context, user jid.JID, elems []storage.PrivateElement, quota storage.Quota) error {
	u := UserKey(user)
	maxCount, maxBytes := quota.Bounds()
	// The WHERE clause also keeps SQLite from reading ON CONFLICT as a
	// join constraint of the SELECT.
	text := q.D.SQL(`INSERT INTO private_xml({user}, key, data)
		SELECT ?, ?, ? WHERE (SELECT COUNT(*) < ? AND COALESCE(SUM({len}(data)), 0) <= ? FROM private_xml WHERE {user} = ? AND key <> ?)
		ON CONFLICT({user}, key) DO UPDATE SET data = excluded.data`)
	err := q.Tx(ctx, func(tx Tx) error {
		if err := q.D.LockUser(ctx, tx, LockPrivate, u); err != nil {
			return err
		}
		for _, e := range elems {
			room := maxBytes - int64(len(e.Data)) // bytes the others may take
			if room < 0 {
				return fmt.Errorf("%q: %d bytes: %w", e.Key, len(e.Data), storage.ErrQuota)
			}
			n, err := tx.Exec(ctx, text, u, e.Key, NonNil(e.Data), maxCount, room, u, e.Key)
			if err != nil {
				return fmt.Errorf("%q: %w", e.Key, err)
			}
			if n == 0 {
				return fmt.Errorf("%q: %w", e.Key, storage.ErrQuota)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: set private xml of %s: %w", q.D.Name, u, err)
	}
	return nil
}

// ArchiveUsageSQL measures the archive of one user (its UserKey, the
// argument).
const ArchiveUsageSQL = `SELECT COUNT(*), COALESCE(SUM({len}(stanza)), 0) FROM archive WHERE {user} = ?`

// ArchiveUsage returns the number of messages of user's archive and the
// total size of their stanzas.
func (q Quota) ArchiveUsage(ctx context.Context, user jid.JID) (storage.Usage, error) {
	u := UserKey(user)
	var us storage.Usage
	if err := q.R.QueryRow(ctx, q.D.SQL(ArchiveUsageSQL), u).Scan(&us.Count, &us.Bytes); err != nil {
		return us, fmt.Errorf("%s: archive usage of %s: %w", q.D.Name, u, err)
	}
	return us, nil
}
