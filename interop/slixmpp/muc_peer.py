#!/usr/bin/python3
"""A slixmpp client for the multi-user chat scenario of muc_test.go.

Run with Debian's /usr/bin/python3 (python3-slixmpp). Like peer.py it logs
in, then reads JSON commands from stdin and writes JSON events to stdout,
one per line. Rooms are handled by slixmpp's own xep_0045 plugin
(join_muc_wait, get_room_config/set_room_config, set_subject, leave_muc).

With --pep-nick NICK the client also behaves as Gajim does: it announces
entity capabilities (xep_0115) whose features ask for +notify of
XEP-0172 user nicks (xep_0163, xep_0172), and publishes its own nick to
its PEP node, readable by anyone (publish-options pubsub#access_model
open, as clients publish avatars and nicks), before going online: the
server then knows a PEP node of this account that the client wants
notifications of and that any JID, a room occupant's too, may read.
slixmpp 1.8 prints to stdout while joining, so events go to the original
stdout and everything else printed goes to stderr.

Commands:
  {"cmd": "join", "room": ROOM, "nick": N}   answered by "joined"
  {"cmd": "configure", "room": ROOM}         fetch the form, submit it unchanged; answered by "configured"
  {"cmd": "say", "room": ROOM, "body": B}    groupchat message
  {"cmd": "subject", "room": ROOM, "subject": S}
  {"cmd": "leave", "room": ROOM, "nick": N}
  {"cmd": "send", "to": JID, "body": B}      a chat message
  {"cmd": "quit"}

Events:
  {"event": "online", "jid", "mech", "tls_version"}
  {"event": "presence", "from", "type", "xml"}
  {"event": "joined", "ok", "codes", "affiliation", "role", "occupants",
   "error", "condition"}                      condition: of a presence error
  {"event": "configured", "ok", "fields", "error"}
  {"event": "muc_presence", "from", "type", "codes", "role", "affiliation", "xml"}
  {"event": "groupchat", "from", "body", "id", "delayed"}
  {"event": "subject", "from", "subject"}
  {"event": "message", "from", "type", "body"}       any other message with a body
  {"event": "raw_presence", "from", "type", "xml"}   every presence, before plugins
  {"event": "error", "text"}
"""

import slixmpp
from slixmpp.exceptions import PresenceError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

import peerlib
from peerlib import emit

peerlib.stdout_to_stderr()


def main():
    ap = peerlib.arg_parser()
    ap.add_argument("--pep-nick", default=None,
                    help="announce +notify of user nicks in caps and publish this nick first")
    args = peerlib.parse_args(ap)
    plugins = ("xep_0004", "xep_0030", "xep_0045", "xep_0203")
    if args.pep_nick:
        plugins += ("xep_0115", "xep_0060", "xep_0163", "xep_0172")
    xmpp = peerlib.client(args, plugins=plugins)
    peer = peerlib.Peer(xmpp, args)

    async def session_start(_):
        xmpp.send_presence()
        if args.pep_nick:
            try:
                form = xmpp["xep_0004"].make_form(ftype="submit")
                form.add_field(var="FORM_TYPE", ftype="hidden",
                               value="http://jabber.org/protocol/pubsub#publish-options")
                form.add_field(var="pubsub#access_model", value="open")
                await xmpp["xep_0172"].publish_nick(args.pep_nick, options=form, timeout=10)
            except Exception as e:  # IqError, IqTimeout
                peer.finish(1, "publishing the nick: %r" % (e,))
                return
        peerlib.emit_online(xmpp)

    async def join(room, nick):
        try:
            pres, _subject, occupants, _history = await xmpp["xep_0045"].join_muc_wait(
                slixmpp.JID(room), nick, maxstanzas=0, timeout=10)
            emit(event="joined", ok=True, codes=sorted(pres["muc"]["status_codes"]),
                 affiliation=pres["muc"]["affiliation"], role=pres["muc"]["role"],
                 occupants=[str(o["from"]) for o in occupants])
        except PresenceError as e:
            emit(event="joined", ok=False, error=repr(e), condition=e.condition,
                 xml=str(e.presence), codes=[])
        except Exception as e:  # TimeoutError
            emit(event="joined", ok=False, error=repr(e), codes=[])

    async def configure(room):
        try:
            form = await xmpp["xep_0045"].get_room_config(slixmpp.JID(room), timeout=10)
            fields = sorted(form.get_fields().keys())
            await xmpp["xep_0045"].set_room_config(slixmpp.JID(room), form, timeout=10)
            emit(event="configured", ok=True, fields=fields)
        except Exception as e:
            emit(event="configured", ok=False, error=repr(e))

    peer.commands.update({
        "join": lambda c: join(c["room"], c["nick"]),
        "configure": lambda c: configure(c["room"]),
        "say": lambda c: xmpp.send_message(mto=c["room"], mbody=c["body"], mtype="groupchat"),
        "subject": lambda c: xmpp["xep_0045"].set_subject(slixmpp.JID(c["room"]), c["subject"]),
        "leave": lambda c: xmpp["xep_0045"].leave_muc(slixmpp.JID(c["room"]), c["nick"]),
        "send": lambda c: peerlib.send_message(xmpp, c),
    })

    def on_muc_presence(p):
        emit(event="muc_presence", **{"from": str(p["from"])}, type=p["type"],
             codes=sorted(p["muc"]["status_codes"]), role=p["muc"]["role"],
             affiliation=p["muc"]["affiliation"], xml=str(p))

    def on_groupchat(m):
        if m["body"]:
            emit(event="groupchat", **{"from": str(m["from"])}, body=m["body"], id=m["id"],
                 delayed=bool(m["delay"]["stamp"]))

    xmpp.add_event_handler("session_start", session_start)
    # Every presence as received: xep_0045 drops what comes from a room it
    # no longer tracks (its own unavailable presence after leave_muc).
    xmpp.register_handler(Callback("raw presence", StanzaPath("presence"), lambda p: emit(
        event="raw_presence", **{"from": str(p["from"])}, type=p["type"], xml=str(p))))
    xmpp.add_event_handler("groupchat_presence", on_muc_presence)
    xmpp.add_event_handler("groupchat_message", on_groupchat)
    xmpp.add_event_handler("message", lambda m: m["type"] != "groupchat" and emit(
        event="message", **{"from": str(m["from"])}, type=m["type"], body=m["body"]))
    xmpp.add_event_handler("groupchat_subject", lambda m: emit(
        event="subject", **{"from": str(m["from"])}, subject=m["subject"]))
    xmpp.add_event_handler("presence", peerlib.emit_presence)
    peer.add_exit_handlers()
    peer.run()


if __name__ == "__main__":
    main()
