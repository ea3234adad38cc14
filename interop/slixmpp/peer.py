#!/usr/bin/python3
"""A slixmpp client remote-controlled by interop_test.go.

Run with Debian's /usr/bin/python3 (python3-slixmpp). It logs in, then
reads JSON commands from stdin, one per line, and writes JSON events to
stdout, one per line. Log output goes to stderr.

Commands:
  {"cmd": "send", "to": JID, "body": TEXT}
  {"cmd": "presence", "to": JID (optional), "type": TYPE (optional)}
  {"cmd": "roster"}                 answered by a "roster" event
  {"cmd": "quit"}                   sends unavailable, closes the stream

Events:
  {"event": "online", "jid", "mech", "offered", "features", "tls_version", "direct_tls"}
  {"event": "message", "from", "type", "body", "delayed", "xml"}
  {"event": "presence", "from", "type", "xml"}
  {"event": "roster", "items": {bare JID: subscription}, "xml"}
  {"event": "error", "text"} then exit 1 (login failure, stream error...)

The peer never answers subscription requests itself (auto_authorize is
off): the test drives every step of the handshake.
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys

import slixmpp


def emit(**ev):
    sys.stdout.write(json.dumps(ev) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jid", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--direct-tls", action="store_true",
                    help="XEP-0368: TLS from the first byte (no STARTTLS)")
    ap.add_argument("--mech", default=None,
                    help="the only SASL mechanism allowed, e.g. SCRAM-SHA-256")
    ap.add_argument("--no-channel-binding", action="store_true",
                    help="do not offer channel-binding data to SASL (gs2 flag n)")
    ap.add_argument("--no-presence", action="store_true",
                    help="do not send initial presence at login")
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args()

    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")

    plugin_config = {}
    if args.mech:
        plugin_config["feature_mechanisms"] = {"use_mech": args.mech}
    xmpp = slixmpp.ClientXMPP(args.jid, args.password, plugin_config=plugin_config)
    # The server's certificate is self-signed.
    xmpp.ssl_context.check_hostname = False
    xmpp.ssl_context.verify_mode = ssl.CERT_NONE
    if args.no_channel_binding:
        # slixmpp 1.8 only knows tls-unique, which TLS 1.3 does not define
        # (RFC 9266). With channel-binding data at hand it sends the gs2
        # flag "y" ("I could bind but you don't offer -PLUS") on a non-PLUS
        # mechanism, which a server that offers -PLUS must reject as a
        # downgrade (RFC 5802 section 6). Without the data it sends "n".
        mechs = xmpp["feature_mechanisms"]
        default_cb = mechs.sasl_callback

        def no_cb(required, optional):
            creds = default_cb(required, optional)
            creds.pop("channel_binding", None)
            return creds
        mechs.sasl_callback = no_cb
    xmpp.register_plugin("xep_0203")  # delayed delivery stamps
    xmpp.auto_authorize = None
    xmpp.auto_subscribe = False

    loop = asyncio.get_event_loop()
    done = loop.create_future()

    def finish(code, text=None):
        if text is not None:
            emit(event="error", text=text)
        if not done.done():
            done.set_result(code)

    async def session_start(_):
        if not args.no_presence:
            xmpp.send_presence()
        tls_version = None
        ssl_obj = xmpp.transport.get_extra_info("ssl_object") if xmpp.transport else None
        if ssl_obj is not None:
            tls_version = ssl_obj.version()
        mechs = xmpp["feature_mechanisms"]
        emit(event="online", jid=str(xmpp.boundjid),
             mech=mechs.mech.name if mechs.mech else None,
             offered=sorted(mechs.mech_list),
             features=sorted(xmpp.features),
             tls_version=tls_version,
             direct_tls=bool(args.direct_tls))

    def on_message(msg):
        emit(event="message", **{"from": str(msg["from"])}, type=msg["type"],
             body=msg["body"], delayed=bool(msg.xml.find("{urn:xmpp:delay}delay") is not None),
             xml=str(msg))

    def on_presence(pres):
        emit(event="presence", **{"from": str(pres["from"])}, type=pres["type"],
             xml=str(pres))

    async def roster():
        iq = xmpp.Iq()
        iq["type"] = "get"
        iq.enable("roster")
        try:
            resp = await iq.send(timeout=10)
        except Exception as e:  # IqError, IqTimeout
            emit(event="roster", items=None, error=repr(e),
                 xml=str(getattr(e, "iq", "")))
            return
        items = {str(j): v["subscription"] for j, v in resp["roster"]["items"].items()}
        emit(event="roster", items=items, xml=str(resp))

    async def quit_():
        xmpp.send_presence(ptype="unavailable")
        xmpp.disconnect(wait=2.0)

    def on_command(line):
        try:
            c = json.loads(line)
        except ValueError:
            emit(event="error", text="bad command: " + line)
            return
        cmd = c.get("cmd")
        if cmd == "send":
            xmpp.send_message(mto=c["to"], mbody=c["body"], mtype=c.get("type", "chat"))
        elif cmd == "presence":
            kw = {}
            if c.get("to"):
                kw["pto"] = c["to"]
            if c.get("type"):
                kw["ptype"] = c["type"]
            xmpp.send_presence(**kw)
        elif cmd == "roster":
            asyncio.ensure_future(roster())
        elif cmd == "quit":
            asyncio.ensure_future(quit_())
        else:
            emit(event="error", text="unknown command: " + line)

    buf = bytearray()

    def on_stdin():
        data = sys.stdin.buffer.raw.read(65536)
        if not data:  # the test went away
            loop.remove_reader(sys.stdin.fileno())
            asyncio.ensure_future(quit_())
            return
        buf.extend(data)
        while b"\n" in buf:
            i = buf.index(b"\n")
            line = buf[:i].decode()
            del buf[: i + 1]
            if line.strip():
                on_command(line)

    def check_namespace(stanza):
        # A message, presence or iq outside jabber:client is not a stanza
        # to slixmpp (nor to any client): no handler sees it. Say so, as
        # the test would otherwise only see a missing event.
        tag = stanza.xml.tag
        local = tag.rsplit("}", 1)[-1]
        if local in ("message", "presence", "iq") and not tag.startswith("{jabber:client}"):
            emit(event="wrong_namespace", tag=tag, xml=str(stanza))
        return stanza

    xmpp.add_filter("in", check_namespace)
    xmpp.add_event_handler("session_start", session_start)
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("presence", on_presence)
    xmpp.add_event_handler("failed_auth", lambda s: emit(event="auth_failure", xml=str(s)))
    xmpp.add_event_handler("failed_all_auth", lambda _: finish(1, "authentication failed"))
    xmpp.add_event_handler("no_auth", lambda _: finish(1, "no acceptable SASL mechanism offered"))
    xmpp.add_event_handler("stream_error", lambda e: emit(event="stream_error", xml=str(e)))
    xmpp.add_event_handler("connection_failed", lambda e: finish(1, "connection failed: %r" % (e,)))
    xmpp.add_event_handler("disconnected", lambda _: finish(0))
    loop.add_reader(sys.stdin.fileno(), on_stdin)

    xmpp.connect((args.host, args.port), use_ssl=args.direct_tls,
                 force_starttls=not args.direct_tls)
    code = loop.run_until_complete(done)
    sys.exit(code)


if __name__ == "__main__":
    main()
