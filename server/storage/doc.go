// Package storage declares one small interface per kind of persistent data
// the server keeps, with their models. Backends (server/storage/sqlite,
// later server/storage/postgres) implement them; storagetest holds the
// conformance suite every backend passes.
//
// Keys are bare JIDs of local accounts. Stanzas are stored as Parley's own
// standalone serialisation, `el.AppendXML(nil, "")`, which declares the
// jabber:client namespace on the root, and parsed again with
// stream.ParseElement when read back. (Element.Bytes is the on-stream form,
// without that declaration, and must not be stored.)
package storage
