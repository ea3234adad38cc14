"""Code shared by the slixmpp peers of the interop tests.

The scripts in this folder run as `/usr/bin/python3 <folder>/<script>.py`,
so this folder is sys.path[0] and `import peerlib` finds this module.

Every peer writes JSON events to stdout, one per line (emit), and logs to
stderr. The remote-controlled peers read JSON commands from stdin, one per
line (Peer.run).
"""

import argparse
import asyncio
import json
import logging
import pathlib
import socket
import ssl
import struct
import sys

import slixmpp

# The stdout the events go to, even after a script sends sys.stdout to
# stderr (stdout_to_stderr).
OUT = sys.stdout


def emit(**ev):
    OUT.write(json.dumps(ev) + "\n")
    OUT.flush()


def stdout_to_stderr():
    """Send what slixmpp prints to stderr: stdout is for events only."""
    sys.stdout = sys.stderr


def arg_parser():
    """An ArgumentParser with the options every peer takes."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--jid", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--debug", action="store_true")
    ap.add_argument("--ca-file", default=None,
                    help="trust this PEM certificate and verify the server's (default: no verification)")
    return ap


def parse_args(ap=None):
    """Parses the command line and sets up logging to stderr."""
    args = (ap or arg_parser()).parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    return args


def plugin_config(mech="SCRAM-SHA-256"):
    """The plugin_config of a client restricted to one SASL mechanism.

    Without channel-binding data (no_channel_binding) the peers use a
    mechanism without -PLUS.
    """
    if not mech:
        return {}
    return {"feature_mechanisms": {"use_mech": mech}}


def no_channel_binding(xmpp):
    """Gives SASL no channel-binding data, so slixmpp sends gs2 flag "n".

    slixmpp 1.8 only knows tls-unique, which TLS 1.3 does not define
    (RFC 9266). With channel-binding data at hand it sends the gs2 flag
    "y" ("I could bind but you don't offer -PLUS") on a non-PLUS
    mechanism, which a server that offers -PLUS must reject as a
    downgrade (RFC 5802 section 6). Without the data it sends "n".
    """
    mechs = xmpp["feature_mechanisms"]
    default_cb = mechs.sasl_callback

    def no_cb(required, optional):
        creds = default_cb(required, optional)
        creds.pop("channel_binding", None)
        return creds
    mechs.sasl_callback = no_cb


def configure(xmpp, channel_binding=False, plugins=(), ca_file=None):
    """Trusts the server's self-signed certificate, drops channel-binding
    data unless channel_binding, and registers plugins in order.

    With ca_file (a PEM file, e.g. the server's certificate) slixmpp's own
    ca_certs option trusts it, and verification (chain and host name)
    stays on as by default; without it verification is off.
    """
    if ca_file:
        xmpp.ca_certs = pathlib.Path(ca_file)
    else:
        xmpp.ssl_context.check_hostname = False
        xmpp.ssl_context.verify_mode = ssl.CERT_NONE
    if not channel_binding:
        no_channel_binding(xmpp)
    for plugin in plugins:
        xmpp.register_plugin(plugin)
    return xmpp


def client(args, mech="SCRAM-SHA-256", channel_binding=False, plugins=()):
    """A configured slixmpp.ClientXMPP for --jid and --password (and
    --ca-file, see configure)."""
    xmpp = slixmpp.ClientXMPP(args.jid, args.password, plugin_config=plugin_config(mech))
    return configure(xmpp, channel_binding=channel_binding, plugins=plugins,
                     ca_file=getattr(args, "ca_file", None))


def tls_version(xmpp):
    """The TLS version of the connection, or None."""
    ssl_obj = xmpp.transport.get_extra_info("ssl_object") if xmpp.transport else None
    return ssl_obj.version() if ssl_obj else None


def emit_online(xmpp):
    emit(event="online", jid=str(xmpp.boundjid),
         mech=xmpp["feature_mechanisms"].mech.name,
         tls_version=tls_version(xmpp))


def emit_presence(pres):
    emit(event="presence", **{"from": str(pres["from"])}, type=pres["type"], xml=str(pres))


def cut(xmpp, before=None):
    """Resets the TCP connection under TLS: the server sees the connection
    die without </stream:stream> (no closing tag, no TLS alert). before, if
    given, runs just before the reset."""
    sock = xmpp.transport.get_extra_info("socket") if xmpp.transport else None
    if sock is None:
        emit(event="error", text="no socket to cut")
        return
    if before is not None:
        before()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    xmpp.transport.abort()


def connect(xmpp, args, direct_tls=False):
    """Connects to (--host, --port): TLS from the first byte with
    direct_tls (XEP-0368), STARTTLS required otherwise."""
    xmpp.connect((args.host, args.port), use_ssl=direct_tls, force_starttls=not direct_tls)


class Peer:
    """Runs a client remote-controlled through stdin until it disconnects.

    commands maps a command name to a function of the command object; a
    coroutine it returns runs as a task.
    """

    def __init__(self, xmpp, args):
        self.xmpp = xmpp
        self.args = args
        self.loop = asyncio.get_event_loop()
        self.done = self.loop.create_future()
        self.commands = {}
        self.quitting = False
        self._buf = bytearray()

    def finish(self, code, text=None):
        if text is not None:
            emit(event="error", text=text)
        if not self.done.done():
            self.done.set_result(code)

    async def quit(self):
        self.quitting = True
        self.xmpp.send_presence(ptype="unavailable")
        self.xmpp.disconnect(wait=2.0)

    def add_exit_handlers(self, disconnected=True):
        """The events that end the run: failed authentication, failed
        connection and, with disconnected, the end of the connection."""
        self.xmpp.add_event_handler("failed_all_auth", lambda _: self.finish(1, "authentication failed"))
        self.xmpp.add_event_handler("connection_failed", lambda e: self.finish(1, "connection failed: %r" % (e,)))
        if disconnected:
            self.xmpp.add_event_handler("disconnected", lambda _: self.finish(0))

    def on_command(self, line):
        try:
            c = json.loads(line)
        except ValueError:
            emit(event="error", text="bad command: " + line)
            return
        cmd = c.get("cmd")
        if cmd == "quit":
            asyncio.ensure_future(self.quit())
            return
        fn = self.commands.get(cmd)
        if fn is None:
            emit(event="error", text="unknown command: " + line)
            return
        result = fn(c)
        if asyncio.iscoroutine(result):
            asyncio.ensure_future(result)

    def on_stdin(self):
        data = sys.stdin.buffer.raw.read(65536)
        if not data:  # the test went away
            self.loop.remove_reader(sys.stdin.fileno())
            asyncio.ensure_future(self.quit())
            return
        self._buf.extend(data)
        while b"\n" in self._buf:
            i = self._buf.index(b"\n")
            line = self._buf[:i].decode()
            del self._buf[: i + 1]
            if line.strip():
                self.on_command(line)

    def run(self, direct_tls=False, stdin=True, connect_with=None):
        """Reads commands from stdin (unless not stdin), connects (with
        connect_with, a function of no arguments, if given), and exits with
        the code given to finish."""
        if stdin:
            self.loop.add_reader(sys.stdin.fileno(), self.on_stdin)
        if connect_with is not None:
            connect_with()
        else:
            connect(self.xmpp, self.args, direct_tls=direct_tls)
        sys.exit(self.loop.run_until_complete(self.done))


def send_message(xmpp, c):
    """The "send" command: {"cmd": "send", "to", "body", "type" (chat)}."""
    xmpp.send_message(mto=c["to"], mbody=c["body"], mtype=c.get("type", "chat"))
