package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/cluster"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/muc"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/server/web"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// newClusterNode makes this server's cluster node (cluster.enabled), not
// connected yet: its directory goes to the router.
func (a *App) newClusterNode(table *session.Table) (*cluster.Node, error) {
	c := a.cfg.Cluster
	name, err := c.NodeName()
	if err != nil {
		return nil, fmt.Errorf("cluster: node name: %w", err)
	}
	return cluster.New(cluster.Options{
		Node: name, Name: c.Name, NATS: c.NATS,
		User: c.User, Password: c.Password, Token: c.Token, CredsFile: c.CredsFile,
		CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile,
		NodeTTL: c.NodeTTL, QueueBytes: c.QueueBytes, InboundBytes: c.InboundBytes,
		MaxRemoteSessions: c.MaxRemoteSessions, MaxStanzaBytes: a.cfg.Limits.MaxStanzaBytes, RoomBytes: c.RoomBytes,
		ResumeTimeout: clusterResumeTimeout(a.cfg), NoJournal: !c.Journal,
		JournalBytes: int64(c.JournalBytes), JournalPerSession: a.cfg.StreamManagement.MaxUnacked,
		HandOver: stream.HandOver, Journaled: stream.Journaled,
		Log: a.log.With("component", "cluster"),
	}, table)
}

// c2sStreamManagement is the stream management of client streams, with
// resumption across nodes in a cluster.
func (a *App) c2sStreamManagement() stream.StreamManagement {
	sm := c2sStreamManagement(a.cfg.StreamManagement)
	if a.cluster != nil {
		sm.Cluster = a.cluster.Resumer()
		sm.DrainWait = disabledIfZero(a.cfg.Cluster.DrainWait)
	}
	return sm
}

// clusterResumeTimeout is the resumption timeout sessions may resume on
// another node within, zero when they may not.
func clusterResumeTimeout(cfg *config.Config) time.Duration {
	sm := cfg.StreamManagement
	if !cfg.Cluster.Resume || !sm.Enabled || sm.ResumeTimeout <= 0 {
		return 0
	}
	return sm.ResumeTimeout
}

// warnUnclustered logs the features that do not span the cluster yet
// (docs/cluster.md, "Not done yet"), when enabled.
func (a *App) warnUnclustered() {
	for _, m := range a.modules {
		switch m.Name() {
		case "upload":
			a.log.Warn("cluster: uploaded files are stored in this node's data folder: share it between nodes", "module", "upload")
		}
	}
}

// clusterRooms makes the MUC module, when enabled, serve its rooms as a
// cluster node: each room on the node holding its lease.
func (a *App) clusterRooms() {
	for _, m := range a.modules {
		if mm, ok := m.(*muc.Module); ok {
			mm.SetCluster(a.cluster.Rooms())
			a.cluster.SetRooms(mm)
		}
	}
}

// advertise returns the client addresses this node advertises to the
// others (cluster.advertise, or the c2s listeners', STARTTLS first, the
// host name standing for an unspecified IP).
func (a *App) advertise() []string {
	if len(a.cfg.Cluster.Advertise) > 0 {
		return a.cfg.Cluster.Advertise
	}
	return a.listenerHosts("c2s", config.ListenerC2S, config.ListenerC2STLS)
}

// advertiseWeb returns the URIs of this node's WebSocket and BOSH
// endpoints it advertises to the others (cluster.advertise_web, or the
// https then http listeners').
func (a *App) advertiseWeb() []string {
	if len(a.cfg.Cluster.AdvertiseWeb) > 0 {
		return a.cfg.Cluster.AdvertiseWeb
	}
	var out []string
	for _, hp := range a.listenerHosts("https", config.ListenerHTTPS) {
		out = append(out, "wss://"+hp+web.PathWebSocket, "https://"+hp+web.PathBOSH)
	}
	for _, hp := range a.listenerHosts("http", config.ListenerHTTP) {
		out = append(out, "ws://"+hp+web.PathWebSocket, "http://"+hp+web.PathBOSH)
	}
	return out
}

// listenerHosts returns the addresses (host:port) of the listeners of
// the types, the host name standing for an unspecified IP.
func (a *App) listenerHosts(what string, types ...config.ListenerType) []string {
	var out []string
	host := ""
	for _, t := range types {
		for _, addr := range a.Addrs(t) {
			ta, ok := addr.(*net.TCPAddr)
			if !ok {
				continue
			}
			h := ta.IP.String()
			if ta.IP.IsUnspecified() {
				if host == "" {
					var err error
					if host, err = os.Hostname(); err != nil || host == "" {
						a.log.Warn("cluster: no host name to advertise for the "+what+" listeners bound to every address; set cluster.advertise or cluster.advertise_web", "err", err)
						continue
					}
				}
				h = host
			}
			out = append(out, net.JoinHostPort(h, strconv.Itoa(ta.Port)))
		}
	}
	return out
}

// webRedirect returns where a stopping node sends its web clients of
// kind (cluster.WebSocket, cluster.BOSH): another live node's endpoint,
// none outside a cluster.
func (a *App) webRedirect(kind string) func(overTLS bool) string {
	return func(overTLS bool) string {
		if a.cluster == nil {
			return ""
		}
		return a.cluster.OtherWeb(kind, overTLS)
	}
}

// drainError is the stream error that ends a client's stream when this
// server stops: <see-other-host/> naming another live node of the
// cluster, or nil (<system-shutdown/>) when there is none.
func (a *App) drainError() *xstream.Error {
	if a.cluster == nil {
		return nil
	}
	other := a.cluster.OtherHost()
	if other == "" {
		return nil
	}
	return &xstream.Error{Condition: xstream.SeeOtherHost, OtherHost: other, Text: "this server is stopping"}
}

// Cluster returns the cluster node, nil unless cluster.enabled.
func (a *App) Cluster() *cluster.Node { return a.cluster }

// clusterStatus lists the cluster's nodes for `parley status`.
func (a *App) clusterStatus() []admin.ClusterNode {
	var out []admin.ClusterNode
	comps := map[string][]string{}
	for domain, node := range a.cluster.Components() {
		comps[node] = append(comps[node], domain)
	}
	for _, n := range a.cluster.Nodes() {
		slices.Sort(comps[n.Name])
		out = append(out, admin.ClusterNode{Name: n.Name, Self: n.Self, Alive: n.Alive, Started: n.Started, Renewed: n.Renewed, Sessions: n.Sessions, Components: comps[n.Name], Rooms: n.Rooms})
	}
	return out
}

// clusterEvents tells the cluster node of the sessions bound and ended on
// this node. It is the app's, not a feature: registered first, whatever
// modules are enabled.
type clusterEvents struct{ node *cluster.Node }

func (clusterEvents) Name() string { return "cluster" }

func (m clusterEvents) Register(r module.Registrar) error {
	r.OnSession(module.SessionBound, func(_ context.Context, s *session.Session) { m.node.Bound(s) })
	r.OnSession(module.SessionEnded, func(_ context.Context, s *session.Session) { m.node.Ended(s) })
	return nil
}
