#!/usr/bin/python3
"""poezio's XMPP core, remote-controlled by clients_test.go.

poezio (Debian's poezio 0.14) is a curses client built on slixmpp. Its
XMPP side is poezio.connection.Connection: a slixmpp.ClientXMPP subclass
that reads poezio.cfg and sets up TLS (force_encryption, ca_cert_path,
ciphers), SASL (slixmpp's own mechanism choice, channel binding included)
and poezio's ~40 plugins (caps, carbons, MAM, receipts, user nick, ...).
This peer runs that class, at poezio's defaults, without the curses
interface: poezio refuses to start as root ("Please do not run poezio as
root.", poezio/poezio.py), and CI runs as root.

The test gives XDG_CONFIG_HOME, XDG_CACHE_HOME and XDG_DATA_HOME of its
own. This peer writes poezio.cfg there with only what a user sets: jid,
password, custom_host and custom_port (the server is not on DNS) and
ca_cert_path (poezio's option for the CA to trust: here the server's
self-signed certificate).

Like peer.py it logs in, reads JSON commands from stdin and writes JSON
events to stdout, one per line.

Commands:
  {"cmd": "send", "to": JID, "body": TEXT}
  {"cmd": "quit"}

Events:
  {"event": "online", "jid", "mech", "offered", "tls_version"}
  {"event": "message", "from", "type", "body", "xml"}
  {"event": "presence", "from", "type", "xml"}
  {"event": "auth_failure", "xml"}   a SASL <failure/> before trying the next mechanism
  {"event": "error", "text"} then exit 1
"""

import os
import pathlib

import peerlib
from peerlib import emit

peerlib.stdout_to_stderr()


def write_config(args):
    home = pathlib.Path(os.environ["XDG_CONFIG_HOME"]) / "poezio"
    home.mkdir(parents=True, exist_ok=True)
    path = home / "poezio.cfg"
    path.write_text("[Poezio]\n"
                    "jid = %s\n"
                    "password = %s\n"
                    "custom_host = %s\n"
                    "custom_port = %d\n"
                    "ca_cert_path = %s\n" % (args.jid, args.password, args.host, args.port, args.ca_file))
    return path


def main():
    args = peerlib.parse_args()
    if not args.ca_file:
        raise SystemExit("--ca-file is required")

    # poezio's start-up (poezio/poezio.py) in this order: the global
    # config first (poezio.connection reads it at import), then its
    # asyncio patch.
    from poezio import config
    config.create_global_config(write_config(args))
    from poezio.asyncio_fix import monkey_patch_asyncio_slixmpp
    monkey_patch_asyncio_slixmpp()
    from poezio.connection import Connection

    xmpp = Connection()
    peer = peerlib.Peer(xmpp, args)

    async def session_start(_):
        xmpp.send_presence()
        mechs = xmpp["feature_mechanisms"]
        emit(event="online", jid=str(xmpp.boundjid),
             mech=mechs.mech.name if mechs.mech else None,
             offered=sorted(mechs.mech_list),
             tls_version=peerlib.tls_version(xmpp))

    def on_message(msg):
        emit(event="message", **{"from": str(msg["from"])}, type=msg["type"],
             body=msg["body"], xml=str(msg))

    xmpp.add_event_handler("session_start", session_start)
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("presence", peerlib.emit_presence)
    xmpp.add_event_handler("failed_auth", lambda s: emit(event="auth_failure", xml=str(s)))
    xmpp.add_event_handler("no_auth", lambda _: peer.finish(1, "no acceptable SASL mechanism offered"))
    xmpp.add_event_handler("stream_error", lambda e: emit(event="stream_error", xml=str(e)))
    peer.commands["send"] = lambda c: peerlib.send_message(xmpp, c)
    peer.add_exit_handlers()
    # Connection.start is how poezio connects: to custom_host:custom_port.
    peer.run(connect_with=xmpp.start)


if __name__ == "__main__":
    main()
