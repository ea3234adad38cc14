#!/usr/bin/python3
"""slixmpp registers an account in-band (XEP-0077, its xep_0077 plugin) on
the unauthenticated stream, then logs in with it. Driven by sasl2_test.go.

Events on stdout, one JSON object per line:
  {"event": "registered"}
  {"event": "register_error", "condition", "xml"} then exit
  {"event": "online", "jid", "mech"}
  {"event": "error", "text"} then exit 1
"""

from slixmpp.exceptions import IqError, IqTimeout

import peerlib
from peerlib import emit


def main():
    args = peerlib.parse_args()
    # Without channel-binding data (see peerlib.no_channel_binding), use a
    # mechanism without -PLUS.
    xmpp = peerlib.client(args, plugins=("xep_0004", "xep_0066", "xep_0077"))
    # slixmpp 1.8 queues every stanza sent before the session starts,
    # including xep_0077's own registration IQs (only bind and session
    # IQs pass): let them through until the account is registered.
    xmpp._always_send_everything = True
    peer = peerlib.Peer(xmpp, args)
    finish = peer.finish

    async def register(form):
        iq = xmpp.Iq()
        iq["type"] = "set"
        iq["register"]["username"] = xmpp.boundjid.user
        iq["register"]["password"] = xmpp.password
        try:
            await iq.send(timeout=10)
        except IqError as e:
            emit(event="register_error", condition=e.iq["error"]["condition"], xml=str(e.iq))
            xmpp.disconnect()
            finish(0)
            return
        except IqTimeout:
            emit(event="error", text="registration timed out")
            finish(1)
            return
        xmpp._always_send_everything = False
        emit(event="registered")

    async def session_start(_):
        m = xmpp["feature_mechanisms"]
        emit(event="online", jid=str(xmpp.boundjid), mech=m.mech.name if m.mech else None)
        xmpp.disconnect(wait=2.0)

    xmpp.add_event_handler("register", register)
    xmpp.add_event_handler("session_start", session_start)
    xmpp.add_event_handler("disconnected", lambda _: finish(0))
    xmpp.add_event_handler("failed_auth", lambda _: (emit(event="error", text="authentication failed"), finish(1)))
    xmpp.add_event_handler("stream_error", lambda e: (emit(event="error", text="stream error: " + str(e)), finish(1)))
    peer.run(stdin=False)


if __name__ == "__main__":
    main()
