// Package pubsub is the server module for XEP-0060 (Publish-Subscribe) and
// XEP-0163 (Personal Eventing Protocol): every account is a PEP service at
// its bare JID, and each served domain gets a generic pubsub service at
// "<prefix>.<domain>" (prefix "pubsub" by default).
//
// Supported: node creation (named and instant, with a configuration form),
// configuration (get/set/default), deletion and purge with notifications,
// publishing with generated item ids, auto-create and XEP-0223
// publish-options preconditions (<conflict/> with <precondition-not-met/>),
// retraction with notification, subscribe/unsubscribe, item retrieval by
// max_items or id, subscriptions and affiliations for entities and owners,
// the open, presence, roster and whitelist access models, persist_items,
// max_items and send_last_published_item.
//
// PEP notifications follow XEP-0163 §4: to the owner's resources and to
// contacts allowed by the access model, each resource only when its
// XEP-0115 capabilities show "<node>+notify". Capabilities are read from
// the presence local sessions send, resolved once per 'ver' with a
// disco#info query and cached. The last published item goes to a new
// subscriber and to a contact's resource on its initial presence.
//
// The same module carries two PEP conversions, since both react to PEP
// publications: XEP-0398 (XEP-0084 avatars to vcard-temp PHOTO and back,
// XEP-0153 hash injected in presence) and the XEP-0402
// "urn:xmpp:bookmarks:1#compat" mapping to XEP-0048 bookmarks in XEP-0049
// private storage. It reads and writes storage.VCards and storage.Private
// directly; it imports no other module.
package pubsub
