package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Options configure a node (the cluster section of the configuration).
type Options struct {
	// Node is this node's name; Name the cluster's, which prefixes its
	// subjects and buckets.
	Node, Name string
	// NATS are the NATS server URLs; User, Password, Token and CredsFile
	// authenticate; CAFile, CertFile and KeyFile set up TLS.
	NATS                                               []string
	User, Password, Token, CredsFile, CAFile, CertFile string
	KeyFile                                            string
	// NodeTTL is how long a node's lease lasts without renewal.
	NodeTTL time.Duration
	// QueueBytes bounds what is queued for one other node; InboundBytes
	// what was received and not delivered yet.
	QueueBytes, InboundBytes int
	// MaxRemoteSessions bounds the sessions of other nodes in the
	// directory.
	MaxRemoteSessions int
	// MaxStanzaBytes bounds a stanza received from another node.
	MaxStanzaBytes int
	// RoomBytes bounds the saved state of one chat room (its occupants,
	// rooms.go).
	RoomBytes int
	// ResumeTimeout is the stream management resumption timeout; zero
	// turns resumption across nodes off (resume.go). NoJournal turns the
	// journal off; JournalBytes bounds it and the resume bucket,
	// JournalPerSession the entries of one session.
	ResumeTimeout time.Duration
	// HandOver detaches a resumable session of this node for a
	// resumption on another node (the stream engine's HandOver), and
	// Journaled says which stanzas the journal keeps; both are needed
	// when ResumeTimeout is set.
	HandOver          func(ctx context.Context, s *session.Session, user jid.JID, h uint32) (*session.Resumed, error)
	Journaled         func(st *stanza.Element) bool
	NoJournal         bool
	JournalBytes      int64
	JournalPerSession int
	Log               *slog.Logger
}

// Router is what a node needs of the router: routing a stanza whose
// session went away while it crossed the cluster, and the unavailable
// presence of the sessions of a node that died, in their name.
type Router interface {
	Route(ctx context.Context, st *stanza.Element)
	RouteFrom(ctx context.Context, origin *session.Session, st *stanza.Element)
	// EmitInvalidate drops what modules cache of user under topic,
	// changed by another node (module.Registrar.OnInvalidate).
	EmitInvalidate(ctx context.Context, topic string, user jid.JID)
}

// Node is this server as a member of a cluster. Make it with New, hand
// its Directory to the router, then Start it; Bound and Ended must see
// every session bound on this node (module.SessionBound and
// module.SessionEnded).
type Node struct {
	opts  Options
	self  string
	inc   string // this run's incarnation
	log   *slog.Logger
	dir   *Directory
	table *session.Table

	router          Router
	nc              *nats.Conn
	sessKV, nodesKV jetstream.KeyValue
	compKV          jetstream.KeyValue
	deliverComp     atomic.Pointer[ComponentDeliverer]
	compWatch       atomic.Pointer[ComponentWatch]
	sub             *nats.Subscription
	ctx             context.Context
	cancel          context.CancelFunc
	wg              sync.WaitGroup // peers' writers, workers, watchers
	started         time.Time
	closing         atomic.Bool
	leaving         atomic.Bool // the lease is being ended: no renewal
	rotate          atomic.Uint64

	peersMu sync.Mutex
	peers   map[string]*peer

	// mu guards the replica of the buckets and the state of the local
	// sessions. It is a leaf but for the directory's shard locks and
	// sessions' own locks, taken under it: nothing is routed, delivered
	// or sent to NATS while it is held.
	mu     sync.Mutex
	keys   map[string]*keyState
	byNode map[string]map[string]*keyState // remote keys by node
	nodes  map[string]*lease
	locals map[*session.Session]*local
	remote int // remote sessions in the directory
	// advertise are this node's client addresses, written in its lease.
	advertise []string
	// advertiseWeb are this node's web endpoints' URIs, in its lease.
	advertiseWeb []string
	// comps are the components bucket's entries by domain; ownComps the
	// revisions this node wrote for the components connected here.
	comps    map[string]*compState
	ownComps map[string]uint64
	workers  [publishWorkers]worker
	// rooms are the chat rooms' leases (rooms.go).
	rooms *roomTable
	// res is stream management across nodes (resume.go); nil when off.
	res *resumer
}

// keyState is what this node knows of a key of the sessions bucket.
type keyState struct {
	key  string
	full jid.JID
	rev  uint64
	e    entry
	pres *stanza.Element
	// remote is the session in the directory that stands for an entry
	// of another node, nil while that node is not alive.
	remote *session.Session
	// local is this node's session of the full JID, if any.
	local *local
	// created is when the entry was written; reaped when this node last
	// tried to delete it as gone.
	created, reaped time.Time
}

// New returns a node that is not connected yet, and its directory in
// front of table.
func New(opts Options, table *session.Table) (*Node, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.JournalBytes <= 0 {
		opts.JournalBytes = 256 << 20
	}
	if opts.JournalPerSession <= 0 {
		opts.JournalPerSession = 500
	}
	if opts.Node == "" || opts.Name == "" || len(opts.NATS) == 0 {
		return nil, errors.New("cluster: node name, cluster name and NATS URLs are required")
	}
	if opts.ResumeTimeout > 0 && (opts.HandOver == nil || opts.Journaled == nil) {
		return nil, errors.New("cluster: resumption across nodes needs the stream engine's HandOver and Journaled")
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("cluster: incarnation: %w", err)
	}
	n := &Node{
		opts:     opts,
		self:     opts.Node,
		inc:      hex.EncodeToString(b[:]),
		log:      opts.Log,
		dir:      NewDirectory(table),
		table:    table,
		peers:    make(map[string]*peer),
		keys:     make(map[string]*keyState),
		byNode:   make(map[string]map[string]*keyState),
		nodes:    make(map[string]*lease),
		locals:   make(map[*session.Session]*local),
		comps:    make(map[string]*compState),
		ownComps: make(map[string]uint64),
		rooms:    newRoomTable(),
	}
	for i := range n.workers {
		n.workers[i] = worker{dirty: make(map[*local]struct{}), wake: make(chan struct{}, 1)}
	}
	return n, nil
}

// Directory returns the cluster's session directory.
func (n *Node) Directory() *Directory { return n.dir }

// RemoteSessions returns the number of sessions of other nodes in the
// directory.
func (n *Node) RemoteSessions() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.remote
}

// Name returns this node's name.
func (n *Node) Name() string { return n.self }

// bucket names.
func (n *Node) sessionsBucket() string { return n.opts.Name + "_sessions" }
func (n *Node) nodesBucket() string    { return n.opts.Name + "_nodes" }

// natsOptions maps the options to the NATS client's.
func (n *Node) natsOptions() ([]nats.Option, error) {
	o := []nats.Option{
		nats.Name("parley " + n.self),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.log.Warn("cluster: disconnected from NATS", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			n.log.Info("cluster: reconnected to NATS", "server", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			// Slow consumer: inbound_bytes exceeded, NATS dropped frames.
			n.log.Error("cluster: NATS error; frames from other nodes may have been dropped", "err", err)
		}),
	}
	switch {
	case n.opts.User != "":
		o = append(o, nats.UserInfo(n.opts.User, n.opts.Password))
	case n.opts.Token != "":
		o = append(o, nats.Token(n.opts.Token))
	case n.opts.CredsFile != "":
		o = append(o, nats.UserCredentials(n.opts.CredsFile))
	}
	if n.opts.CAFile != "" {
		o = append(o, nats.RootCAs(n.opts.CAFile))
	}
	if n.opts.CertFile != "" {
		o = append(o, nats.ClientCert(n.opts.CertFile, n.opts.KeyFile))
	}
	if n.opts.CAFile != "" || n.opts.CertFile != "" {
		o = append(o, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	return o, nil
}

// Start connects to NATS, makes the buckets if they do not exist, loads
// the directory and the leases, and starts receiving from the other
// nodes. It returns once this node knows every session of the cluster;
// ctx bounds the start only.
func (n *Node) Start(ctx context.Context, r Router) error {
	n.router = r
	n.started = time.Now()
	ctx, cancelStart := context.WithTimeout(ctx, 30*time.Second)
	defer cancelStart()
	opts, err := n.natsOptions()
	if err != nil {
		return err
	}
	urls := ""
	for i, u := range n.opts.NATS {
		if i > 0 {
			urls += ","
		}
		urls += u
	}
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		return fmt.Errorf("cluster: connecting to NATS: %w", err)
	}
	n.nc = nc
	n.ctx, n.cancel = context.WithCancel(context.Background())
	fail := func(err error) error {
		n.cancel()
		nc.Close()
		n.wg.Wait()
		n.nc = nil
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fail(fmt.Errorf("cluster: JetStream: %w", err))
	}
	n.nodesKV, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: n.nodesBucket(), Description: "Parley cluster leases", History: 1, TTL: 4 * n.opts.NodeTTL,
	})
	if err != nil {
		return fail(fmt.Errorf("cluster: bucket %s: %w", n.nodesBucket(), err))
	}
	n.sessKV, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: n.sessionsBucket(), Description: "Parley cluster session directory", History: 1, MaxValueSize: maxEntryBytes,
	})
	if err != nil {
		return fail(fmt.Errorf("cluster: bucket %s: %w", n.sessionsBucket(), err))
	}
	n.compKV, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: n.componentsBucket(), Description: "Parley cluster components", History: 1, MaxValueSize: 1024,
	})
	if err != nil {
		return fail(fmt.Errorf("cluster: bucket %s: %w", n.componentsBucket(), err))
	}
	if err := n.startRooms(ctx, js); err != nil {
		return fail(err)
	}
	if err := n.renew(ctx); err != nil {
		return fail(err)
	}
	if err := n.watch(ctx, n.nodesKV, n.leaseUpdate); err != nil {
		return fail(fmt.Errorf("cluster: watching %s: %w", n.nodesBucket(), err))
	}
	if err := n.watch(ctx, n.sessKV, n.entryUpdate); err != nil {
		return fail(fmt.Errorf("cluster: watching %s: %w", n.sessionsBucket(), err))
	}
	if err := n.watch(ctx, n.compKV, n.compUpdate); err != nil {
		return fail(fmt.Errorf("cluster: watching %s: %w", n.componentsBucket(), err))
	}
	if err := n.startResume(ctx, js); err != nil {
		return fail(err)
	}
	sub, err := nc.Subscribe(nodeSubject(n.opts.Name, n.self), n.receive)
	if err != nil {
		return fail(fmt.Errorf("cluster: subscribing: %w", err))
	}
	if err := sub.SetPendingLimits(-1, n.opts.InboundBytes); err != nil {
		return fail(fmt.Errorf("cluster: subscription limits: %w", err))
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		return fail(fmt.Errorf("cluster: subscribing: %w", err))
	}
	n.sub = sub
	for i := range n.workers {
		n.wg.Go(func() { n.work(&n.workers[i]) })
	}
	n.wg.Go(n.keepLease)
	n.wg.Go(n.purgeMarkersLoop)
	// Entries of this node's earlier runs, and of nodes already dead.
	n.sweep()
	n.takeOwnRooms()
	n.log.Info("cluster: node started", "node", n.self, "cluster", n.opts.Name, "nats", nc.ConnectedUrlRedacted(),
		"nodes", len(n.Nodes()), "remote_sessions", n.RemoteSessions())
	return nil
}

// watch follows every key of kv with fn, after fn has seen the current
// values: it returns once they are loaded.
func (n *Node) watch(ctx context.Context, kv jetstream.KeyValue, fn func(jetstream.KeyValueEntry)) error {
	return n.watchKeys(ctx, kv, "", fn)
}

// watchKeys is watch for the keys matching filter ("": all).
func (n *Node) watchKeys(ctx context.Context, kv jetstream.KeyValue, filter string, fn func(jetstream.KeyValueEntry)) error {
	var w jetstream.KeyWatcher
	var err error
	if filter == "" {
		w, err = kv.WatchAll(n.ctx)
	} else {
		w, err = kv.Watch(n.ctx, filter)
	}
	if err != nil {
		return err
	}
	loaded := make(chan struct{})
	n.wg.Go(func() {
		defer w.Stop()
		first := true
		for {
			select {
			case <-n.ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					if n.ctx.Err() == nil {
						n.log.Error("cluster: a watch of the buckets ended", "bucket", kv.Bucket())
					}
					return
				}
				if e == nil {
					if first {
						first = false
						close(loaded)
					}
					continue
				}
				fn(e)
			}
		}
	})
	select {
	case <-loaded:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// receive handles a frame from another node, on the subscription's
// goroutine (frames are handled in the order they arrived).
func (n *Node) receive(m *nats.Msg) {
	f, err := parseFrame(m, n.opts.MaxStanzaBytes)
	if err != nil {
		n.log.Warn("cluster: bad frame from another node", "node", m.Header.Get(hdrFrom), "err", err)
		return
	}
	if f.op == opInvalidate {
		n.router.EmitInvalidate(n.ctx, f.topic, f.to)
		return
	}
	if f.op == opReply {
		n.router.Route(n.ctx, f.st)
		return
	}
	if f.op == opComponent {
		n.deliverComponent(f)
		return
	}
	if f.op == opRoom {
		n.deliverRoom(f)
		return
	}
	if f.op == opSync {
		n.synced(m)
		return
	}
	if f.op == opLeave {
		if f.node != n.self {
			n.left(m, f.node)
		}
		return
	}
	s := n.table.Get(f.to)
	switch f.op {
	case opClose:
		if s != nil {
			n.log.Info("cluster: another node ends a session", "node", f.node, "session", f.to, "condition", f.cond)
			s.Conn().Close(&stream.Error{Condition: f.cond})
		}
	case opDeliver:
		if s != nil {
			err := s.Deliver(f.st)
			if err == nil {
				return
			}
			n.log.Warn("cluster: delivery from another node failed", "node", f.node, "to", f.to, "err", err)
		}
		n.undelivered(f)
	}
}

// undelivered handles a stanza for a session that is no longer bound
// here (it ended while the stanza crossed the cluster) or did not take
// it: what a router does for a full JID without a session (RFC 6121
// §8.5.3.2), so that no message is lost.
func (n *Node) undelivered(f frame) {
	st := f.st
	switch stanza.KindOf(st) {
	case stanza.KindMessage:
		switch st.MessageType() {
		case stanza.TypeError, stanza.TypeGroupchat, stanza.TypeHeadline:
			n.log.Debug("cluster: message for a gone session dropped", "to", f.to, "type", st.MessageType())
			return
		}
		if n.dir.remoteGet(f.to) != nil {
			// Another node holds the resource now; the sender's node
			// will know it soon. Routing it here would send it back.
			n.log.Warn("cluster: message for a session that moved to another node: routed to the account", "to", f.to)
		}
		// As if sent to the bare JID (§8.5.3.2.1): another resource, or
		// offline storage.
		c := st.Clone()
		c.Set("to", f.to.Bare().String())
		n.router.Route(n.ctx, c)
	case stanza.KindIQ:
		if st.IsRequest() {
			reply := stanza.ErrorReply(st, stanza.Err(stanza.ServiceUnavailable))
			if reply.From() == "" {
				reply.Set("from", f.to.String())
			}
			n.router.Route(n.ctx, reply)
		}
	default:
		n.log.Debug("cluster: presence for a gone session ignored", "to", f.to)
	}
}

// Invalidate tells every other live node that stored data of user that
// modules cache under topic changed (router.Invalidator). It goes through
// the queues of the stanzas, so that a stanza this node routes after it
// reaches a node after the invalidation.
func (n *Node) Invalidate(topic string, user jid.JID) {
	if len(topic) > maxTopic || topic == "" {
		n.log.Error("cluster: invalidation topic out of bounds", "topic", topic)
		return
	}
	for _, name := range n.aliveNodes() {
		if p := n.peer(name); p != nil {
			if err := p.enqueue(invalidateMsg(p.subject, n.self, user, topic)); err != nil {
				n.log.Error("cluster: invalidation not sent; the node may serve stale cached data", "node", name, "topic", topic, "user", user, "err", err)
			}
		}
	}
}

// aliveNodes lists the other nodes whose lease is current.
func (n *Node) aliveNodes() []string {
	var alive []string
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, l := range n.nodes {
		if l.alive {
			alive = append(alive, name)
		}
	}
	return alive
}

// ForwardReply sends an IQ answer that reached this node to the node
// that sent the IQ (router.ReplyForwarder).
func (n *Node) ForwardReply(node string, st *stanza.Element) {
	p := n.peer(node)
	if p == nil {
		return
	}
	if err := p.enqueue(replyMsg(p.subject, n.self, st)); err != nil {
		n.log.Warn("cluster: IQ answer not forwarded", "node", node, "id", st.ID(), "err", err)
	}
}

// Close leaves the cluster: it writes what the sessions that ended left
// to write (at most until ctx ends), ends its lease so that the others
// forget this node's sessions at once, and disconnects.
func (n *Node) Close(ctx context.Context) {
	if n.nc == nil || !n.closing.CompareAndSwap(false, true) {
		return
	}
	n.flush(ctx)
	n.leaveComponents(ctx)
	n.leaveRooms(ctx)
	n.waitPeers(ctx)
	n.leaving.Store(true)
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if err := n.nodesKV.Delete(dctx, n.self); err != nil {
		n.log.Warn("cluster: ending the lease", "err", err)
	}
	cancel()
	// Still subscribed: what the others routed here meanwhile is
	// received, and rerouted (undelivered).
	n.leaveOthers(ctx)
	if n.sub != nil {
		// Handle what was received before unsubscribing: the frames the
		// others sent before their answers.
		closed := n.sub.StatusChanged(nats.SubscriptionClosed)
		if err := n.sub.Drain(); err != nil {
			n.log.Warn("cluster: draining the subscription", "err", err)
			n.sub.Unsubscribe()
		} else {
			select {
			case <-closed:
			case <-ctx.Done():
				n.log.Warn("cluster: frames from other nodes left unhandled at shutdown")
			}
		}
	}
	// What was rerouted meanwhile.
	n.waitPeers(ctx)
	n.cancel()
	for i := range n.workers {
		select {
		case n.workers[i].wake <- struct{}{}:
		default:
		}
	}
	n.nc.Flush()
	n.nc.Close()
	n.wg.Wait()
	n.log.Info("cluster: node left the cluster", "node", n.self)
}

// waitPeers lets the peers' writers send what they hold, at most until
// ctx ends.
func (n *Node) waitPeers(ctx context.Context) {
	for {
		n.peersMu.Lock()
		busy := false
		for _, p := range n.peers {
			p.mu.Lock()
			busy = busy || p.running
			p.mu.Unlock()
		}
		n.peersMu.Unlock()
		if !busy || ctx.Err() != nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
