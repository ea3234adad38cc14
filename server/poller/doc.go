// Package poller waits for input on many idle sockets with one epoll
// instance and one goroutine (Linux), so that a connection waiting for its
// next input holds no goroutine and no stack: only its registration, a
// timer for its next time limit, and its heap state.
//
// The poller knows nothing of XMPP or of the transport above it: a
// transport parks a socket with a wake-up callback, and the poller calls
// it once, in a new goroutine, when the socket has input, when the timer
// fires, when the connection is closed from elsewhere, or when the poller
// shuts down. On systems other than Linux, New fails and transports keep
// their own way of waiting.
package poller
