// Package config is the typed configuration of the Parley server.
//
// A server starts with zero configuration: [Default] returns a complete,
// valid configuration serving the domain "localhost" from ./parley-data with
// a STARTTLS client listener on :5222, a direct TLS (XEP-0368) listener on
// :5223, SQLite storage in the data directory and a self-signed certificate
// generated there.
//
// [Load] and [Parse] read a YAML file over those defaults. Every key is
// optional. Unknown keys, values of the wrong type and invalid values are
// rejected with an [*Error] that names the file, line, column and dotted key,
// for example:
//
//	parley.yaml:12:3: limits.max_stanza_bytes: must be at least 1024
//
// When a file has several problems all of them are reported: the returned
// error is then an [Errors] value, and errors.As still finds the first
// [*Error].
//
// The settings of a module are not declared here: each "modules.<name>"
// section is kept undecoded as a [Section], which the module decodes
// itself with [Section.Decode] and the same checks and messages.
// [Modules.Configure] hands the sections to their modules, and
// [ParseModules] reports their problems together with the file's.
//
// The caller applies precedence for the data directory (command-line flag,
// then the PARLEY_DATA environment variable, then the file, then the
// default) by overwriting [Config.DataDir] after loading and calling
// [Config.Validate] again.
package config
