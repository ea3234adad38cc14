#!/usr/bin/python3
"""A slixmpp client for the carbons and MAM scenarios of mam_test.go.

Run with Debian's /usr/bin/python3 (python3-slixmpp). Like peer.py it logs
in, then reads JSON commands from stdin and writes JSON events to stdout,
one per line; it uses slixmpp's own xep_0280 and xep_0313 plugins.

Commands:
  {"cmd": "send", "to": JID, "body": TEXT}
  {"cmd": "carbons"}                enables carbons (xep_0280), answered by "carbons"
  {"cmd": "mam", "max": N}          pages through the whole archive with
                                    xep_0313 (N per page), answered by "mam"
  {"cmd": "quit"}

Events:
  {"event": "online", "jid", "mech", "tls_version"}
  {"event": "presence", "from", "type", "xml"}
  {"event": "message", "from", "type", "body", "stanza_id", "xml"}
  {"event": "carbon", "direction": "sent"|"received", "from", "to", "body", "xml"}
  {"event": "carbons", "ok", "error"}
  {"event": "mam", "ok", "error", "results": [{"id", "from", "to", "body", "stamp"}]}
  {"event": "error", "text"}
"""

import peerlib
from peerlib import emit


def main():
    args = peerlib.parse_args()
    xmpp = peerlib.client(args, plugins=(
        "xep_0030", "xep_0059", "xep_0203", "xep_0280", "xep_0297", "xep_0313", "xep_0359"))
    xmpp.auto_authorize = None
    xmpp.auto_subscribe = False
    peer = peerlib.Peer(xmpp, args)

    async def session_start(_):
        xmpp.send_presence()
        peerlib.emit_online(xmpp)

    def on_message(msg):
        if msg.xml.find("{urn:xmpp:carbons:2}sent") is not None or \
           msg.xml.find("{urn:xmpp:carbons:2}received") is not None or \
           msg.xml.find("{urn:xmpp:mam:2}result") is not None:
            return  # carbons and archive results have their own events
        sid = msg.xml.find("{urn:xmpp:sid:0}stanza-id")
        emit(event="message", **{"from": str(msg["from"])}, type=msg["type"],
             body=msg["body"],
             stanza_id=sid.get("id") if sid is not None and sid.get("by") == xmpp.boundjid.bare else None,
             xml=str(msg))

    def on_carbon(direction):
        def handler(msg):
            inner = msg["carbon_%s" % direction]
            emit(event="carbon", direction=direction, **{"from": str(inner["from"])},
                 to=str(inner["to"]), body=inner["body"], xml=str(msg))
        return handler

    async def carbons():
        try:
            await xmpp["xep_0280"].enable(timeout=10)
            emit(event="carbons", ok=True)
        except Exception as e:  # IqError, IqTimeout
            emit(event="carbons", ok=False, error=repr(e))

    async def mam(page):
        results = []
        try:
            async for msg in xmpp["xep_0313"].iterate(rsm={"max": page}):
                res = msg["mam_result"]
                fwd = res["forwarded"]
                inner = fwd["stanza"]
                results.append({"id": res["id"], "from": str(inner["from"]), "to": str(inner["to"]),
                                "body": inner["body"], "stamp": str(fwd["delay"]["stamp"])})
            emit(event="mam", ok=True, results=results)
        except Exception as e:
            emit(event="mam", ok=False, error=repr(e), results=results)

    peer.commands.update({
        "send": lambda c: peerlib.send_message(xmpp, c),
        "carbons": lambda c: carbons(),
        "mam": lambda c: mam(int(c.get("max", 10))),
    })

    xmpp.add_event_handler("session_start", session_start)
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("carbon_received", on_carbon("received"))
    xmpp.add_event_handler("carbon_sent", on_carbon("sent"))
    xmpp.add_event_handler("presence", peerlib.emit_presence)
    peer.add_exit_handlers()
    peer.run()


if __name__ == "__main__":
    main()
