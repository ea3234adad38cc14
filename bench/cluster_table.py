#!/usr/bin/env python3
"""bench/cluster_table.py RESULTS.jsonl: the Markdown table of a
bench/cluster.sh run: one column per row of nodes (0 = one server without
cluster), ratios to the one-node cluster."""

import json
import sys


class Spread:
    """Several rounds' values: their mean, shown with the lowest and the
    highest."""

    def __init__(self, vals):
        self.vals = vals

    def __float__(self):
        return sum(self.vals) / len(self.vals)

    def format(self, fmt):
        return "{} ({}–{})".format(fmt.format(float(self)), fmt.format(min(self.vals)), fmt.format(max(self.vals)))


def main(path):
    runs = {}
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        runs[(r["nodes"], r["label"])] = r
    nodes = sorted({n for n, _ in runs})

    def rounds(n, label):
        """The runs of label in row n: label, label-2, label-3…"""
        return [r for (m, l), r in sorted(runs.items(), key=lambda kv: kv[0][1])
                if m == n and (l == label or (l.startswith(label + "-") and l[len(label) + 1:].isdigit()))]

    def get(label, f):
        """The mean of f over the rounds of label (a Spread when several)."""
        def value(n):
            vals = [v for v in (f(r) for r in rounds(n, label)) if v is not None]
            if not vals:
                return None
            return Spread(vals) if len(vals) > 1 else vals[0]
        return value

    def cpu(label, key):
        return get(label, lambda r: (r.get("cpu") or {}).get(key))

    def cost(key):
        def f(n):
            a, b = cpu("chat-cross", key)(n), cpu("chat-same", key)(n)
            return None if a is None or b is None else float(a) - float(b)
        return f

    ms = 1e-6
    rows = [
        ("logins/s (login storm)", get("login", lambda r: r["logins_per_sec"]), "{:,.0f}"),
        ("login latency p99 (ms)", get("login", lambda r: r["login_latency"]["p99_ns"] * ms), "{:,.0f}"),
        ("chat, pairs on one node: deliveries/s", get("chat-same", lambda r: r["msgs_per_sec"]), "{:,.0f}"),
        ("chat, pairs on one node: p99 (ms)", get("chat-same", lambda r: r["latency"]["p99_ns"] * ms), "{:,.1f}"),
        ("chat, pairs on one node: nodes' CPU µs a delivery", cpu("chat-same", "server_us_per_delivery"), "{:,.1f}"),
        ("chat, pairs across nodes: deliveries/s", get("chat-cross", lambda r: r["msgs_per_sec"]), "{:,.0f}"),
        ("chat, pairs across nodes: p99 (ms)", get("chat-cross", lambda r: r["latency"]["p99_ns"] * ms), "{:,.1f}"),
        ("chat, pairs across nodes: nodes' CPU µs a delivery", cpu("chat-cross", "server_us_per_delivery"), "{:,.1f}"),
        ("chat, pairs across nodes: NATS CPU µs a delivery", cpu("chat-cross", "other_us_per_delivery"), "{:,.1f}"),
        ("nodes' CPU µs a delivery, across minus one node", cost("server_us_per_delivery"), "{:+,.1f}"),
        ("chat lost / errors", lambda n: "{} / {}".format(
            sum(r["lost"] for l in ("chat-same", "chat-cross") for r in rounds(n, l)),
            sum(r["errors"] for l in ("chat-same", "chat-cross") for r in rounds(n, l))), "{}"),
        ("idle: RSS per session, all nodes (KiB)", get("idle", lambda r: r["rss_per_session"] / 1024), "{:,.1f}"),
        ("idle: marginal RSS per session (KiB)", get("idle", lambda r: r.get("marginal_rss_per_session", 0) / 1024), "{:,.1f}"),
        ("idle: logins/s (two halves)", get("idle", lambda r: r["logins_per_sec"]), "{:,.0f}"),
    ]
    names = {0: "one server, no cluster"}
    head = [names.get(n, "{} node{}".format(n, "s" if n > 1 else "")) for n in nodes]
    # Ratios to the one-node cluster: 1/0 is the cluster's own cost on
    # one node, 2/1 and 3/1 that of spreading over more.
    ratio_cols = [n for n in nodes if n != 1 and 1 in nodes]
    head += ["1/no cluster" if n == 0 else "{}/1".format(n) for n in ratio_cols]
    print("| figure | " + " | ".join(head) + " |")
    print("|---|" + "---:|" * len(head))
    for title, f, fmt in rows:
        vals = [f(n) for n in nodes]
        cells = ["—" if v is None else v.format(fmt) if isinstance(v, Spread) else fmt.format(v) for v in vals]
        for n in ratio_cols:
            a, b = (f(1), f(0)) if n == 0 else (f(n), f(1))
            # No ratio for a difference, nor for NATS's time, which is
            # next to nothing without traffic between nodes.
            ok = (isinstance(a, (int, float, Spread)) and isinstance(b, (int, float, Spread)) and float(b) > 0
                  and "+" not in fmt and "NATS" not in title)
            cells.append("{:.2f}×".format(float(a) / float(b)) if ok else "—")
        print("| " + title + " | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
