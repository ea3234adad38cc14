package modules

import (
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/privilege"
)

// Components returns the configured external components with their
// grants (XEP-0356) and delegations (XEP-0355), for the modules that
// honour them and for the advertisements components receive.
func Components(cfg *config.Config) module.Components {
	out := make(module.Components, 0, len(cfg.Components))
	for _, c := range cfg.Components {
		p := c.Privileges
		g := privilege.Grants{
			Roster:     access(p.Roster),
			RosterPush: p.RosterPush,
			Message:    p.Message == config.MessageOutgoing,
			Presence:   privilege.PresenceNone,
		}
		switch p.Presence {
		case config.PresenceManaged:
			g.Presence = privilege.PresenceManaged
		case config.PresenceRoster:
			g.Presence = privilege.PresenceRoster
		}
		if len(p.IQ) > 0 {
			g.IQ = make(map[string]privilege.Access, len(p.IQ))
			for ns, a := range p.IQ {
				g.IQ[ns] = access(a)
			}
		}
		out = append(out, module.Component{Domain: c.Domain, Grants: g, Delegations: c.Delegations})
	}
	return out
}

// access converts a configured access value; unset is none.
func access(v string) privilege.Access {
	switch v {
	case config.AccessGet, config.AccessSet, config.AccessBoth:
		return privilege.Access(v)
	}
	return privilege.None
}
