package sqlite

// migrations are the schema changes, in order; migrations[i] brings the
// schema from version i to version i+1. Never edit a released migration:
// append a new one.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE accounts (
	user    TEXT PRIMARY KEY,
	domain  TEXT NOT NULL,
	created INTEGER NOT NULL
);
CREATE INDEX accounts_domain ON accounts(domain, user);

CREATE TABLE scram_keys (
	user       TEXT NOT NULL REFERENCES accounts(user) ON DELETE CASCADE,
	hash       TEXT NOT NULL,
	salt       BLOB NOT NULL,
	iterations INTEGER NOT NULL,
	stored_key BLOB NOT NULL,
	server_key BLOB NOT NULL,
	PRIMARY KEY (user, hash)
);

CREATE TABLE roster_versions (
	user    TEXT PRIMARY KEY,
	version INTEGER NOT NULL
);

CREATE TABLE roster_items (
	user         TEXT NOT NULL,
	contact      TEXT NOT NULL,
	name         TEXT NOT NULL,
	groups       TEXT NOT NULL,
	subscription INTEGER NOT NULL,
	ask_out      INTEGER NOT NULL,
	pre_approved INTEGER NOT NULL,
	PRIMARY KEY (user, contact)
);

CREATE TABLE subscription_requests (
	user     TEXT NOT NULL,
	from_jid TEXT NOT NULL,
	stanza   BLOB NOT NULL,
	at       INTEGER NOT NULL,
	PRIMARY KEY (user, from_jid)
);

CREATE TABLE offline (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	user   TEXT NOT NULL,
	stanza BLOB NOT NULL,
	at     INTEGER NOT NULL
);
CREATE INDEX offline_user ON offline(user, id);

CREATE TABLE vcards (
	user  TEXT PRIMARY KEY,
	vcard BLOB NOT NULL
);

CREATE TABLE private_xml (
	user TEXT NOT NULL,
	key  TEXT NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (user, key)
);

CREATE TABLE blocklist (
	user TEXT NOT NULL,
	item TEXT NOT NULL,
	PRIMARY KEY (user, item)
);

CREATE TABLE last_activity (
	user   TEXT PRIMARY KEY,
	at     INTEGER NOT NULL,
	status TEXT NOT NULL
);
`,
	// 2: account disabled flag and invitations (XEP-0133, XEP-0401).
	migrationAccountAdmin,
	// 3: publish-subscribe services and PEP (XEP-0060, XEP-0163).
	pubsubSchema,
	// 4: message archives and their preferences (XEP-0313, XEP-0441).
	archiveSchema,
	// 5: FAST tokens (XEP-0484).
	fastSchema,
	// 6: push notification registrations (XEP-0357).
	pushSchema,
	// 7: multi-user chat rooms and affiliations (XEP-0045).
	mucSchema,
}
