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
  {"cmd": "join", "room": ROOM, "nick": N, "history": H}
                                             answered by "joined"; H: messages of history
                                             asked for (default 0)
  {"cmd": "configure", "room": ROOM, "set": {VAR: VALUE}}
                                             fetch the form, submit it with the values in "set"
                                             (optional) changed; answered by "configured"
  {"cmd": "say", "room": ROOM, "body": B}    groupchat message
  {"cmd": "subject", "room": ROOM, "subject": S}
  {"cmd": "leave", "room": ROOM, "nick": N}
  {"cmd": "nick", "room": ROOM, "nick": N}    change nick: presence to ROOM/N (XEP-0045 §7.6)
  {"cmd": "send", "to": JID, "body": B}      a chat message
  {"cmd": "mam", "room": ROOM, "max": N}     page through the room's archive with xep_0313
                                             (N per page), answered by "mam"
  {"cmd": "moderate", "room": ROOM, "id": STANZA_ID, "reason": R}
                                             retract a message as a moderator (XEP-0425,
                                             urn:xmpp:message-moderate:1, a raw IQ: slixmpp's
                                             xep_0425 speaks the older :0); answered by "moderated"
  {"cmd": "adhoc", "jid": JID, "node": NODE, "set": {VAR: VALUE}}
                                             run an XEP-0050 command with xep_0050: take its
                                             form and submit it with the values in "set"
                                             changed (a list for a multi-value field);
                                             answered by "adhoc"
  {"cmd": "quit"}

Events:
  {"event": "online", "jid", "mech", "tls_version"}
  {"event": "presence", "from", "type", "xml"}
  {"event": "joined", "ok", "codes", "affiliation", "role", "occupants",
   "history", "error", "condition"}           condition: of a presence error;
                                              history: the bodies replayed
  {"event": "configured", "ok", "fields", "error"}
  {"event": "muc_presence", "from", "type", "codes", "role", "affiliation", "xml"}
  {"event": "groupchat", "from", "body", "id", "delayed", "stanza_id", "occupant_id"}
                                              stanza_id: the one 'by' the room
  {"event": "mam", "ok", "results": [{"id", "from", "body", "retracted"}], "error"}
  {"event": "moderated", "ok", "error"}
  {"event": "adhoc", "ok", "fields", "status", "notes", "error"}
                                              fields: of the form; notes: the texts of the
                                              command's notes
  {"event": "retraction", "from", "retracts", "moderated_by", "reason"}
  {"event": "subject", "from", "subject"}
  {"event": "message", "from", "type", "body"}       any other message with a body
  {"event": "raw_presence", "from", "type", "xml"}   every presence, before plugins
  {"event": "error", "text"}
"""

import asyncio

import slixmpp
import xml.etree.ElementTree as ET

from slixmpp.exceptions import PresenceError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

import peerlib
from peerlib import emit

peerlib.stdout_to_stderr()

NS_RETRACT = "urn:xmpp:message-retract:1"
NS_MODERATE = "urn:xmpp:message-moderate:1"


def main():
    ap = peerlib.arg_parser()
    ap.add_argument("--pep-nick", default=None,
                    help="announce +notify of user nicks in caps and publish this nick first")
    args = peerlib.parse_args(ap)
    plugins = ("xep_0004", "xep_0030", "xep_0045", "xep_0050", "xep_0059", "xep_0203", "xep_0297", "xep_0313")
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

    async def join(room, nick, history):
        try:
            pres, _subject, occupants, replayed = await xmpp["xep_0045"].join_muc_wait(
                slixmpp.JID(room), nick, maxstanzas=history, timeout=10)
            emit(event="joined", ok=True, codes=sorted(pres["muc"]["status_codes"]),
                 affiliation=pres["muc"]["affiliation"], role=pres["muc"]["role"],
                 occupants=[str(o["from"]) for o in occupants],
                 history=[h["body"] for h in replayed])
        except PresenceError as e:
            emit(event="joined", ok=False, error=repr(e), condition=e.condition,
                 xml=str(e.presence), codes=[])
        except Exception as e:  # TimeoutError
            emit(event="joined", ok=False, error=repr(e), codes=[])

    async def configure(room, values):
        try:
            form = await xmpp["xep_0045"].get_room_config(slixmpp.JID(room), timeout=10)
            fields = sorted(form.get_fields().keys())
            for var, value in values.items():
                form.get_fields()[var]["value"] = value
            await xmpp["xep_0045"].set_room_config(slixmpp.JID(room), form, timeout=10)
            emit(event="configured", ok=True, fields=fields)
        except Exception as e:
            emit(event="configured", ok=False, error=repr(e))

    async def mam(room, page):
        results = []
        try:
            async for msg in xmpp["xep_0313"].iterate(jid=slixmpp.JID(room), rsm={"max": page}):
                res = msg["mam_result"]
                inner = res["forwarded"]["stanza"]
                results.append({"id": res["id"], "from": str(inner["from"]), "body": inner["body"],
                                "retracted": inner.xml.find("{%s}retracted" % NS_RETRACT) is not None})
            emit(event="mam", ok=True, results=results)
        except Exception as e:
            emit(event="mam", ok=False, error=repr(e), results=results)

    async def moderate(room, sid, reason):
        iq = xmpp.make_iq_set(ito=slixmpp.JID(room))
        mod = ET.SubElement(iq.xml, "{%s}moderate" % NS_MODERATE, id=sid)
        ET.SubElement(mod, "{%s}retract" % NS_RETRACT)
        ET.SubElement(mod, "{%s}reason" % NS_MODERATE).text = reason
        try:
            await iq.send(timeout=10)
            emit(event="moderated", ok=True)
        except Exception as e:  # IqError, IqTimeout
            emit(event="moderated", ok=False, error=repr(e))

    async def adhoc(jid, node, values):
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def on_error(iq, session):
            if not done.done():
                done.set_exception(RuntimeError("%s: %s" % (iq["error"]["condition"], iq["error"]["text"])))

        def on_completed(iq, session):
            if not done.done():
                done.set_result((iq["command"]["status"],
                                 [text for _type, text in iq["command"]["notes"]]))

        fields = []

        def on_form(iq, session):
            form = iq["command"]["form"]
            fields.extend(form.get_fields().keys())
            answer = xmpp["xep_0004"].make_form(ftype="submit")
            for var, field in form.get_fields().items():
                if field["type"] == "fixed":
                    continue
                value = values.get(var, field.get_value(convert=False))
                answer.add_field(var=var, ftype=field["type"], value=value if value is not None else "")
            session["payload"] = answer
            session["next"] = on_completed
            xmpp["xep_0050"].complete_command(session)

        xmpp["xep_0050"].start_command(slixmpp.JID(jid), node, {"next": on_form, "error": on_error})
        try:
            status, notes = await asyncio.wait_for(done, 10)
            emit(event="adhoc", ok=True, fields=sorted(fields), status=status, notes=notes)
        except Exception as e:  # the command's error, or a timeout
            emit(event="adhoc", ok=False, error=repr(e), fields=sorted(fields))

    peer.commands.update({
        "adhoc": lambda c: adhoc(c["jid"], c["node"], c.get("set", {})),
        "join": lambda c: join(c["room"], c["nick"], int(c.get("history", 0))),
        "configure": lambda c: configure(c["room"], c.get("set", {})),
        "mam": lambda c: mam(c["room"], int(c.get("max", 10))),
        "moderate": lambda c: moderate(c["room"], c["id"], c.get("reason", "")),
        "say": lambda c: xmpp.send_message(mto=c["room"], mbody=c["body"], mtype="groupchat"),
        "subject": lambda c: xmpp["xep_0045"].set_subject(slixmpp.JID(c["room"]), c["subject"]),
        "leave": lambda c: xmpp["xep_0045"].leave_muc(slixmpp.JID(c["room"]), c["nick"]),
        "nick": lambda c: xmpp.send_presence(pto=slixmpp.JID(c["room"] + "/" + c["nick"])),
        "send": lambda c: peerlib.send_message(xmpp, c),
    })

    def on_muc_presence(p):
        emit(event="muc_presence", **{"from": str(p["from"])}, type=p["type"],
             codes=sorted(p["muc"]["status_codes"]), role=p["muc"]["role"],
             affiliation=p["muc"]["affiliation"], xml=str(p))

    def on_groupchat(m):
        room = m["from"].bare
        sid = ""
        for el in m.xml.findall("{urn:xmpp:sid:0}stanza-id"):
            if el.get("by") == room:
                sid = el.get("id")
        oid = m.xml.find("{urn:xmpp:occupant-id:0}occupant-id")
        retract = m.xml.find("{%s}retract" % NS_RETRACT)
        if retract is not None:
            moderated = retract.find("{%s}moderated" % NS_MODERATE)
            emit(event="retraction", **{"from": str(m["from"])}, retracts=retract.get("id"),
                 moderated_by=moderated.get("by") if moderated is not None else "",
                 reason=retract.findtext("{%s}reason" % NS_RETRACT) or "")
            return
        if m["body"]:
            emit(event="groupchat", **{"from": str(m["from"])}, body=m["body"], id=m["id"],
                 delayed=bool(m["delay"]["stamp"]), stanza_id=sid,
                 occupant_id=oid.get("id") if oid is not None else "")

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
