#!/usr/bin/python3
"""A slixmpp client remote-controlled by interop_test.go.

Run with Debian's /usr/bin/python3 (python3-slixmpp). It logs in, then
reads JSON commands from stdin, one per line, and writes JSON events to
stdout, one per line. Log output goes to stderr.

Commands:
  {"cmd": "send", "to": JID, "body": TEXT}
  {"cmd": "presence", "to": JID (optional), "type": TYPE (optional),
   "status": TEXT (optional)}
  {"cmd": "roster"}                 answered by a "roster" event
  {"cmd": "chatstate", "to": JID, "state": STATE}
                                    a XEP-0085 chat state, without a body
  {"cmd": "csi", "state": "active" | "inactive"}
                                    XEP-0352 through slixmpp's xep_0352
                                    plugin (--plugin xep_0352)
  {"cmd": "push_enable", "jid": JID, "node": NODE, "secret": TEXT,
   "include_body": BOOL}            XEP-0357 <enable/>, answered by a
                                    "push_enabled" event
  {"cmd": "disco_info", "to": JID}  answered by a "disco_info" event
  {"cmd": "cut"}                    drops the TCP connection without
                                    closing the stream (no closing tag, no
                                    TLS alert); the peer then exits
  {"cmd": "quit"}                   sends unavailable, closes the stream

Events:
  {"event": "online", "jid", "mech", "offered", "features", "tls_version", "direct_tls"}
  {"event": "message", "from", "type", "body", "chatstate", "delayed", "xml"}
  {"event": "presence", "from", "type", "status", "xml"}
  {"event": "roster", "items": {bare JID: subscription}, "xml"}
  {"event": "csi_enabled"}          the server offers CSI (xep_0352)
  {"event": "sm_enabled", "id", "resume"}   (xep_0198)
  {"event": "push_enabled", "ok", "xml"}
  {"event": "push_notification", "from", "node", "fields", "options", "xml"}
                                    with --push-service: a XEP-0357
                                    notification published to this client
                                    as if it were an app server's pubsub
                                    service; it is answered with a result
  {"event": "disco_info", "features", "error"}
  {"event": "error", "text"} then exit 1 (login failure, stream error...)

Debian's python3-slixmpp (1.8) has no XEP-0357 plugin: push_enable builds
the <enable/> of XEP-0357 §5 itself, with a publish-options form.

The peer never answers subscription requests itself (auto_authorize is
off): the test drives every step of the handshake.
"""

import xml.etree.ElementTree as ET

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

import peerlib
from peerlib import emit

NS_CHATSTATES = "http://jabber.org/protocol/chatstates"
NS_PUSH = "urn:xmpp:push:0"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_DATA = "jabber:x:data"


def main():
    ap = peerlib.arg_parser()
    ap.add_argument("--direct-tls", action="store_true",
                    help="XEP-0368: TLS from the first byte (no STARTTLS)")
    ap.add_argument("--mech", default=None,
                    help="the only SASL mechanism allowed, e.g. SCRAM-SHA-256")
    ap.add_argument("--no-channel-binding", action="store_true",
                    help="do not offer channel-binding data to SASL (gs2 flag n)")
    ap.add_argument("--no-presence", action="store_true",
                    help="do not send initial presence at login")
    ap.add_argument("--plugin", action="append", default=[],
                    help="an extra slixmpp plugin to register, e.g. xep_0352")
    ap.add_argument("--push-service", action="store_true",
                    help="answer XEP-0357 notifications as an app server's pubsub service")
    args = peerlib.parse_args(ap)

    # The server's certificate is self-signed; see peerlib.no_channel_binding
    # for --no-channel-binding.
    xmpp = peerlib.client(args, mech=args.mech,
                          channel_binding=not args.no_channel_binding,
                          plugins=["xep_0203"] + args.plugin)  # xep_0203: delayed delivery stamps
    xmpp.auto_authorize = None
    xmpp.auto_subscribe = False

    peer = peerlib.Peer(xmpp, args)

    async def session_start(_):
        if not args.no_presence:
            xmpp.send_presence()
        mechs = xmpp["feature_mechanisms"]
        emit(event="online", jid=str(xmpp.boundjid),
             mech=mechs.mech.name if mechs.mech else None,
             offered=sorted(mechs.mech_list),
             features=sorted(xmpp.features),
             tls_version=peerlib.tls_version(xmpp),
             direct_tls=bool(args.direct_tls))

    def on_message(msg):
        state = None
        for child in msg.xml:
            if child.tag.startswith("{%s}" % NS_CHATSTATES):
                state = child.tag.rsplit("}", 1)[-1]
        emit(event="message", **{"from": str(msg["from"])}, type=msg["type"],
             body=msg["body"], chatstate=state,
             delayed=bool(msg.xml.find("{urn:xmpp:delay}delay") is not None),
             xml=str(msg))

    def on_chatstate_only(msg):
        # slixmpp's "message" event is for messages with a body; report
        # the bare chat states (XEP-0085) too.
        if msg.xml.find("{%s}body" % xmpp.default_ns) is not None:
            return
        if any(child.tag.startswith("{%s}" % NS_CHATSTATES) for child in msg.xml):
            on_message(msg)

    def on_presence(pres):
        emit(event="presence", **{"from": str(pres["from"])}, type=pres["type"],
             status=pres["status"], xml=str(pres))

    def form_values(x):
        out = {}
        if x is not None:
            for f in x.findall("{%s}field" % NS_DATA):
                out[f.get("var")] = "\n".join(v.text or "" for v in f.findall("{%s}value" % NS_DATA))
        return out

    def on_push_publish(iq):
        # XEP-0357 §7: the user's server publishes a summary to the node.
        if iq["type"] != "set":
            return
        publish = iq.xml.find("{%s}pubsub/{%s}publish" % (NS_PUBSUB, NS_PUBSUB))
        summary = None
        if publish is not None:
            summary = publish.find("{%s}item/{%s}notification/{%s}x" % (NS_PUBSUB, NS_PUSH, NS_DATA))
        options = iq.xml.find("{%s}pubsub/{%s}publish-options/{%s}x" % (NS_PUBSUB, NS_PUBSUB, NS_DATA))
        emit(event="push_notification", **{"from": str(iq["from"])},
             node=publish.get("node") if publish is not None else None,
             fields=form_values(summary) if summary is not None else None,
             options=form_values(options) if options is not None else None,
             xml=str(iq))
        iq.reply().send()

    async def push_enable(c):
        enable = ET.Element("{%s}enable" % NS_PUSH, {"jid": c["jid"]})
        if c.get("node"):
            enable.set("node", c["node"])
        x = ET.SubElement(enable, "{%s}x" % NS_DATA, {"type": "submit"})

        def field(var, value, typ=None):
            f = ET.SubElement(x, "{%s}field" % NS_DATA, {"var": var})
            if typ:
                f.set("type", typ)
            ET.SubElement(f, "{%s}value" % NS_DATA).text = value
        field("FORM_TYPE", NS_PUBSUB + "#publish-options", "hidden")
        if c.get("secret"):
            field("secret", c["secret"])
        if "include_body" in c:
            field("include-body", "true" if c["include_body"] else "false", "boolean")
        iq = xmpp.Iq()
        iq["type"] = "set"
        iq.xml.append(enable)
        try:
            resp = await iq.send(timeout=10)
        except Exception as e:  # IqError, IqTimeout
            emit(event="push_enabled", ok=False, xml=str(getattr(e, "iq", repr(e))))
            return
        emit(event="push_enabled", ok=True, xml=str(resp))

    async def disco_info(to):
        iq = xmpp.Iq()
        iq["type"] = "get"
        iq["to"] = to
        ET.SubElement(iq.xml, "{http://jabber.org/protocol/disco#info}query")
        try:
            resp = await iq.send(timeout=10)
        except Exception as e:  # IqError, IqTimeout
            emit(event="disco_info", features=None, error=repr(e))
            return
        feats = [f.get("var") for f in resp.xml.iter("{http://jabber.org/protocol/disco#info}feature")]
        emit(event="disco_info", features=feats)

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

    def presence(c):
        kw = {}
        if c.get("to"):
            kw["pto"] = c["to"]
        if c.get("type"):
            kw["ptype"] = c["type"]
        if c.get("status"):
            kw["pstatus"] = c["status"]
        xmpp.send_presence(**kw)

    def chatstate(c):
        msg = xmpp.make_message(mto=c["to"], mtype="chat")
        msg.xml.append(ET.Element("{%s}%s" % (NS_CHATSTATES, c["state"])))
        msg.send()

    def csi(c):
        plugin = xmpp["xep_0352"]
        if not plugin.enabled:
            emit(event="error", text="the server does not offer CSI")
        elif c["state"] == "active":
            plugin.send_active()
        else:
            plugin.send_inactive()

    peer.commands.update({
        "send": lambda c: peerlib.send_message(xmpp, c),
        "presence": presence,
        "chatstate": chatstate,
        "csi": csi,
        "push_enable": push_enable,
        "disco_info": lambda c: disco_info(c["to"]),
        "cut": lambda c: peerlib.cut(xmpp),
        "roster": lambda c: roster(),
    })

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
    xmpp.add_event_handler("csi_enabled", lambda _: emit(event="csi_enabled"))
    xmpp.add_event_handler("sm_enabled", lambda st: emit(event="sm_enabled", id=st["id"], resume=bool(st["resume"])))
    xmpp.register_handler(Callback(
        "chat state without a body",
        MatchXPath("{%s}message" % xmpp.default_ns),
        on_chatstate_only))
    if args.push_service:
        xmpp.register_handler(Callback(
            "XEP-0357 notification",
            MatchXPath("{%s}iq/{%s}pubsub/{%s}publish" % (xmpp.default_ns, NS_PUBSUB, NS_PUBSUB)),
            on_push_publish))
    xmpp.add_event_handler("failed_auth", lambda s: emit(event="auth_failure", xml=str(s)))
    xmpp.add_event_handler("no_auth", lambda _: peer.finish(1, "no acceptable SASL mechanism offered"))
    xmpp.add_event_handler("stream_error", lambda e: emit(event="stream_error", xml=str(e)))
    peer.add_exit_handlers()
    peer.run(direct_tls=args.direct_tls)


if __name__ == "__main__":
    main()
