// Package module is the extension API of the Parley server. A feature is a
// Module: it registers IQ handlers keyed by (type, payload name, target),
// hooks on message and presence in named phases, session event callbacks,
// and the disco features and stream features it provides. It reaches the
// rest of the server only through the Host facade.
//
// Modules never import each other and never see transports.
package module
