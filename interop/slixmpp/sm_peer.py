#!/usr/bin/python3
"""A slixmpp client for the stream management scenario of sm_test.go.

Run with Debian's /usr/bin/python3 (python3-slixmpp). Like peer.py it logs
in, then reads JSON commands from stdin and writes JSON events to stdout,
one per line; stream management is slixmpp's own xep_0198 plugin, which
enables SM with resumption after binding and resumes on reconnection.

Commands:
  {"cmd": "send", "to": JID, "body": TEXT}
  {"cmd": "cut"}      drops the TCP connection without closing the stream
                      (no closing tag, no TLS alert), then reconnects: the
                      plugin resumes the session
  {"cmd": "ack"}      requests an ack from the server (<r/>)
  {"cmd": "quit"}

Events:
  {"event": "online", "jid", "mech", "tls_version"}
  {"event": "sm_enabled", "id", "resume"}
  {"event": "resumed"}
  {"event": "sm_failed"}
  {"event": "acked", "body"}     the server acknowledged a message we sent
  {"event": "presence", "from", "type", "xml"}
  {"event": "message", "from", "type", "body", "xml"}
  {"event": "error", "text"}
"""

import peerlib
from peerlib import emit


def main():
    args = peerlib.parse_args()
    xmpp = peerlib.client(args, plugins=("xep_0030", "xep_0198", "xep_0199"))
    xmpp.auto_authorize = None
    xmpp.auto_subscribe = False
    peer = peerlib.Peer(xmpp, args)
    state = {"cutting": False}

    async def session_start(_):
        xmpp.send_presence()
        peerlib.emit_online(xmpp)

    def on_message(msg):
        emit(event="message", **{"from": str(msg["from"])}, type=msg["type"],
             body=msg["body"], xml=str(msg))

    def on_acked(st):
        if st.name == "message":
            emit(event="acked", body=st["body"])

    def cut():
        peerlib.cut(xmpp, before=lambda: state.update(cutting=True))

    def on_disconnected(_):
        if state["cutting"] and not peer.quitting:
            state["cutting"] = False
            peer.loop.call_later(0.5, lambda: peerlib.connect(xmpp, args))
            return
        peer.finish(0)

    peer.commands.update({
        "send": lambda c: peerlib.send_message(xmpp, c),
        "cut": lambda c: cut(),
        "ack": lambda c: xmpp["xep_0198"].request_ack(),
    })

    xmpp.add_event_handler("session_start", session_start)
    xmpp.add_event_handler("session_resumed", lambda _: emit(event="resumed"))
    xmpp.add_event_handler("sm_enabled", lambda st: emit(event="sm_enabled", id=st["id"], resume=bool(st["resume"])))
    xmpp.add_event_handler("sm_failed", lambda _: emit(event="sm_failed"))
    xmpp.add_event_handler("stanza_acked", on_acked)
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("presence", peerlib.emit_presence)
    peer.add_exit_handlers(disconnected=False)
    xmpp.add_event_handler("disconnected", on_disconnected)
    peer.run()


if __name__ == "__main__":
    main()
