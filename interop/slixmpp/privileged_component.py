"""A slixmpp external component (XEP-0114, slixmpp.ComponentXMPP) using
the server's grants through slixmpp's XEP-0356 plugin, remote-controlled
by privilege_test.go.

Events: "online" (jid), "privileges" (items: access -> type, as the
server advertised them), "presence" and "message" it receives,
"roster" (items: contact -> subscription), "added" and "refused"
(condition) for the answers to its requests.

Commands: {"cmd": "roster", "jid"} reads a user's roster;
{"cmd": "add", "jid", "contact", "name"} adds a contact to it;
{"cmd": "send_as", "from", "to", "body"} sends a message in a user's
name. Each goes out whatever the grants slixmpp was told of (the plugin
itself would refuse what it was not granted): the server must check.
"""

import peerlib
import slixmpp
from slixmpp.exceptions import IqError, IqTimeout


STANZAS = "{urn:ietf:params:xml:ns:xmpp-stanzas}"


def condition(stanza):
    """The defined condition of a stanza's <error/>.

    On a component stream <error/> is in jabber:component:accept, like
    the stanza (XEP-0114); slixmpp renames only the stanza itself to its
    namespace and looks for a jabber:client <error/>, so read the XML.
    """
    for el in stanza.xml:
        if el.tag.endswith("}error"):
            for c in el:
                if c.tag.startswith(STANZAS) and not c.tag.endswith("}text"):
                    return c.tag[len(STANZAS):]
    return ""


def main():
    ap = peerlib.arg_parser()
    ap.add_argument("--server", required=True, help="the served domain")
    args = peerlib.parse_args(ap)
    peerlib.stdout_to_stderr()
    # server_host is where the plugin sends privileged messages: the
    # served domain; connect goes to --host, --port.
    xmpp = slixmpp.ComponentXMPP(args.jid, args.password, args.server, args.port)
    xmpp.register_plugin("xep_0356")
    priv = xmpp["xep_0356"]
    peer = peerlib.Peer(xmpp, args)
    peer.add_exit_handlers()

    def session_start(_):
        peerlib.emit(event="online", jid=str(xmpp.boundjid), mech="handshake", tls_version=None)
        # The echo startPeer waits for: presence to itself, through the
        # server.
        xmpp.send_presence(pfrom=xmpp.boundjid.bare, pto=xmpp.boundjid.bare)

    xmpp.add_event_handler("session_start", session_start)
    xmpp.add_event_handler("privileges_advertised",
                           lambda _: peerlib.emit(event="privileges", items=dict(priv.granted_privileges)))
    xmpp.add_event_handler("presence", peerlib.emit_presence)
    def message(m):
        peerlib.emit(event="message", **{"from": str(m["from"])}, type=m["type"], body=m["body"],
                     condition=condition(m), xml=str(m))

    xmpp.add_event_handler("message", message)
    xmpp.add_event_handler("message_error", message)

    async def ask(iq):
        try:
            return await iq.send(timeout=10)
        except IqError as e:
            peerlib.emit(event="refused", condition=condition(e.iq), xml=str(e.iq))
        except IqTimeout:
            peerlib.emit(event="error", text="no answer")
        return None

    async def roster(c):
        res = await ask(priv._make_get_roster(c["jid"]))
        if res is not None:
            items = {str(j): it["subscription"] for j, it in res["roster"]["items"].items()}
            peerlib.emit(event="roster", **{"from": str(res["from"])}, items=items)

    async def add(c):
        items = {c["contact"]: {"name": c.get("name", ""), "subscription": "none", "groups": []}}
        res = await ask(priv._make_set_roster(c["jid"], items))
        if res is not None:
            peerlib.emit(event="added", **{"from": str(res["from"])})

    def send_as(c):
        msg = xmpp.make_message(mto=c["to"], mbody=c["body"], mtype="chat", mfrom=c["from"])
        priv._make_privileged_message(msg).send()

    peer.commands.update(roster=roster, add=add, send_as=send_as)
    peer.run(connect_with=lambda: xmpp.connect(args.host, args.port))


if __name__ == "__main__":
    main()
