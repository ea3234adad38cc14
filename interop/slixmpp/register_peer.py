#!/usr/bin/python3
"""slixmpp registers an account in-band (XEP-0077, its xep_0077 plugin) on
the unauthenticated stream, then logs in with it. Driven by sasl2_test.go.

Events on stdout, one JSON object per line:
  {"event": "registered"}
  {"event": "register_error", "condition", "xml"} then exit
  {"event": "online", "jid", "mech"}
  {"event": "error", "text"} then exit 1
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout


def emit(**ev):
    sys.stdout.write(json.dumps(ev) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jid", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")

    # Without channel-binding data (below), use a mechanism without -PLUS.
    xmpp = slixmpp.ClientXMPP(args.jid, args.password,
                              plugin_config={"feature_mechanisms": {"use_mech": "SCRAM-SHA-256"}})
    xmpp.ssl_context.check_hostname = False
    xmpp.ssl_context.verify_mode = ssl.CERT_NONE
    # See peer.py: slixmpp 1.8 would offer tls-unique data on TLS 1.3.
    mechs = xmpp["feature_mechanisms"]
    default_cb = mechs.sasl_callback

    def no_cb(required, optional):
        creds = default_cb(required, optional)
        creds.pop("channel_binding", None)
        return creds
    mechs.sasl_callback = no_cb
    xmpp.register_plugin("xep_0004")
    xmpp.register_plugin("xep_0066")
    xmpp.register_plugin("xep_0077")
    # slixmpp 1.8 queues every stanza sent before the session starts,
    # including xep_0077's own registration IQs (only bind and session
    # IQs pass): let them through until the account is registered.
    xmpp._always_send_everything = True

    loop = asyncio.get_event_loop()
    done = loop.create_future()

    def finish(code):
        if not done.done():
            done.set_result(code)

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
    xmpp.connect((args.host, args.port))
    sys.exit(loop.run_until_complete(done))


if __name__ == "__main__":
    main()
