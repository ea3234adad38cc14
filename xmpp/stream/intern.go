package stream

// internName returns a shared copy of a frequent element or attribute local
// name, so that decoding it allocates nothing.
func internName(b []byte) (string, bool) {
	switch string(b) {
	case "message":
		return "message", true
	case "presence":
		return "presence", true
	case "iq":
		return "iq", true
	case "body":
		return "body", true
	case "subject":
		return "subject", true
	case "thread":
		return "thread", true
	case "error":
		return "error", true
	case "text":
		return "text", true
	case "show":
		return "show", true
	case "status":
		return "status", true
	case "priority":
		return "priority", true
	case "query":
		return "query", true
	case "item":
		return "item", true
	case "x":
		return "x", true
	case "active":
		return "active", true
	case "composing":
		return "composing", true
	case "paused":
		return "paused", true
	case "inactive":
		return "inactive", true
	case "gone":
		return "gone", true
	case "delay":
		return "delay", true
	case "request":
		return "request", true
	case "received":
		return "received", true
	case "markable":
		return "markable", true
	case "displayed":
		return "displayed", true
	case "acknowledged":
		return "acknowledged", true
	case "origin-id":
		return "origin-id", true
	case "stanza-id":
		return "stanza-id", true
	case "c":
		return "c", true
	case "bind":
		return "bind", true
	case "jid":
		return "jid", true
	case "resource":
		return "resource", true
	case "session":
		return "session", true
	case "starttls":
		return "starttls", true
	case "proceed":
		return "proceed", true
	case "auth":
		return "auth", true
	case "success":
		return "success", true
	case "failure":
		return "failure", true
	case "challenge":
		return "challenge", true
	case "response":
		return "response", true
	case "abort":
		return "abort", true
	case "enable":
		return "enable", true
	case "enabled":
		return "enabled", true
	case "resume":
		return "resume", true
	case "resumed":
		return "resumed", true
	case "r":
		return "r", true
	case "a":
		return "a", true
	case "features":
		return "features", true
	case "mechanisms":
		return "mechanisms", true
	case "mechanism":
		return "mechanism", true
	case "required":
		return "required", true
	case "optional":
		return "optional", true
	case "ping":
		return "ping", true
	case "pubsub":
		return "pubsub", true
	case "items":
		return "items", true
	case "event":
		return "event", true
	case "publish":
		return "publish", true
	case "retract":
		return "retract", true
	case "group":
		return "group", true
	case "identity":
		return "identity", true
	case "feature":
		return "feature", true
	case "forwarded":
		return "forwarded", true
	case "sent":
		return "sent", true
	case "private":
		return "private", true
	case "no-store":
		return "no-store", true
	case "no-copy":
		return "no-copy", true
	case "store":
		return "store", true
	case "no-permanent-store":
		return "no-permanent-store", true
	case "html":
		return "html", true
	case "span":
		return "span", true
	case "p":
		return "p", true
	case "br":
		return "br", true
	case "fin":
		return "fin", true
	case "set":
		return "set", true
	case "first":
		return "first", true
	case "last":
		return "last", true
	case "count":
		return "count", true
	case "before":
		return "before", true
	case "after":
		return "after", true
	case "max":
		return "max", true
	case "index":
		return "index", true
	case "result":
		return "result", true
	case "fields":
		return "fields", true
	case "field":
		return "field", true
	case "value":
		return "value", true
	case "option":
		return "option", true
	case "title":
		return "title", true
	case "instructions":
		return "instructions", true
	case "reported":
		return "reported", true
	case "headers":
		return "headers", true
	case "header":
		return "header", true
	case "attention":
		return "attention", true
	case "encrypted":
		return "encrypted", true
	case "key":
		return "key", true
	case "keys":
		return "keys", true
	case "payload":
		return "payload", true
	case "list":
		return "list", true
	case "device":
		return "device", true
	case "devices":
		return "devices", true
	case "store-hint":
		return "store-hint", true
	case "replace":
		return "replace", true
	case "reference":
		return "reference", true
	case "fallback":
		return "fallback", true
	case "reactions":
		return "reactions", true
	case "reaction":
		return "reaction", true
	case "occupant-id":
		return "occupant-id", true
	case "to":
		return "to", true
	case "from":
		return "from", true
	case "id":
		return "id", true
	case "type":
		return "type", true
	case "lang":
		return "lang", true
	case "ver":
		return "ver", true
	case "node":
		return "node", true
	case "hash":
		return "hash", true
	case "stamp":
		return "stamp", true
	case "name":
		return "name", true
	case "subscription":
		return "subscription", true
	case "ask":
		return "ask", true
	case "by":
		return "by", true
	case "h":
		return "h", true
	case "var":
		return "var", true
	case "category":
		return "category", true
	case "label":
		return "label", true
	case "xmlns":
		return "xmlns", true
	case "version":
		return "version", true
	case "approved":
		return "approved", true
	case "affiliation":
		return "affiliation", true
	case "role":
		return "role", true
	case "nick":
		return "nick", true
	case "code":
		return "code", true
	case "for":
		return "for", true
	case "since":
		return "since", true
	case "seconds":
		return "seconds", true
	case "seq":
		return "seq", true
	case "action":
		return "action", true
	case "reason":
		return "reason", true
	case "invite":
		return "invite", true
	case "decline":
		return "decline", true
	case "password":
		return "password", true
	case "continue":
		return "continue", true
	case "destroy":
		return "destroy", true
	case "actor":
		return "actor", true
	case "mode":
		return "mode", true
	case "data":
		return "data", true
	case "sid":
		return "sid", true
	case "block":
		return "block", true
	case "unblock":
		return "unblock", true
	case "blocklist":
		return "blocklist", true
	case "host":
		return "host", true
	case "port":
		return "port", true
	case "rid":
		return "rid", true
	case "bosh":
		return "bosh", true
	case "stream":
		return "stream", true
	}
	return "", false
}

// internNS returns a shared copy of a frequent namespace URI.
func internNS(b []byte) (string, bool) {
	switch string(b) {
	case "jabber:client":
		return "jabber:client", true
	case "jabber:server":
		return "jabber:server", true
	case "jabber:component:accept":
		return "jabber:component:accept", true
	case "http://etherx.jabber.org/streams":
		return "http://etherx.jabber.org/streams", true
	case "http://www.w3.org/XML/1998/namespace":
		return "http://www.w3.org/XML/1998/namespace", true
	case "jabber:iq:roster":
		return "jabber:iq:roster", true
	case "jabber:iq:version":
		return "jabber:iq:version", true
	case "jabber:iq:private":
		return "jabber:iq:private", true
	case "jabber:iq:last":
		return "jabber:iq:last", true
	case "jabber:iq:register":
		return "jabber:iq:register", true
	case "jabber:iq:auth":
		return "jabber:iq:auth", true
	case "jabber:iq:privacy":
		return "jabber:iq:privacy", true
	case "jabber:x:data":
		return "jabber:x:data", true
	case "jabber:x:oob":
		return "jabber:x:oob", true
	case "jabber:x:conference":
		return "jabber:x:conference", true
	case "jabber:server:dialback":
		return "jabber:server:dialback", true
	case "vcard-temp":
		return "vcard-temp", true
	case "vcard-temp:x:update":
		return "vcard-temp:x:update", true
	case "http://jabber.org/protocol/chatstates":
		return "http://jabber.org/protocol/chatstates", true
	case "http://jabber.org/protocol/caps":
		return "http://jabber.org/protocol/caps", true
	case "http://jabber.org/protocol/disco#info":
		return "http://jabber.org/protocol/disco#info", true
	case "http://jabber.org/protocol/disco#items":
		return "http://jabber.org/protocol/disco#items", true
	case "http://jabber.org/protocol/muc":
		return "http://jabber.org/protocol/muc", true
	case "http://jabber.org/protocol/muc#user":
		return "http://jabber.org/protocol/muc#user", true
	case "http://jabber.org/protocol/muc#admin":
		return "http://jabber.org/protocol/muc#admin", true
	case "http://jabber.org/protocol/muc#owner":
		return "http://jabber.org/protocol/muc#owner", true
	case "http://jabber.org/protocol/pubsub":
		return "http://jabber.org/protocol/pubsub", true
	case "http://jabber.org/protocol/pubsub#event":
		return "http://jabber.org/protocol/pubsub#event", true
	case "http://jabber.org/protocol/pubsub#owner":
		return "http://jabber.org/protocol/pubsub#owner", true
	case "http://jabber.org/protocol/xhtml-im":
		return "http://jabber.org/protocol/xhtml-im", true
	case "http://jabber.org/protocol/address":
		return "http://jabber.org/protocol/address", true
	case "http://jabber.org/protocol/nick":
		return "http://jabber.org/protocol/nick", true
	case "http://jabber.org/protocol/commands":
		return "http://jabber.org/protocol/commands", true
	case "http://jabber.org/protocol/rsm":
		return "http://jabber.org/protocol/rsm", true
	case "http://www.w3.org/1999/xhtml":
		return "http://www.w3.org/1999/xhtml", true
	case "urn:ietf:params:xml:ns:xmpp-stanzas":
		return "urn:ietf:params:xml:ns:xmpp-stanzas", true
	case "urn:ietf:params:xml:ns:xmpp-streams":
		return "urn:ietf:params:xml:ns:xmpp-streams", true
	case "urn:ietf:params:xml:ns:xmpp-tls":
		return "urn:ietf:params:xml:ns:xmpp-tls", true
	case "urn:ietf:params:xml:ns:xmpp-sasl":
		return "urn:ietf:params:xml:ns:xmpp-sasl", true
	case "urn:ietf:params:xml:ns:xmpp-bind":
		return "urn:ietf:params:xml:ns:xmpp-bind", true
	case "urn:ietf:params:xml:ns:xmpp-session":
		return "urn:ietf:params:xml:ns:xmpp-session", true
	case "urn:xmpp:delay":
		return "urn:xmpp:delay", true
	case "urn:xmpp:receipts":
		return "urn:xmpp:receipts", true
	case "urn:xmpp:chat-markers:0":
		return "urn:xmpp:chat-markers:0", true
	case "urn:xmpp:sid:0":
		return "urn:xmpp:sid:0", true
	case "urn:xmpp:ping":
		return "urn:xmpp:ping", true
	case "urn:xmpp:sm:3":
		return "urn:xmpp:sm:3", true
	case "urn:xmpp:carbons:2":
		return "urn:xmpp:carbons:2", true
	case "urn:xmpp:forward:0":
		return "urn:xmpp:forward:0", true
	case "urn:xmpp:mam:2":
		return "urn:xmpp:mam:2", true
	case "urn:xmpp:hints":
		return "urn:xmpp:hints", true
	case "urn:xmpp:time":
		return "urn:xmpp:time", true
	case "urn:xmpp:message-correct:0":
		return "urn:xmpp:message-correct:0", true
	case "urn:xmpp:reactions:0":
		return "urn:xmpp:reactions:0", true
	case "urn:xmpp:reply:0":
		return "urn:xmpp:reply:0", true
	case "urn:xmpp:fallback:0":
		return "urn:xmpp:fallback:0", true
	case "urn:xmpp:occupant-id:0":
		return "urn:xmpp:occupant-id:0", true
	case "urn:xmpp:blocking":
		return "urn:xmpp:blocking", true
	case "urn:xmpp:attention:0":
		return "urn:xmpp:attention:0", true
	case "urn:xmpp:features:rosterver":
		return "urn:xmpp:features:rosterver", true
	case "urn:xmpp:features:pre-approval":
		return "urn:xmpp:features:pre-approval", true
	case "urn:xmpp:avatar:data":
		return "urn:xmpp:avatar:data", true
	case "urn:xmpp:avatar:metadata":
		return "urn:xmpp:avatar:metadata", true
	case "urn:xmpp:bookmarks:1":
		return "urn:xmpp:bookmarks:1", true
	case "urn:xmpp:mucsub:0":
		return "urn:xmpp:mucsub:0", true
	case "eu.siacs.conversations.axolotl":
		return "eu.siacs.conversations.axolotl", true
	case "urn:xmpp:omemo:2":
		return "urn:xmpp:omemo:2", true
	case "urn:xmpp:eme:0":
		return "urn:xmpp:eme:0", true
	case "urn:xmpp:http:upload:0":
		return "urn:xmpp:http:upload:0", true
	case "urn:xmpp:jingle:1":
		return "urn:xmpp:jingle:1", true
	case "urn:xmpp:jingle-message:0":
		return "urn:xmpp:jingle-message:0", true
	case "urn:xmpp:push:0":
		return "urn:xmpp:push:0", true
	case "urn:xmpp:sasl:2":
		return "urn:xmpp:sasl:2", true
	case "urn:xmpp:bind:0":
		return "urn:xmpp:bind:0", true
	case "urn:xmpp:csi:0":
		return "urn:xmpp:csi:0", true
	}
	return "", false
}
