package postgres

// migrations are the schema changes, in order; migrations[i] brings the
// schema from version i to version i+1. Never edit a released migration:
// append a new one.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE accounts (
	username TEXT COLLATE "C" PRIMARY KEY,
	domain   TEXT COLLATE "C" NOT NULL,
	created  BIGINT NOT NULL
);
CREATE INDEX accounts_domain ON accounts(domain, username);

CREATE TABLE scram_keys (
	username   TEXT COLLATE "C" NOT NULL REFERENCES accounts(username) ON DELETE CASCADE,
	ord        INTEGER NOT NULL,
	hash       TEXT NOT NULL,
	salt       BYTEA NOT NULL,
	iterations INTEGER NOT NULL,
	stored_key BYTEA NOT NULL,
	server_key BYTEA NOT NULL,
	PRIMARY KEY (username, hash)
);

CREATE TABLE roster_versions (
	username TEXT COLLATE "C" PRIMARY KEY,
	version  BIGINT NOT NULL
);

CREATE TABLE roster_items (
	username     TEXT COLLATE "C" NOT NULL,
	contact      TEXT COLLATE "C" NOT NULL,
	name         TEXT NOT NULL,
	groups       TEXT[] NOT NULL,
	subscription SMALLINT NOT NULL,
	ask_out      BOOLEAN NOT NULL,
	pre_approved BOOLEAN NOT NULL,
	PRIMARY KEY (username, contact)
);

CREATE TABLE subscription_requests (
	username TEXT COLLATE "C" NOT NULL,
	from_jid TEXT COLLATE "C" NOT NULL,
	seq      BIGSERIAL NOT NULL,
	stanza   BYTEA NOT NULL,
	at       BIGINT NOT NULL,
	PRIMARY KEY (username, from_jid)
);

CREATE TABLE offline (
	id       BIGSERIAL PRIMARY KEY,
	username TEXT COLLATE "C" NOT NULL,
	stanza   BYTEA NOT NULL,
	at       BIGINT NOT NULL
);
CREATE INDEX offline_user ON offline(username, id);

CREATE TABLE vcards (
	username TEXT COLLATE "C" PRIMARY KEY,
	vcard    BYTEA NOT NULL
);

CREATE TABLE private_xml (
	username TEXT COLLATE "C" NOT NULL,
	key      TEXT COLLATE "C" NOT NULL,
	data     BYTEA NOT NULL,
	PRIMARY KEY (username, key)
);

CREATE TABLE blocklist (
	username TEXT COLLATE "C" NOT NULL,
	item     TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (username, item)
);

CREATE TABLE last_activity (
	username TEXT COLLATE "C" PRIMARY KEY,
	at       BIGINT NOT NULL,
	status   TEXT NOT NULL
);
`,
	// 2: account disabled flag and invitations (XEP-0133, XEP-0401).
	migrationAccountAdmin,
	// 3: message archives and their preferences (XEP-0313, XEP-0441).
	archiveSchema,
	// 4: FAST tokens (XEP-0484).
	fastSchema,
	// 5: publish-subscribe services and PEP (XEP-0060, XEP-0163).
	pubsubSchema,
	// 6: push notification registrations (XEP-0357).
	pushSchema,
	// 7: multi-user chat rooms and affiliations (XEP-0045).
	mucSchema,
}
