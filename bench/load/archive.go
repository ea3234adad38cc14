package load

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/xmpp/mam"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// archivePage is the page size the archive check asks for: Prosody
// answers at most 50 messages a query (max_archive_query_results).
const archivePage = 50

// maxArchivePages bounds the queries of one archive check.
const maxArchivePages = 100000

// maxRecorded bounds the bodies recorded per sampled session; past it
// the check is incomplete (reported, never silently partial).
const maxRecorded = 1 << 20

// ArchiveCheck is the outcome of the chat scenario's archive check
// (Config.VerifyArchive): after the traffic, the archives of a sample of
// accounts (whole chat pairs) are read back with MAM (XEP-0313) and every
// message delivered to a sampled account during the run is looked for
// in its recipient's archive (incoming) and its sender's (outgoing).
type ArchiveCheck struct {
	// Accounts is how many accounts' archives were read, Queries the MAM
	// queries that took.
	Accounts int `json:"accounts"`
	Queries  int `json:"queries"`
	// Delivered is how many delivered messages were looked for, each in
	// two archives.
	Delivered int64 `json:"delivered"`
	// Missing counts (message, archive) pairs where a delivered message
	// is not in an archive that should hold it; Duplicates the copies
	// beyond the first of a message in one archive.
	Missing    int64 `json:"missing"`
	Duplicates int64 `json:"duplicates"`
	// Undelivered counts messages of the run found in an archive that
	// the sampled recipient never received (lost messages, archived
	// anyway); they are not errors of the archive.
	Undelivered int64 `json:"undelivered"`
	// Incomplete says why the check could not look at everything (then
	// it does not vouch for the archives); empty when complete.
	Incomplete string `json:"incomplete,omitempty"`
}

// OK reports whether every delivered message looked for was archived
// exactly once in each archive that should hold it.
func (c *ArchiveCheck) OK() bool {
	return c != nil && c.Incomplete == "" && c.Accounts > 0 && c.Missing == 0 && c.Duplicates == 0
}

// String describes the check in one line.
func (c *ArchiveCheck) String() string {
	s := fmt.Sprintf("%d accounts (%d queries): %d delivered messages looked for in 2 archives each, %d missing, %d duplicates, %d archived but undelivered",
		c.Accounts, c.Queries, c.Delivered, c.Missing, c.Duplicates, c.Undelivered)
	if c.Incomplete != "" {
		s += "; INCOMPLETE: " + c.Incomplete
	}
	return s
}

// deliveryLog records the bodies delivered to the sampled sessions: the
// first n sessions of a run (n even: whole pairs). It is safe for
// concurrent use.
type deliveryLog struct {
	mu        sync.Mutex
	bodies    [][]string // by session position
	truncated bool
}

// newDeliveryLog returns a log of the first n session positions.
func newDeliveryLog(n int) *deliveryLog { return &deliveryLog{bodies: make([][]string, n)} }

// record notes body delivered to the session at position pos (ignored
// outside the sample).
func (l *deliveryLog) record(pos int, body string) {
	if pos < 0 || pos >= len(l.bodies) {
		return
	}
	l.mu.Lock()
	if len(l.bodies[pos]) < maxRecorded {
		l.bodies[pos] = append(l.bodies[pos], body)
	} else {
		l.truncated = true
	}
	l.mu.Unlock()
}

// archivedBody is one message of the run found in an archive: its body
// and the position of its sender (from the payload).
type archivedBody struct {
	body   string
	sender int
}

// compareArchives checks the archives of the sampled positions against
// what was delivered. delivered[pos] are the bodies delivered to
// position pos (sent by its partner pos^1); archives[pos] are the run's
// messages found in pos's archive. Each delivered body must be once in
// the recipient's archive and once in the sender's.
func compareArchives(delivered [][]string, archives [][]archivedBody) ArchiveCheck {
	var c ArchiveCheck
	c.Accounts = len(archives)
	// counts[pos][body] = copies of body in pos's archive.
	counts := make([]map[string]int, len(archives))
	for pos, a := range archives {
		counts[pos] = make(map[string]int, len(a))
		for _, m := range a {
			counts[pos][m.body]++
		}
	}
	check := func(pos int, body string) {
		switch n := counts[pos][body]; {
		case n == 0:
			c.Missing++
		case n > 1:
			c.Duplicates += int64(n - 1)
		}
	}
	wanted := make([]map[string]bool, len(archives))
	for pos := range archives {
		wanted[pos] = map[string]bool{}
	}
	for pos, bodies := range delivered {
		sender := pos ^ 1
		if pos >= len(archives) || sender >= len(archives) {
			continue
		}
		for _, b := range bodies {
			c.Delivered++
			check(pos, b)
			check(sender, b)
			wanted[pos][b] = true
			wanted[sender][b] = true
		}
	}
	// Messages of the run in an archive that no sampled recipient got:
	// counted once, in the recipient's archive (its sender's holds it too).
	for pos, a := range archives {
		seen := map[string]bool{}
		for _, m := range a {
			if m.sender != pos^1 || wanted[pos][m.body] || seen[m.body] {
				continue
			}
			seen[m.body] = true
			c.Undelivered++
		}
	}
	return c
}

// sentSince returns the bodies of delivered sent at or after start:
// those of the run, not messages of an earlier run that waited offline
// and came at the sessions' login.
func sentSince(delivered [][]string, start time.Time) [][]string {
	out := make([][]string, len(delivered))
	for pos, bodies := range delivered {
		for _, b := range bodies {
			if sent, _, ok := parsePayload(b); ok && !sent.Before(start) {
				out[pos] = append(out[pos], b)
			}
		}
	}
	return out
}

// runBody returns the archived body of a message of the run: a payload
// sent at or after start by the pair (pos, pos^1); ok is false for
// anything else (earlier runs, other pairs).
func runBody(body string, pos int, start time.Time) (archivedBody, bool) {
	sent, idx, ok := parsePayload(body)
	if !ok || sent.Before(start) || (idx != pos && idx != pos^1) {
		return archivedBody{}, false
	}
	return archivedBody{body: body, sender: idx}, true
}

// checkArchives logs the sampled accounts in again (without presence),
// reads each one's archive from start on and compares it with log. The
// positions are those of the run, whose account indexes start at First.
func (r *runner) checkArchives(ctx context.Context, log *deliveryLog, start time.Time) *ArchiveCheck {
	n := len(log.bodies)
	archives := make([][]archivedBody, n)
	queries, read := 0, 0
	var incomplete []string
	for pos := range n {
		got, q, err := r.readArchive(ctx, pos, start)
		queries += q
		if err != nil {
			// A server that cannot log one account in or answer its
			// queries in time is still working off a backlog: the check
			// stops there rather than wait as long again for each.
			incomplete = append(incomplete, err.Error())
			break
		}
		archives[pos] = got
		read++
	}
	log.mu.Lock()
	c := compareArchives(sentSince(log.bodies, start), archives)
	truncated := log.truncated
	log.mu.Unlock()
	c.Queries, c.Accounts = queries, read
	if truncated {
		incomplete = append(incomplete, fmt.Sprintf("more than %d deliveries to one sampled session: not all recorded", maxRecorded))
	}
	if len(incomplete) > 0 {
		c.Incomplete = fmt.Sprint(incomplete)
	}
	return &c
}

// readArchive logs account position pos in and pages through its archive
// from start on (a second early: the server's stamps and ours may
// differ), keeping the run's messages of pos's pair. It returns them and
// the number of queries.
func (r *runner) readArchive(ctx context.Context, pos int, start time.Time) ([]archivedBody, int, error) {
	lctx, cancel := context.WithTimeout(ctx, r.cfg.LoginTimeout)
	idx := r.cfg.First + pos
	s, err := r.cfg.Dialer.Login(lctx, idx, r.cfg.Account(idx), LoginOptions{NoPresence: true})
	cancel()
	if err != nil {
		return nil, 0, fmt.Errorf("archive check: login of account %d: %w", idx, err)
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var out []archivedBody
	after := ""
	for q := 1; q <= maxArchivePages; q++ {
		mq := mam.NewQuery()
		mq.QueryID = "check" + strconv.Itoa(q)
		mq.Start = start.Add(-time.Second)
		mq.RSM.Max = archivePage
		if after != "" {
			mq.RSM.After, mq.RSM.HasAfter = after, true
		}
		s.conn.SetDeadline(time.Now().Add(setupTimeout))
		results, fin, err := s.mamQuery(mq)
		if err != nil {
			return nil, q, fmt.Errorf("archive check: account %d: %w", idx, err)
		}
		for _, m := range results {
			if b, ok := runBody(m.ChildText(stanza.NSClient, "body"), pos, start); ok {
				out = append(out, b)
			}
		}
		if fin.Complete || len(results) == 0 || fin.Set.Last == "" {
			return out, q, nil
		}
		after = fin.Set.Last
	}
	return nil, maxArchivePages, fmt.Errorf("archive check: account %d: more than %d pages", idx, maxArchivePages)
}

// mamQuery sends an archive query and reads its results until the IQ
// that ends it; it returns the archived messages (the <message/> inside
// each <forwarded/>) in the order received and the <fin/>. Anything else
// read meanwhile is dropped: the session has no other reader.
func (s *Session) mamQuery(q mam.Query) ([]*stanza.Element, mam.Fin, error) {
	id := "q-" + q.QueryID
	if err := s.write(stanza.NewIQ(stanza.TypeSet, id, "", q.Element())); err != nil {
		return nil, mam.Fin{}, err
	}
	var msgs []*stanza.Element
	for {
		el, err := s.next()
		if err != nil {
			return nil, mam.Fin{}, err
		}
		switch stanza.KindOf(el) {
		case stanza.KindMessage:
			res, ok, err := mam.ParseResult(el)
			if !ok || res.QueryID != q.QueryID {
				continue
			}
			if err != nil {
				return nil, mam.Fin{}, fmt.Errorf("MAM result: %w", err)
			}
			msgs = append(msgs, res.Message)
		case stanza.KindIQ:
			if el.ID() != id {
				continue
			}
			if el.Type() == stanza.TypeError {
				return nil, mam.Fin{}, fmt.Errorf("MAM query refused: %s", errorCondition(el))
			}
			fin, err := mam.ParseFin(el.Child(mam.NS, "fin"))
			if err != nil {
				return nil, mam.Fin{}, err
			}
			return msgs, fin, nil
		}
	}
}
