#!/usr/bin/python3
"""Print the Markdown comparison table of bench/compare.sh results.

Reads the JSON report lines (one per scenario run, tagged with "server"
and "label") and prints one row per figure with a column per server and
the ratios Parley/ejabberd and Parley/Prosody. For figures where lower
is better (latency, memory) a ratio below 1 favours Parley.
"""
import argparse
import json

SERVERS = ["parley", "prosody", "ejabberd"]


def load(path):
    res = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                res[(r["server"], r["label"])] = r
    return res


def ms(ns):
    return ns / 1e6


ROWS = [
    # (title, label, function of report, format, better)
    ("logins/s (TLS + SCRAM-SHA-1), storm", "login", lambda r: r["logins_per_sec"], "{:.0f}", "higher"),
    ("login latency p99 (ms)", "login", lambda r: ms(r["login_latency"]["p99_ns"]), "{:.1f}", "lower"),
    ("idle: server RSS per session (KiB)", "idle", lambda r: r["rss_per_session"] / 1024, "{:.1f}", "lower"),
    ("idle: server PSS per session (KiB)", "idle", lambda r: r["pss_per_session"] / 1024, "{:.1f}", "lower"),
    ("idle: marginal server RSS per session, second half (KiB)", "idle", lambda r: r["marginal_rss_per_session"] / 1024, "{:.1f}", "lower"),
    ("idle: marginal server PSS per session, second half (KiB)", "idle", lambda r: r["marginal_pss_per_session"] / 1024, "{:.1f}", "lower"),
    ("idle: server RSS with all sessions (MiB)", "idle", lambda r: r["mem_after"]["rss"] / 2**20, "{:.1f}", "lower"),
    ("idle, all disconnect at once: server RSS peak (MiB)", "idle", lambda r: r["disconnect"]["peak"]["rss"] / 2**20, "{:.1f}", "lower"),
    ("idle, all disconnect at once: server RSS after (MiB)", "idle", lambda r: r["disconnect"]["after"]["rss"] / 2**20, "{:.1f}", "lower"),
    ("idle, all disconnect at once: RSS peak / RSS with all sessions", "idle", lambda r: r["disconnect"]["peak"]["rss"] / r["mem_after"]["rss"], "{:.2f}", "lower"),
    ("idle, all disconnect at once: RSS after / RSS with all sessions", "idle", lambda r: r["disconnect"]["after"]["rss"] / r["mem_after"]["rss"], "{:.2f}", "lower"),
    ("idle, all log in again at once: logins/s", "idle", lambda r: r["reconnect"]["logins_per_sec"], "{:.0f}", "higher"),
    ("idle, all log in again at once: server RSS peak (MiB)", "idle", lambda r: r["reconnect"]["peak"]["rss"] / 2**20, "{:.1f}", "lower"),
    ("idle, all log in again at once: server RSS after (MiB)", "idle", lambda r: r["reconnect"]["after"]["rss"] / 2**20, "{:.1f}", "lower"),
    ("idle, all log in again at once: RSS after / RSS with all sessions the first time", "idle", lambda r: r["reconnect"]["after"]["rss"] / r["mem_after"]["rss"], "{:.2f}", "lower"),
    ("chat at saturation: messages/s", "chat-max", lambda r: r["msgs_per_sec"], "{:.0f}", "higher"),
    ("chat at saturation: latency p50 (ms)", "chat-max", lambda r: ms(r["latency"]["p50_ns"]), "{:.2f}", "lower"),
    ("chat at saturation: latency p99 (ms)", "chat-max", lambda r: ms(r["latency"]["p99_ns"]), "{:.2f}", "lower"),
    ("chat at saturation: lost", "chat-max", lambda r: r["lost"], "{:d}", "lower"),
    ("chat at ejabberd's saturation rate: messages/s", "chat-at-ejabberd-rate", lambda r: r["msgs_per_sec"], "{:.0f}", "higher"),
    ("chat at ejabberd's saturation rate: p99 (ms)", "chat-at-ejabberd-rate", lambda r: ms(r["latency"]["p99_ns"]), "{:.2f}", "lower"),
    ("chat at ejabberd's saturation rate: max (ms)", "chat-at-ejabberd-rate", lambda r: ms(r["latency"]["max_ns"]), "{:.2f}", "lower"),
    ("chat at ejabberd's saturation rate: lost", "chat-at-ejabberd-rate", lambda r: r["lost"], "{:d}", "lower"),
    ("presence broadcast: deliveries/s", "presence", lambda r: r["msgs_per_sec"], "{:.0f}", "higher"),
    ("presence broadcast: latency p99 (ms)", "presence", lambda r: ms(r["latency"]["p99_ns"]), "{:.2f}", "lower"),
    ("presence broadcast: lost", "presence", lambda r: r["lost"], "{:d}", "lower"),
    ("MUC fan-out: deliveries/s", "muc", lambda r: r["msgs_per_sec"], "{:.0f}", "higher"),
    ("MUC fan-out: latency p99 (ms)", "muc", lambda r: ms(r["latency"]["p99_ns"]), "{:.2f}", "lower"),
]


def mib_growth(before, after):
    """RSS growth in MiB between two memory readings of a report."""
    return lambda r: (r[after]["rss"] - r[before]["rss"]) / 2**20


def muc_rows():
    """Rows of compare.sh's muc part: labels muc-SIZE[-archive]."""
    rows = []
    for archive in ("", "-archive"):
        for size in (10, 100, 1000):
            label = "muc-{}{}".format(size, archive)
            what = "MUC, {} occupants a room{}".format(size, ", archived" if archive else "")
            rows += [
                (what + ": deliveries/s", label, lambda r: r["msgs_per_sec"], "{:.0f}", "higher"),
                (what + ": latency p99 (ms)", label, lambda r: ms(r["latency"]["p99_ns"]), "{:.2f}", "lower"),
                (what + ": lost", label, lambda r: r["lost"], "{:d}", "lower"),
                (what + ": messages refused by the server", label, lambda r: r.get("bounced", 0), "{:d}", "lower"),
                (what + ": time to enter the rooms (s)", label, lambda r: r["join_seconds"], "{:.2f}", "lower"),
            ]
    return rows


def transport_rows(t, name):
    """Rows of compare.sh's web (t = "ws") and bosh (t = "bosh") parts:
    labels login-T, idle-T, chat-max-T, chat-at-ejabberd-rate-T, and
    the TCP runs on the same server process, labels ending in -tcp."""
    return [
        (name + ": logins/s, storm", "login-" + t, lambda r: r["logins_per_sec"], "{:.0f}", "higher"),
        ("TCP (STARTTLS), same process: logins/s, storm", "login-tcp", lambda r: r["logins_per_sec"], "{:.0f}", "higher"),
        (name + ": login latency p99 (ms)", "login-" + t, lambda r: ms(r["login_latency"]["p99_ns"]), "{:.1f}", "lower"),
        (name + ": idle server RSS per session (KiB)", "idle-" + t, lambda r: r["rss_per_session"] / 1024, "{:.1f}", "lower"),
        ("TCP, same run: idle server RSS per session (KiB)", "idle-tcp", lambda r: r["rss_per_session"] / 1024, "{:.1f}", "lower"),
        (name + ": marginal idle RSS per session, second half (KiB)", "idle-" + t, lambda r: r["marginal_rss_per_session"] / 1024, "{:.1f}", "lower"),
        ("TCP, same run: marginal idle RSS per session, second half (KiB)", "idle-tcp", lambda r: r["marginal_rss_per_session"] / 1024, "{:.1f}", "lower"),
        (name + ": idle PSS per session (KiB)", "idle-" + t, lambda r: r["pss_per_session"] / 1024, "{:.1f}", "lower"),
        ("TCP, same run: idle PSS per session (KiB)", "idle-tcp", lambda r: r["pss_per_session"] / 1024, "{:.1f}", "lower"),
        ("idle RSS per session, " + name + " / TCP (same server)", t + "-ratio", lambda r: r["idle"], "{:.2f}", "lower"),
        ("marginal idle RSS per session, " + name + " / TCP (same server)", t + "-ratio", lambda r: r["idle_marginal"], "{:.2f}", "lower"),
        ("logins/s, " + name + " / TCP (same server)", t + "-ratio", lambda r: r["logins"], "{:.2f}", "higher"),
        (name + ": chat at saturation, messages/s", "chat-max-" + t, lambda r: r["msgs_per_sec"], "{:.0f}", "higher"),
        ("TCP, same process: chat at saturation, messages/s", "chat-max-tcp", lambda r: r["msgs_per_sec"], "{:.0f}", "higher"),
        (name + ": chat at saturation, latency p50 (ms)", "chat-max-" + t, lambda r: ms(r["latency"]["p50_ns"]), "{:.2f}", "lower"),
        (name + ": chat at saturation, latency p99 (ms)", "chat-max-" + t, lambda r: ms(r["latency"]["p99_ns"]), "{:.2f}", "lower"),
        (name + ": chat at saturation, lost", "chat-max-" + t, lambda r: r["lost"], "{:d}", "lower"),
        (name + ": chat at ejabberd's saturation rate over it, messages/s", "chat-at-ejabberd-rate-" + t, lambda r: r["msgs_per_sec"], "{:.0f}", "higher"),
        (name + ": chat at ejabberd's rate, latency p50 (ms)", "chat-at-ejabberd-rate-" + t, lambda r: ms(r["latency"]["p50_ns"]), "{:.2f}", "lower"),
        (name + ": chat at ejabberd's rate, latency p99 (ms)", "chat-at-ejabberd-rate-" + t, lambda r: ms(r["latency"]["p99_ns"]), "{:.2f}", "lower"),
        (name + ": chat at ejabberd's rate, lost", "chat-at-ejabberd-rate-" + t, lambda r: r["lost"], "{:d}", "lower"),
    ]


def storm_rows():
    """Rows of compare.sh's storm part: labels storm (the same server
    process) and storm-restart (after a restart)."""
    rows = []
    for label, what in (("storm", "reconnect storm"), ("storm-restart", "reconnect storm after a restart")):
        rows += [
            (what + ": logins/s, all at once", label, lambda r: r["logins_per_sec"], "{:.0f}", "higher"),
            (what + ": login latency p99 (ms)", label, lambda r: ms(r["login_latency"]["p99_ns"]), "{:.1f}", "lower"),
            (what + ": TLS handshakes resumed", label, lambda r: r.get("resumed", 0), "{:d}", "higher"),
            (what + ": logins with a FAST token", label, lambda r: r.get("fast_logins", 0), "{:d}", "higher"),
            (what + ": first pass logins/s (paced)", label, lambda r: r["warm_logins_per_sec"], "{:.0f}", "higher"),
        ]
    return rows


def archive_faults(r):
    """Messages missing from an archive plus extra copies, of a complete
    archive check (an incomplete one has no figure)."""
    c = r["archive_check"]
    if c.get("incomplete") or not c.get("accounts"):
        raise KeyError("incomplete archive check")
    return c.get("missing", 0) + c.get("duplicates", 0)


def mam_rows():
    """Rows of compare.sh's chat part with the archive on: labels
    chat-max-mam and chat-at-ejabberd-rate-mam."""
    rows = []
    for label, what in (("chat-max-mam", "chat with MAM, at saturation"),
                        ("chat-at-ejabberd-rate-mam", "chat with MAM, at ejabberd's saturation rate")):
        rows += [
            (what + ": messages/s", label, lambda r: r["msgs_per_sec"], "{:.0f}", "higher"),
            (what + ": latency p50 (ms)", label, lambda r: ms(r["latency"]["p50_ns"]), "{:.2f}", "lower"),
            (what + ": latency p99 (ms)", label, lambda r: ms(r["latency"]["p99_ns"]), "{:.2f}", "lower"),
            (what + ": latency max (ms)", label, lambda r: ms(r["latency"]["max_ns"]), "{:.2f}", "lower"),
            (what + ": lost", label, lambda r: r["lost"], "{:d}", "lower"),
            (what + ": delivered messages looked for in the archives", label, lambda r: r["archive_check"]["delivered"], "{:d}", "higher"),
            (what + ": not archived once (missing + duplicates)", label, archive_faults, "{:d}", "lower"),
        ]
    return rows


# Rows of compare.sh's storm, chat, muc, s2s, web, bosh and links parts,
# printed only when a run has their label.
OPTIONAL_ROWS = storm_rows() + mam_rows() + muc_rows() + transport_rows("ws", "WebSocket (wss)") + transport_rows("bosh", "BOSH (https)") + [
    ("s2s at saturation: messages/s", "s2s-max", lambda r: r["msgs_per_sec"], "{:.0f}", "higher"),
    ("s2s at saturation: latency p50 (ms)", "s2s-max", lambda r: ms(r["latency"]["p50_ns"]), "{:.2f}", "lower"),
    ("s2s at saturation: latency p99 (ms)", "s2s-max", lambda r: ms(r["latency"]["p99_ns"]), "{:.2f}", "lower"),
    ("s2s at saturation: lost", "s2s-max", lambda r: r["lost"], "{:d}", "lower"),
    ("s2s: links up, the first message each way (ms)", "s2s-max", lambda r: r["link_setup_seconds"] * 1000, "{:.1f}", "lower"),
    ("s2s at saturation: first server's RSS growth, logins to end (MiB)", "s2s-max", mib_growth("mem_before", "mem_after"), "{:.1f}", "lower"),
    ("s2s at saturation: second server's RSS growth, logins to end (MiB)", "s2s-max", mib_growth("peer_mem_before", "peer_mem_after"), "{:.1f}", "lower"),
    ("s2s at saturation: first server's RSS growth during the traffic (MiB)", "s2s-max", mib_growth("mem_mid", "mem_after"), "{:.1f}", "lower"),
    ("s2s at saturation: second server's RSS growth during the traffic (MiB)", "s2s-max", mib_growth("peer_mem_mid", "peer_mem_after"), "{:.1f}", "lower"),
    ("s2s at ejabberd's saturation rate: messages/s", "s2s-at-ejabberd-rate", lambda r: r["msgs_per_sec"], "{:.0f}", "higher"),
    ("s2s at ejabberd's saturation rate: p99 (ms)", "s2s-at-ejabberd-rate", lambda r: ms(r["latency"]["p99_ns"]), "{:.2f}", "lower"),
    ("s2s at ejabberd's saturation rate: lost", "s2s-at-ejabberd-rate", lambda r: r["lost"], "{:d}", "lower"),
    ("s2s links: remote domains answering (links up)", "s2s-links", lambda r: r["links_up"], "{:d}", "higher"),
    ("s2s links: first server's incoming s2s connections (ss)", "s2s-links", lambda r: r["streams_in"], "{:d}", "higher"),
    ("s2s links: first server's outgoing s2s connections (ss)", "s2s-links", lambda r: r["streams_out"], "{:d}", "higher"),
    ("s2s links: first server's open file descriptors", "s2s-links", lambda r: r["fds"], "{:d}", "lower"),
    ("s2s links: first server's RSS per link, one stream each way (KiB)", "s2s-links", lambda r: r["rss_per_link"] / 1024, "{:.1f}", "lower"),
    ("s2s links: first server's marginal RSS per link, second half (KiB)", "s2s-links", lambda r: r["marginal_rss_per_link"] / 1024, "{:.1f}", "lower"),
    ("s2s links: first server's PSS per link (KiB)", "s2s-links", lambda r: r["pss_per_link"] / 1024, "{:.1f}", "lower"),
    ("s2s links: second server's RSS per link (KiB)", "s2s-links", lambda r: r["peer_rss_per_link"] / 1024, "{:.1f}", "lower"),
    ("s2s links: ping to answer through a new link, p50 (ms)", "s2s-links", lambda r: ms(r["latency"]["p50_ns"]), "{:.1f}", "lower"),
    ("s2s links: ping to answer through a new link, p99 (ms)", "s2s-links", lambda r: ms(r["latency"]["p99_ns"]), "{:.1f}", "lower"),
]


def transport_ratios(res, t):
    """Adds a "T-ratio" report per server with the web (t = "ws") or
    bosh (t = "bosh") part's ratios to TCP (both from the same run)."""
    for s in SERVERS:
        ws, tcp = res.get((s, "idle-" + t)), res.get((s, "idle-tcp"))
        lw, lt = res.get((s, "login-" + t)), res.get((s, "login-tcp"))
        r = {}
        try:
            if ws and tcp:
                r["idle"] = ws["rss_per_session"] / tcp["rss_per_session"]
                r["idle_marginal"] = ws["marginal_rss_per_session"] / tcp["marginal_rss_per_session"]
            if lw and lt:
                r["logins"] = lw["logins_per_sec"] / lt["logins_per_sec"]
        except (KeyError, ZeroDivisionError):
            pass
        if r:
            res[(s, t + "-ratio")] = r


def cell(res, server, label, fn, fmt):
    r = res.get((server, label))
    if r is None:
        return None, "—"
    if r.get("skipped"):
        return None, "not supported"
    try:
        v = fn(r)
    except (KeyError, TypeError):
        return None, "—"
    return v, fmt.format(v)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return "{:.2f}×".format(a / b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--meta", action="append", default=[])
    a = ap.parse_args()
    res = load(a.results)
    transport_ratios(res, "ws")
    transport_ratios(res, "bosh")
    for m in a.meta:
        print("- " + m)
    print()
    print("| figure | Parley | Prosody | ejabberd | Parley/ejabberd | Parley/Prosody |")
    print("|---|---:|---:|---:|---:|---:|")
    labels = {label for (_, label) in res}
    rows, seen = [], set()
    for row in ROWS + OPTIONAL_ROWS:
        # The TCP rows of the web and bosh parts are one set.
        if row[1] in labels and row[:2] not in seen:
            seen.add(row[:2])
            rows.append(row)
    for title, label, fn, fmt, better in rows:
        vals, texts = {}, {}
        for s in SERVERS:
            vals[s], texts[s] = cell(res, s, label, fn, fmt)
        print("| {} ({} is better) | {} | {} | {} | {} | {} |".format(
            title, better, texts["parley"], texts["prosody"], texts["ejabberd"],
            ratio(vals["parley"], vals["ejabberd"]), ratio(vals["parley"], vals["prosody"])))
    print()
    print("Errors per run (login failures + session errors):")
    print()
    for (s, label), r in sorted(res.items()):
        errs = r.get("errors", 0)
        # The idle scenario's reconnect storm counts its failed logins apart.
        failed = r.get("login_errors", 0) + ((r.get("reconnect") or {}).get("errors", 0) if isinstance(r.get("reconnect"), dict) else 0)
        if errs or failed:
            kinds = "; ".join("{} ×{}".format(k, v) for k, v in sorted((r.get("error_kinds") or {}).items(), key=lambda kv: -kv[1])[:3])
            print("- {} {}: {} errors ({} failed logins): {}".format(s, label, errs, failed, kinds))
    if not any(r.get("errors") for r in res.values()):
        print("- none")
    checks = [(k, r["archive_check"]) for k, r in sorted(res.items()) if r.get("archive_check")]
    if checks:
        print()
        print("Archive checks (the archives of the first chat pairs read back with MAM):")
        print()
        for (s, label), c in checks:
            verdict = "every delivered message archived once" if archive_ok(c) else "FAILED"
            print("- {} {}: {}: {} accounts, {} queries, {} delivered messages looked for in 2 archives each, "
                  "{} missing, {} duplicates, {} archived but undelivered{}".format(
                      s, label, verdict, c.get("accounts", 0), c.get("queries", 0), c.get("delivered", 0),
                      c.get("missing", 0), c.get("duplicates", 0), c.get("undelivered", 0),
                      "; incomplete: " + c["incomplete"] if c.get("incomplete") else ""))


def archive_ok(c):
    """Whether an archive check vouches for its archives (as
    load.ArchiveCheck.OK)."""
    return not c.get("incomplete") and c.get("accounts", 0) > 0 and not c.get("missing") and not c.get("duplicates")


if __name__ == "__main__":
    main()
