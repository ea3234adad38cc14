#!/usr/bin/python3
"""slixmpp moves a file through the server's SOCKS5 bytestreams proxy
(XEP-0065, its xep_0065 plugin at its defaults: the proxy is discovered
through the server's disco#items). Driven by proxy65_test.go.

--receive: accepts one bytestream and reports what came through it.
--send-to JID --size N: opens a bytestream to JID through the proxy and
sends N random bytes.

Events on stdout, one JSON object per line:
  {"event": "online", "jid", ...}
  {"event": "presence", "from", "type", "xml"}
  {"event": "proxies", "items": {jid: "host:port"}}        (sender)
  {"event": "sent", "body": sha256, "text": size}          (sender)
  {"event": "received", "body": sha256, "text": size}      (receiver)
  {"event": "error", "text"} then exit 1
"""

import asyncio
import hashlib
import os

import peerlib
from peerlib import emit


def main():
    ap = peerlib.arg_parser()
    ap.add_argument("--receive", action="store_true")
    ap.add_argument("--send-to")
    ap.add_argument("--size", type=int, default=1 << 20)
    args = peerlib.parse_args(ap)
    peerlib.stdout_to_stderr()
    xmpp = peerlib.client(args, plugins=("xep_0030", "xep_0065"))
    peer = peerlib.Peer(xmpp, args)
    peer.add_exit_handlers()
    s5b = xmpp["xep_0065"]
    if args.receive:
        s5b.auto_accept = True
    got = hashlib.sha256()
    size = 0

    def on_data(data):
        nonlocal size
        got.update(data)
        size += len(data)

    def on_closed(_exc):
        if args.receive:
            emit(event="received", body=got.hexdigest(), text=str(size))
            xmpp.disconnect(wait=2.0)

    async def send():
        try:
            sock = await s5b.handshake(args.send_to, timeout=20)
        except Exception as e:  # IqError, IqTimeout: reported to the test
            peer.finish(1, "handshake failed: %r" % (e,))
            return
        emit(event="proxies", items={str(j): "%s:%s" % hp for j, hp in s5b._proxies.items()})
        if sock is None:
            peer.finish(1, "no bytestream (the target used an unknown proxy, or the connection failed)")
            return
        data = os.urandom(args.size)
        for i in range(0, len(data), 32768):
            await sock.write(data[i:i + 32768])
        emit(event="sent", body=hashlib.sha256(data).hexdigest(), text=str(len(data)))
        sock.transport.close()  # after what is buffered is written
        xmpp.disconnect(wait=2.0)

    async def session_start(_):
        xmpp.send_presence()
        peerlib.emit_online(xmpp)
        if args.send_to:
            asyncio.ensure_future(send())

    xmpp.add_event_handler("session_start", session_start)
    xmpp.add_event_handler("presence", peerlib.emit_presence)
    xmpp.add_event_handler("socks5_data", on_data)
    xmpp.add_event_handler("socks5_closed", on_closed)
    peer.run(stdin=False)


if __name__ == "__main__":
    main()
