package app

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/cluster"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/session"
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
		MaxRemoteSessions: c.MaxRemoteSessions, MaxStanzaBytes: a.cfg.Limits.MaxStanzaBytes,
		Log: a.log.With("component", "cluster"),
	}, table)
}

// warnUnclustered logs the features that do not span the cluster yet
// (docs/cluster.md, "Not done yet"), when enabled.
func (a *App) warnUnclustered() {
	for _, m := range a.modules {
		switch m.Name() {
		case "muc":
			a.log.Warn("cluster: chat rooms are not shared between nodes yet: users joining a room through different nodes are in different rooms", "module", "muc")
		case "upload":
			a.log.Warn("cluster: uploaded files are stored in this node's data folder: share it between nodes", "module", "upload")
		}
	}
	if len(a.cfg.Components) > 0 {
		a.log.Warn("cluster: an external component serves the users of the node it connects to only")
	}
}

// Cluster returns the cluster node, nil unless cluster.enabled.
func (a *App) Cluster() *cluster.Node { return a.cluster }

// clusterStatus lists the cluster's nodes for `parley status`.
func (a *App) clusterStatus() []admin.ClusterNode {
	var out []admin.ClusterNode
	for _, n := range a.cluster.Nodes() {
		out = append(out, admin.ClusterNode{Name: n.Name, Self: n.Self, Alive: n.Alive, Started: n.Started, Renewed: n.Renewed, Sessions: n.Sessions})
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
