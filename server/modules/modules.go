// Package modules is the explicit, ordered list of the server's modules.
// Nothing registers itself: adding a feature means adding a line here.
package modules

import (
	"path/filepath"
	"slices"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/account"
	"github.com/parley-xmpp/parley/server/mod/adhoc"
	"github.com/parley-xmpp/parley/server/mod/blocking"
	"github.com/parley-xmpp/parley/server/mod/carbons"
	"github.com/parley-xmpp/parley/server/mod/disco"
	"github.com/parley-xmpp/parley/server/mod/entitytime"
	"github.com/parley-xmpp/parley/server/mod/extdisco"
	"github.com/parley-xmpp/parley/server/mod/last"
	"github.com/parley-xmpp/parley/server/mod/mam"
	"github.com/parley-xmpp/parley/server/mod/muc"
	"github.com/parley-xmpp/parley/server/mod/offline"
	"github.com/parley-xmpp/parley/server/mod/ping"
	"github.com/parley-xmpp/parley/server/mod/private"
	"github.com/parley-xmpp/parley/server/mod/privilege"
	"github.com/parley-xmpp/parley/server/mod/proxy65"
	"github.com/parley-xmpp/parley/server/mod/pubsub"
	"github.com/parley-xmpp/parley/server/mod/push"
	"github.com/parley-xmpp/parley/server/mod/roster"
	"github.com/parley-xmpp/parley/server/mod/serverinfo"
	"github.com/parley-xmpp/parley/server/mod/upload"
	"github.com/parley-xmpp/parley/server/mod/vcard"
	"github.com/parley-xmpp/parley/server/mod/version"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/storage"
	uploadstore "github.com/parley-xmpp/parley/server/upload"
)

// Version is the server's software version, reported by XEP-0092 and
// `parley version`.
const Version = "0.1.0"

// Default returns the modules of a standard server, in registration order,
// built from the server-wide settings of cfg (quotas, admins, limits).
// Modules with settings of their own (modules.<name>) still have to be
// given their sections: see [ConfigDecoders] and module.Configurable.
// Blocking comes before roster so that its hooks see stanzas first (hooks
// are ordered by priority, and within one priority by registration).
func Default(cfg *config.Config) []module.Module {
	q := cfg.Quotas
	comps := Components(cfg)
	mods := []module.Module{
		blocking.New(blocking.Options{MaxItems: q.BlockItems}),
		roster.New(roster.Options{MaxItems: q.RosterItems, MaxPending: q.PendingSubscriptions, Components: comps}),
		disco.New("Parley"),
		ping.New(),
		version.New("Parley", Version, false),
		entitytime.New(),
		vcard.New(q.VCardBytes),
		private.New(private.Options{Quota: storage.Quota{Count: q.PrivateEntries, Bytes: int64(q.PrivateBytes)}}),
		last.New(),
		pubsub.New(pubsub.Options{MaxNodes: q.PubSubNodes, MaxItems: q.PubSubItems, MaxPayload: q.PubSubItemBytes, MaxBytes: int64(q.PubSubBytes)}),
		adhoc.New(cfg.Admins),
		account.New(),
		serverinfo.New(cfg.ContactAddresses, cfg.ServerInfo),
		carbons.New(),
		push.New(push.Options{MaxRegistrations: q.PushRegistrations}),
		upload.New(uploadstore.Options{Dir: filepath.Join(cfg.DataDir, "upload"), BaseURL: "https://" + cfg.Domains[0] + ":5443"}),
		mam.New(mam.Options{Quota: storage.Quota{Count: q.ArchiveMessages, Bytes: int64(q.ArchiveBytes)}}),
		muc.New(muc.Options{Admins: cfg.Admins}),
		// What external components may do beyond their domains
		// (XEP-0356, XEP-0355); with none, it refuses privileged stanzas.
		privilege.New(privilege.Options{Components: comps}),
		// External service discovery (XEP-0215), with the built-in
		// STUN/TURN server on the turn and turns listeners (present by
		// default) and an external server when configured.
		extdisco.New(extdisco.Options{SecretFile: filepath.Join(cfg.DataDir, "turn_secret")}),
	}
	// The file transfer proxy runs where a proxy65 listener is
	// configured (one is by default).
	for _, l := range cfg.Listeners {
		if l.Type == config.ListenerProxy65 {
			mods = append(mods, proxy65.New(proxy65.Options{}))
			break
		}
	}
	// limits.offline_messages 0 turns offline storage off: messages to
	// an account without an available resource bounce (RFC 6121
	// §8.5.2.2.1). The module comes right after roster, as it always did.
	if cfg.Limits.OfflineMessages > 0 {
		mods = slices.Insert(mods, 2, module.Module(offline.New(offline.Options{MaxBytes: int64(q.OfflineBytes)})))
	}
	return mods
}

// ConfigDecoders returns the section decoders of the configurable modules
// of [Default] for cfg, for config.LoadModules: it lets a configuration
// file be checked whole, the modules' sections included, before the
// server starts.
func ConfigDecoders(cfg *config.Config) map[string]config.SectionDecoder {
	return module.ConfigDecoders(Default(cfg))
}
