// Command archivelat measures how long archiving a chat message takes on
// SQLite at a fixed rate, the archive writer alone (no network, no
// XMPP): each message is two archived rows (the sender's copy and the
// recipient's, among -users accounts) appended in one wait, as the MAM
// module does. It prints the p50, p99 and maximum of those waits and,
// with -stalls, when the waits longer than that bound began, and, with
// -wal, the WAL file's size as it grows (it stops growing once the WAL
// starts over). Run it pinned to one core (taskset) for figures
// comparable with the server's.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/archive"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func main() {
	rate := flag.Float64("rate", 811, "chat messages per second")
	dur := flag.Duration("duration", 20*time.Second, "length of the run")
	users := flag.Int("users", 1000, "accounts the messages go between (even)")
	stalls := flag.Duration("stalls", 0, "list the waits longer than this (0: none)")
	wal := flag.Bool("wal", false, "print the WAL file's size at each MiB it grows")
	flag.Parse()
	if err := run(*rate, *dur, *users, *stalls, *wal); err != nil {
		log.Fatal(err)
	}
}

// wait is one message's wait for its archive.
type wait struct {
	at time.Duration // since the start
	d  time.Duration
}

func run(rate float64, dur time.Duration, users int, stalls time.Duration, wal bool) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "archivelat")
	if err != nil {
		return fmt.Errorf("archivelat: %w", err)
	}
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "parley.db"), nil)
	if err != nil {
		return fmt.Errorf("archivelat: %w", err)
	}
	defer db.Close()
	w := archive.NewWriter("mam", db, slog.New(slog.DiscardHandler), storage.Quota{})
	start := time.Now()
	if wal {
		go watchWAL(filepath.Join(dir, "parley.db-wal"), start, dur)
	}
	var (
		mu    sync.Mutex
		waits []wait
		wg    sync.WaitGroup
	)
	body := strings.Repeat("x", 100)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for n := 0; time.Since(start) < dur; n++ {
		<-tick.C
		wg.Go(func() {
			from := jid.MustParse(fmt.Sprintf("user%d@localhost", (2*n)%users))
			to := jid.MustParse(fmt.Sprintf("user%d@localhost", (2*n+1)%users))
			st := stanza.NewMessage(stanza.TypeChat, to.String(), fmt.Sprint(n, " ", body))
			t0 := time.Now()
			es := []archive.Entry{
				w.Prepare(from, storage.ArchivedMessage{ID: fmt.Sprint("o", n), With: to, Outgoing: true}, st, t0),
				w.Prepare(to, storage.ArchivedMessage{ID: fmt.Sprint("i", n), With: from}, st, t0),
			}
			errs := make([]error, len(es))
			w.AppendEntries(ctx, es, errs)
			d := time.Since(t0)
			for _, err := range errs {
				if err != nil {
					log.Print(err)
				}
			}
			mu.Lock()
			waits = append(waits, wait{at: t0.Sub(start), d: d})
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(waits) == 0 {
		return nil
	}
	ds := make([]time.Duration, len(waits))
	for i, x := range waits {
		ds[i] = x.d
	}
	slices.Sort(ds)
	fmt.Printf("messages %d, p50 %v, p99 %v, max %v\n", len(ds), ds[len(ds)/2], ds[len(ds)*99/100], ds[len(ds)-1])
	if stalls > 0 {
		slices.SortFunc(waits, func(a, b wait) int { return int(a.at - b.at) })
		for _, x := range waits {
			if x.d > stalls {
				fmt.Printf("wait of %v at %.3f s\n", x.d, x.at.Seconds())
			}
		}
	}
	return nil
}

// watchWAL prints the size of the WAL file at path each time it passes
// another MiB, until dur has passed since start.
func watchWAL(path string, start time.Time, dur time.Duration) {
	var last int64
	for time.Since(start) < dur {
		time.Sleep(20 * time.Millisecond)
		fi, err := os.Stat(path)
		if err != nil {
			continue
		}
		if fi.Size()>>20 != last>>20 {
			fmt.Printf("WAL %d MiB at %.3f s\n", fi.Size()>>20, time.Since(start).Seconds())
		}
		last = fi.Size()
	}
}
