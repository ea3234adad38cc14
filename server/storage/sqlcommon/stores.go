package sqlcommon

import (
	"log/slog"

	"github.com/parley-xmpp/parley/server/storage"
)

// Shared is every store of the shared SQL. A backend's DB embeds it, so
// that the stores' methods are the DB's, and defines on DB only what it
// does its own way: a method of DB hides the shared one of its name.
type Shared struct {
	Accounts
	Roster
	Invites
	Archive
	Transfer
	Quota
	Misc
	Offline
	Push
	Fast
	PubSub
	MUC
}

var (
	_ storage.LoginReader      = Accounts{}
	_ storage.IterationCounter = Accounts{}
	_ storage.AccountStatus    = Accounts{}
)

// Conns are what the shared stores run their statements on.
type Conns struct {
	D Dialect
	// Const runs the frequent reads, each one of a few constant texts
	// (SQLite prepares each once and keeps it); Built runs the others,
	// whose text may be built per call (never kept prepared, so that they
	// cannot fill a statement cache).
	Const, Built Querier
	W            Execer   // writes of one statement
	Tx           Transact // writes of several
	Snap         Snapshot // reads that must agree
	Log          *slog.Logger
	// Timer times the statements and transactions; nil times nothing.
	Timer Timer
}

// NewShared returns the shared stores running on c.
func NewShared(c Conns) Shared {
	c = c.timed(c.Timer)
	d, r, w := c.D, c.Const, c.W
	return Shared{
		Accounts: Accounts{D: d, R: r, W: w, Tx: c.Tx, Log: c.Log},
		Roster:   Roster{D: d, R: r, W: w, Tx: c.Tx, Snap: c.Snap},
		Invites:  Invites{D: d, R: r, W: w},
		Archive:  Archive{D: d, R: r, W: w, Tx: c.Tx, Snap: c.Snap},
		Transfer: Transfer{D: d, R: c.Built},
		Quota:    Quota{D: d, R: r, W: w, Tx: c.Tx},
		Misc:     Misc{D: d, R: r, W: w},
		Offline:  Offline{D: d, R: r},
		Push:     Push{D: d, R: r, W: w, Tx: c.Tx},
		Fast:     Fast{D: d, R: r, W: w, Tx: c.Tx},
		PubSub:   PubSub{D: d, R: c.Built, W: w, Tx: c.Tx},
		MUC:      MUC{D: d, R: c.Built, W: w, Tx: c.Tx},
	}
}

// All is every store of storage.Stores in one value, as a backend's DB.
type All interface {
	storage.Accounts
	storage.Roster
	storage.Offline
	storage.VCards
	storage.Private
	storage.Blocking
	storage.LastActivity
	storage.Archive
	storage.AccountStatus
	storage.Invites
	storage.FastTokens
	storage.Push
	storage.PubSub
	storage.MUC
}

// StoresOf returns the stores of db; every field is db itself.
func StoresOf(db All) storage.Stores {
	return storage.Stores{
		Accounts: db,
		Roster:   db,
		Offline:  db,
		VCards:   db,
		Private:  db,
		Blocking: db,
		Last:     db,
		Archive:  db,
		Status:   db,
		Invites:  db,
		Fast:     db,
		Push:     db,
		PubSub:   db,
		MUC:      db,
	}
}
