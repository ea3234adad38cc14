#!/usr/bin/env python3
"""bench/cluster_table.py RESULTS.jsonl: the Markdown table of a
bench/cluster.sh run: one column per row of nodes (0 = one server without
cluster), ratios to the one-node cluster."""

import json
import sys


def main(path):
    runs = {}
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        runs[(r["nodes"], r["label"])] = r
    nodes = sorted({n for n, _ in runs})

    def get(label, f):
        return lambda n: f(runs[(n, label)]) if (n, label) in runs else None

    def cpu(label, key):
        return get(label, lambda r: (r.get("cpu") or {}).get(key))

    def cost(key):
        def f(n):
            a, b = cpu("chat-cross", key)(n), cpu("chat-same", key)(n)
            return None if a is None or b is None else a - b
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
            sum(runs[(n, l)]["lost"] for l in ("chat-same", "chat-cross") if (n, l) in runs),
            sum(runs[(n, l)]["errors"] for l in ("chat-same", "chat-cross") if (n, l) in runs)), "{}"),
        ("idle: RSS per session, all nodes (KiB)", get("idle", lambda r: r["rss_per_session"] / 1024), "{:,.1f}"),
        ("idle: marginal RSS per session (KiB)", get("idle", lambda r: r.get("marginal_rss_per_session", 0) / 1024), "{:,.1f}"),
        ("idle: logins/s (two halves)", get("idle", lambda r: r["logins_per_sec"]), "{:,.0f}"),
    ]
    names = {0: "one server, no cluster"}
    head = [names.get(n, "{} node{}".format(n, "s" if n > 1 else "")) for n in nodes]
    ratio_cols = [n for n in nodes if n > 1 and 1 in nodes]
    head += ["{}/1".format(n) for n in ratio_cols]
    print("| figure | " + " | ".join(head) + " |")
    print("|---|" + "---:|" * len(head))
    for title, f, fmt in rows:
        vals = [f(n) for n in nodes]
        cells = ["—" if v is None else fmt.format(v) for v in vals]
        for n in ratio_cols:
            a, b = f(n), f(1)
            ok = isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0 and "+" not in fmt
            cells.append("{:.2f}×".format(a / b) if ok else "—")
        print("| " + title + " | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
