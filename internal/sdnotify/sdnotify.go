// Package sdnotify tells systemd (or any service manager speaking its
// notification protocol) how the server is doing: READY=1 once it
// serves, RELOADING=1 while it reloads its configuration, STOPPING=1 as
// it shuts down. The protocol is one datagram per message on the unix
// socket named by $NOTIFY_SOCKET (sd_notify(3)); without that variable
// every call does nothing, so the server runs the same outside systemd.
package sdnotify

import (
	"fmt"
	"net"
	"strings"
)

// Notifier sends state changes to the service manager's socket. The zero
// value, and one made without a socket, sends nothing.
type Notifier struct {
	socket string
}

// New returns a notifier for the socket named by notifySocket, the value
// of $NOTIFY_SOCKET: a path, or an abstract socket name starting with
// "@". An empty value makes a notifier that sends nothing.
func New(notifySocket string) *Notifier {
	return &Notifier{socket: notifySocket}
}

// Enabled reports whether the notifier has a socket to send to.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// Ready says that the server serves (after start, or after a reload);
// status is shown by "systemctl status".
func (n *Notifier) Ready(status string) error {
	return n.send("READY=1", status)
}

// Reloading says that the server reloads its configuration; call Ready
// when done. systemd requires the monotonic clock's time with it.
func (n *Notifier) Reloading() error {
	return n.send("RELOADING=1", "", fmt.Sprintf("MONOTONIC_USEC=%d", monotonicUsec()))
}

// Stopping says that the server shuts down.
func (n *Notifier) Stopping(status string) error {
	return n.send("STOPPING=1", status)
}

// send writes one datagram with state, the status line when not empty,
// and extra assignments.
func (n *Notifier) send(state, status string, extra ...string) error {
	if !n.Enabled() {
		return nil
	}
	lines := []string{state}
	lines = append(lines, extra...)
	if status != "" {
		lines = append(lines, "STATUS="+strings.ReplaceAll(status, "\n", " "))
	}
	name := n.socket
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", state, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		return fmt.Errorf("sd_notify %s: %w", state, err)
	}
	return nil
}
