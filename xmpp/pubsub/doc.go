// Package pubsub holds the namespaces, error conditions and typed payloads
// of XEP-0060 (Publish-Subscribe), as profiled by XEP-0163 (Personal
// Eventing Protocol) and XEP-0223 (persistent storage in PEP): items,
// event notifications, the pubsub#node_config and pubsub#publish-options
// forms. It does no I/O and serves both the client and the server.
package pubsub
