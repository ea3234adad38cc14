#!/usr/bin/python3
"""A slixmpp client for the PEP scenarios of pubsub_test.go.

Run with Debian's /usr/bin/python3 (python3-slixmpp). Like peer.py it logs
in, then reads JSON commands from stdin and writes JSON events to stdout,
one per line. It uses slixmpp's own plugins: xep_0060 and xep_0163 (PEP,
with +notify interests advertised through xep_0115), xep_0118 (tune),
xep_0084 (avatars) and xep_0048/xep_0049 (legacy bookmarks). slixmpp 1.8
has no XEP-0402 plugin: Bookmarks 2 items go through xep_0060 with
publish-options, as XEP-0402 §3 shows.

Commands:
  {"cmd": "subscribe", "to": JID}    presence subscription request
  {"cmd": "tune", "title": T}        xep_0118 publish_tune, answered by "published"
  {"cmd": "avatar"}                  xep_0084 data then metadata, answered by "published" with the id
  {"cmd": "bookmark_pep", "jid": ROOM, "name": N}
                                     XEP-0402 item via xep_0060 publish with options
  {"cmd": "bookmarks_get"}           xep_0048 over xep_0049, answered by "bookmarks"
  {"cmd": "bookmarks_set", "rooms": [{"jid", "name"}]}
                                     xep_0048 over xep_0049, answered by "stored"
  {"cmd": "pep_items", "node": N}    xep_0060 get_items on the own account, answered by "items"
  {"cmd": "quit"}

Events:
  {"event": "online", "jid", "mech", "tls_version"}
  {"event": "presence", "from", "type", "xml"}
  {"event": "pep", "from", "node", "id", "retract", "xml"}
  {"event": "published", "ok", "id", "error"}
  {"event": "bookmarks", "ok", "rooms": [{"jid", "name"}], "error"}
  {"event": "stored", "ok", "error"}
  {"event": "items", "ok", "ids", "error"}
  {"event": "error", "text"}
"""

import hashlib

from slixmpp.xmlstream import ET
from slixmpp.plugins.xep_0048.stanza import Bookmarks

import peerlib
from peerlib import emit

BOOKMARKS = "urn:xmpp:bookmarks:1"
# Any bytes do: XEP-0084 ids are their SHA-1.
AVATAR = bytes.fromhex("89504e470d0a1a0a") + b"parley interop avatar"


def main():
    args = peerlib.parse_args()
    xmpp = peerlib.client(args, plugins=(
        "xep_0004", "xep_0030", "xep_0115", "xep_0060", "xep_0163",
        "xep_0118", "xep_0084", "xep_0049", "xep_0048"))
    xmpp.auto_authorize = True
    xmpp.auto_subscribe = True
    peer = peerlib.Peer(xmpp, args)

    def session_bind(_):
        xmpp["xep_0163"].add_interest(BOOKMARKS)

    async def session_start(_):
        xmpp.send_presence()
        peerlib.emit_online(xmpp)

    def on_pep(retract):
        def handler(msg):
            items = msg["pubsub_event"]["items"]
            node = items["node"]
            # A list first: iterating the ElementBase itself while reading
            # it does not terminate in slixmpp 1.8.
            for it in list(items["substanzas"]):
                emit(event="pep", **{"from": str(msg["from"])}, node=node,
                     id=it["id"], retract=retract, xml=str(msg))
        return handler

    def options(fields):
        form = xmpp["xep_0004"].make_form(ftype="submit")
        form.add_field(var="FORM_TYPE", ftype="hidden",
                       value="http://jabber.org/protocol/pubsub#publish-options")
        for var, value in fields.items():
            form.add_field(var=var, value=value)
        return form

    async def tune(title):
        try:
            await xmpp["xep_0118"].publish_tune(artist="Parley", title=title, timeout=10)
            emit(event="published", ok=True)
        except Exception as e:  # IqError, IqTimeout
            emit(event="published", ok=False, error=repr(e))

    async def avatar():
        aid = hashlib.sha1(AVATAR).hexdigest()
        try:
            await xmpp["xep_0084"].publish_avatar(AVATAR, timeout=10)
            await xmpp["xep_0084"].publish_avatar_metadata(
                [{"id": aid, "type": "image/png", "bytes": len(AVATAR)}], timeout=10)
            emit(event="published", ok=True, id=aid)
        except Exception as e:
            emit(event="published", ok=False, error=repr(e))

    async def bookmark_pep(room, name):
        conf = ET.Element("{%s}conference" % BOOKMARKS, {"name": name, "autojoin": "true"})
        ET.SubElement(conf, "{%s}nick" % BOOKMARKS).text = "interop"
        try:
            await xmpp["xep_0060"].publish(
                xmpp.boundjid.bare, BOOKMARKS, id=room, payload=conf,
                options=options({"pubsub#persist_items": "true", "pubsub#max_items": "max",
                                 "pubsub#send_last_published_item": "never",
                                 "pubsub#access_model": "whitelist"}),
                timeout=10)
            emit(event="published", ok=True, id=room)
        except Exception as e:
            emit(event="published", ok=False, error=repr(e))

    async def bookmarks_get():
        try:
            iq = await xmpp["xep_0048"].get_bookmarks(timeout=10)
            rooms = [{"jid": str(c["jid"]), "name": c["name"]}
                     for c in iq["private"]["bookmarks"]["conferences"]]
            emit(event="bookmarks", ok=True, rooms=rooms)
        except Exception as e:
            emit(event="bookmarks", ok=False, error=repr(e), rooms=[])

    async def bookmarks_set(rooms):
        bm = Bookmarks()
        for r in rooms:
            bm.add_conference(r["jid"], "interop", name=r["name"])
        try:
            await xmpp["xep_0048"].set_bookmarks(bm, timeout=10)
            emit(event="stored", ok=True)
        except Exception as e:
            emit(event="stored", ok=False, error=repr(e))

    async def pep_items(node):
        try:
            iq = await xmpp["xep_0060"].get_items(xmpp.boundjid.bare, node, timeout=10)
            emit(event="items", ok=True, ids=sorted(it["id"] for it in iq["pubsub"]["items"]))
        except Exception as e:
            emit(event="items", ok=False, error=repr(e), ids=[])

    peer.commands.update({
        "subscribe": lambda c: xmpp.send_presence(pto=c["to"], ptype="subscribe"),
        "tune": lambda c: tune(c["title"]),
        "avatar": lambda c: avatar(),
        "bookmark_pep": lambda c: bookmark_pep(c["jid"], c["name"]),
        "bookmarks_get": lambda c: bookmarks_get(),
        "bookmarks_set": lambda c: bookmarks_set(c["rooms"]),
        "pep_items": lambda c: pep_items(c["node"]),
    })

    xmpp.add_event_handler("session_bind", session_bind)
    xmpp.add_event_handler("session_start", session_start)
    for name in ("pubsub_publish", "user_tune_publish", "avatar_metadata_publish"):
        xmpp.add_event_handler(name, on_pep(False))
    for name in ("pubsub_retract", "user_tune_retract", "avatar_metadata_retract"):
        xmpp.add_event_handler(name, on_pep(True))
    xmpp.add_event_handler("presence", peerlib.emit_presence)
    peer.add_exit_handlers()
    peer.run()


if __name__ == "__main__":
    main()
