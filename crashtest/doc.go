// Package crashtest checks that Parley loses no acknowledged message when
// the server process is killed.
//
// Its tests build the parley binary, start `parley serve`, log in a sender
// that storms two offline accounts and one online account with messages
// and sends an IQ ping after every batch, SIGKILL the server in the middle
// of the storm, start it again and log the recipients in. Every message
// sent before a ping the server answered must then arrive exactly once at
// the offline accounts, and be exactly once in the message archive
// (XEP-0313) of the sender and of every recipient: the server handles the
// stanzas of one stream in order and commits an offline message before it
// reads the next stanza, and although it delivers a message before its
// archive entries are committed (they are queued and committed in the
// background), it waits until everything queued in the archive is
// committed before it handles an IQ (module.Registrar.Barrier), so a ping
// reply proves the messages before it were committed to storage.
//
// The SQLite run always happens; the PostgreSQL run needs
// PARLEY_TEST_POSTGRES (see server/storage/postgres/pgtest). The package
// has no code outside its tests.
package crashtest
