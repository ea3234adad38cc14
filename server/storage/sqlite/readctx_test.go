package sqlite

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// doneCounter is a context that counts who asks for its Done channel:
// database/sql and modernc.org/sqlite do, each to start a goroutine that
// watches it for the length of a query.
type doneCounter struct {
	context.Context
	n atomic.Int32
}

func (c *doneCounter) Done() <-chan struct{} {
	c.n.Add(1)
	return c.Context.Done()
}

// The constant reads of the login path run without their context's
// cancellation (no watcher goroutines per query), and a context already
// ended still fails them.
func TestConstReadsUncancellable(t *testing.T) {
	db := openTemp(t)
	user := jid.MustParse("carol@localhost")
	key := storage.SCRAMKey{Hash: "SHA-1", Salt: []byte("salt"), Iterations: 4096, StoredKey: []byte("s"), ServerKey: []byte("k")}
	if err := db.CreateAccount(t.Context(), user, []storage.SCRAMKey{key}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dc := &doneCounter{Context: ctx}
	keys, _, err := db.LoginKeys(dc, user)
	if err != nil || len(keys) != 1 {
		t.Fatalf("LoginKeys: %v, %d keys", err, len(keys))
	}
	if _, err := db.Disabled(dc, user); err != nil {
		t.Fatalf("Disabled: %v", err)
	}
	if n := dc.n.Load(); n != 0 {
		t.Errorf("the context's Done asked %d times: a watcher per query", n)
	}

	cancel()
	if _, _, err := db.LoginKeys(ctx, user); !errors.Is(err, context.Canceled) {
		t.Errorf("LoginKeys with an ended context: %v, want context.Canceled", err)
	}
	if _, err := db.Disabled(ctx, user); !errors.Is(err, context.Canceled) {
		t.Errorf("Disabled with an ended context: %v, want context.Canceled", err)
	}
}
