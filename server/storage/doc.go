// Package storage declares one small interface per kind of persistent data
// the server keeps, with their models. Backends (server/storage/sqlite,
// later server/storage/postgres) implement them; storagetest holds the
// conformance suite every backend passes.
//
// Keys are bare JIDs of local accounts. Stanzas are stored as the bytes of
// Parley's own serialisation (stanza.Element.Bytes) and parsed again with
// stream.ParseElement when read back.
package storage
