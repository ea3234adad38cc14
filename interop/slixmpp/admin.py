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

import argparse
import asyncio
import json
import logging
import ssl
import sys

import slixmpp

ADMIN = "http://jabber.org/protocol/admin#"


def emit(**ev):
    sys.stdout.write(json.dumps(ev) + "\n")
    sys.stdout.flush()


class Client(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password,
                         plugin_config={"feature_mechanisms": {"use_mech": "SCRAM-SHA-256"}})
        self.args = args
        self.domain = self.boundjid.domain
        self.result = None
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0004")
        self.register_plugin("xep_0050")
        self.register_plugin("xep_0077")
        # The server's certificate is self-signed.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        # No channel-binding data: slixmpp only knows tls-unique, which TLS
        # 1.3 lacks (see peer.py --no-channel-binding).
        mechs = self["feature_mechanisms"]
        default_cb = mechs.sasl_callback

        def no_cb(required, optional):
            creds = default_cb(required, optional)
            creds.pop("channel_binding", None)
            return creds
        mechs.sasl_callback = no_cb
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
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=["adhoc", "passwd"])
    ap.add_argument("--jid", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--new", default="", help="the new password")
    ap.add_argument("--target", default="", help="the account whose password the admin changes")
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    loop = asyncio.get_event_loop()
    done = loop.create_future()
    c = Client(args)
    c.add_event_handler("disconnected", lambda _: done.done() or done.set_result(None))
    c.connect((args.host, args.port), force_starttls=True)
    try:
        loop.run_until_complete(asyncio.wait_for(done, 30))
    except asyncio.TimeoutError:
        c.result = c.result or {"error": "timed out"}
    result = c.result or {"error": "disconnected before the scenario ran"}
    emit(**result)
    sys.exit(1 if "error" in result else 0)


if __name__ == "__main__":
    main()
