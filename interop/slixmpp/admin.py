#!/usr/bin/python3
"""Account administration with slixmpp's own plugins, for admin_test.go.

Run with Debian's /usr/bin/python3 (python3-slixmpp). It logs in, runs one
scenario and prints one JSON object on stdout, then exits (1 on failure,
with {"error": TEXT}).

Scenarios:
  adhoc   XEP-0050 (xep_0050): list the commands of the server, run
          get-online-users-num (one stage) and change-user-password for
          --target with --new (form, then complete).
          Prints {"commands": [nodes], "online": N, "status": STATUS}.
  passwd  XEP-0077 (xep_0077): change the account's own password to --new.
          Prints {"changed": true}.
"""

import asyncio
import sys

import slixmpp

import peerlib
from peerlib import emit

ADMIN = "http://jabber.org/protocol/admin#"


class Client(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password, plugin_config=peerlib.plugin_config())
        self.args = args
        self.domain = self.boundjid.domain
        self.result = None
        # The server's certificate is self-signed; no channel-binding data
        # (see peerlib.no_channel_binding).
        peerlib.configure(self, plugins=("xep_0030", "xep_0004", "xep_0050", "xep_0077"))
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("failed_all_auth", lambda _: self.fail("authentication failed"))
        self.add_event_handler("connection_failed", lambda e: self.fail("connection failed: %r" % (e,)))
        self.add_event_handler("stream_error", lambda e: self.fail("stream error: %s" % e))

    def fail(self, text):
        if self.result is None:
            self.result = {"error": text}
        self.disconnect()

    async def start(self, _):
        try:
            if self.args.scenario == "adhoc":
                self.result = await self.adhoc()
            else:
                await self["xep_0077"].change_password(self.args.new, jid=self.domain)
                self.result = {"changed": True}
        except Exception as e:  # report any failure as JSON
            self.result = {"error": "%s: %s" % (type(e).__name__, e)}
        self.disconnect()

    async def adhoc(self):
        items = await self["xep_0050"].get_commands(self.domain)
        nodes = [it[1] for it in items["disco_items"]["items"]]
        done = asyncio.get_running_loop().create_future()

        def on_error(iq, session):
            done.set_exception(RuntimeError(iq["error"]["condition"]))

        def on_num(iq, session):
            form = iq["command"]["form"]
            done.set_result(form.get_values()["onlineusersnum"])

        self["xep_0050"].start_command(self.domain, ADMIN + "get-online-users-num",
                                       {"next": on_num, "error": on_error})
        online = await asyncio.wait_for(done, 10)

        done = asyncio.get_running_loop().create_future()

        def on_completed(iq, session):
            done.set_result(iq["command"]["status"])

        def on_form(iq, session):
            form = iq["command"]["form"]
            if "accountjid" not in form.get_fields():
                done.set_exception(RuntimeError("no accountjid field in the form"))
                return
            answer = self["xep_0004"].make_form(ftype="submit")
            answer.add_field(var="FORM_TYPE", ftype="hidden", value="http://jabber.org/protocol/admin")
            answer.add_field(var="accountjid", value=self.args.target)
            answer.add_field(var="password", value=self.args.new)
            session["payload"] = answer
            session["next"] = on_completed
            self["xep_0050"].complete_command(session)

        self["xep_0050"].start_command(self.domain, ADMIN + "change-user-password",
                                       {"next": on_form, "error": on_error})
        status = await asyncio.wait_for(done, 10)
        return {"commands": nodes, "online": online, "status": status}


def main():
    ap = peerlib.arg_parser()
    ap.add_argument("scenario", choices=["adhoc", "passwd"])
    ap.add_argument("--new", default="", help="the new password")
    ap.add_argument("--target", default="", help="the account whose password the admin changes")
    args = peerlib.parse_args(ap)
    loop = asyncio.get_event_loop()
    done = loop.create_future()
    c = Client(args)
    c.add_event_handler("disconnected", lambda _: done.done() or done.set_result(None))
    peerlib.connect(c, args)
    try:
        loop.run_until_complete(asyncio.wait_for(done, 30))
    except asyncio.TimeoutError:
        c.result = c.result or {"error": "timed out"}
    result = c.result or {"error": "disconnected before the scenario ran"}
    emit(**result)
    sys.exit(1 if "error" in result else 0)


if __name__ == "__main__":
    main()
