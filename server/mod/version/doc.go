// Package version is the server module for XEP-0092 (Software Version): it
// answers jabber:iq:version queries addressed to a served domain with the
// software's name and version.
//
// The operating system is never disclosed: XEP-0092 §5 requires a way to
// disable it and the server offers no way to enable it, which is the
// privacy-preserving choice. When hiding is configured (config key
// modules.version.hide) the result still carries the <version/> element the
// XEP marks REQUIRED, but empty, so the software name is all that is
// revealed; the feature stays advertised because the query still succeeds.
package version
