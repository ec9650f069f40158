#!/usr/bin/env python3
"""report-table.py --dir DIR ...: perf/report's table, targets, CSV and plots, from the runs
perf/report wrote into DIR (runs.csv, rounds.csv, peers.csv, hostpairs.txt, notes.txt).

Medians of the counted rounds (those in which other processes used at most --max-others
CPUs; all measured rounds when none was clean). Writes DIR/summary.csv, DIR/targets.csv,
and with --plots 1 DIR/mpps.png and DIR/cycles.png (gnuplot)."""
import argparse
import csv
import os
import statistics
import subprocess

ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--plots", type=int, default=1)
ap.add_argument("--tsc-hz", type=float, default=0)
ap.add_argument("--stamp", default="")
ap.add_argument("--machine", default="")
ap.add_argument("--commit", default="")
ap.add_argument("--weir", default="")
ap.add_argument("--seconds", default="")
a = ap.parse_args()
D = a.dir

LABELS = {
    ("ndpi", "testpmd"): "testpmd rxonly (baseline)",
    ("ndpi", "scan"): "bench-scan raw, payloads (baseline)",
    ("ndpi", "parse"): "weir parse only",
    ("ndpi", "hostpairs"): "weir + hostpairs",
    ("ndpi", "queries"): "weir + 3 queries",
    ("ndpi", "block"): "weir + 3 queries + block (bench-102)",
    ("ndpi", "stream"): "weir + 3 queries + stream (bench-102)",
    ("ndpi", "all"): "weir everything",
    ("synth", "testpmd"): "testpmd rxonly (baseline)",
    ("synth", "parse"): "weir parse only",
    ("synth", "queries"): "weir + 3 queries",
    ("synth", "block"): "weir + 3 queries + block (bench-102)",
    ("synth", "stream"): "weir + 3 queries + stream (bench-102)",
    ("synth", "all"): "weir everything",
    ("null", "testpmd"): "testpmd rxonly (baseline)",
    ("null", "queries"): "weir + 3 queries (non-IP frames)",
}
PARTS = [("ndpi", "ndpi-mix replay (net_pcap infinite_rx, records cut to 2,048 B)"),
         ("synth", "synthetic 64-byte UDP, 1024 flows (net_pcap infinite_rx)"),
         ("null", "net_null size=64 (zero-filled frames)")]
STAGE_ORDER = ["rx", "parse", "handover", "dequeue", "inspect", "annotate", "filter", "window",
               "tx", "advance", "total"]

rounds = {}
for r in csv.DictReader(open(os.path.join(D, "rounds.csv"))):
    rounds[r["round"]] = r["clean"] == "1"
counted = [k for k, v in rounds.items() if v] or list(rounds)
runs = {}
for r in csv.DictReader(open(os.path.join(D, "runs.csv"))):
    if r["round"] not in counted:
        continue
    runs.setdefault((r["part"], r["row"]), []).append(r)


def med(rows, key):
    v = [float(r[key]) for r in rows if r[key] not in ("", None)]
    return statistics.median(v) if v else None


S = {}
stage_names = []
for k, rows in runs.items():
    st = {}
    for r in rows:
        if r["stages"] not in ("-", ""):
            for kv in r["stages"].split(";" if ";" in r["stages"] else ","):
                n, _, v = kv.partition("=")
                st.setdefault(n, []).append(float(v))
    stages = {n: statistics.median(v) for n, v in st.items()}
    for n in stages:
        if n not in stage_names:
            stage_names.append(n)
    S[k] = dict(mpps=med(rows, "mpps"), gbps=med(rows, "gbps"), cyc=med(rows, "cyc_pkt"),
                pmpps=med(rows, "payload_mpps"), pgbps=med(rows, "payload_gbps"),
                others=max(float(r["others_cpu"]) for r in rows), n=len(rows), stages=stages)
stage_names.sort(key=lambda n: STAGE_ORDER.index(n) if n in STAGE_ORDER else 99)


def ratio(x, y):
    return x / y if x is not None and y else None


def paired(part, row, key, bpart, brow, bkey="mpps"):
    """median over the counted rounds of row/baseline taken in the same round: the runs of a
    round are seconds apart, so a neighbour that slows one round slows both sides alike."""
    by = {r["round"]: r for r in runs.get((bpart, brow), [])}
    v = []
    for r in runs.get((part, row), []):
        b = by.get(r["round"])
        if b and r[key] not in ("", None) and b[bkey] not in ("", None) and float(b[bkey]) > 0:
            v.append(float(r[key]) / float(b[bkey]))
    return statistics.median(v) if v else None


def fmt(v, p=3, suf=""):
    return "-" if v is None else ("%.*f%s" % (p, v, suf))


out = []
hdr = ["row", "Mpps", "Gbit/s", "cyc/pkt", "x testpmd", "payload Mpps", "x scan"] + \
      ["%s" % n for n in stage_names]
summary = csv.writer(open(os.path.join(D, "summary.csv"), "w"))
summary.writerow(["date", "machine", "commit", "part", "row", "label", "mpps", "gbps", "cyc_pkt",
                  "x_testpmd", "payload_mpps", "x_scan"] + ["cyc_" + n for n in stage_names])
out.append("perf/report %s, %s, tree %s, weir %s" % (a.stamp, a.machine, a.commit, a.weir))
out.append("medians of %d counted round(s) (%s); x testpmd and x scan = median of the ratios taken "
           "round by round (each run against the baseline run of its own round); cyc/pkt = TSC %.2f GHz / rate (wall time of the "
           "one worker core, polling included); stage columns = weir's stage_cycles (TSC cycles "
           "per packet in each stage, sampled bursts)" % (
               len(counted), ", ".join(counted) or "none",
               a.tsc_hz / 1e9))
for part, title in PARTS:
    keys = [k for k in LABELS if k[0] == part and k in S]
    if not keys:
        continue
    out.append("")
    out.append("## " + title)
    w = [42, 8, 8, 8, 10, 12, 8] + [9] * len(stage_names)
    out.append("| " + " | ".join(h.ljust(w[i]) if i == 0 else h.rjust(w[i]) for i, h in enumerate(hdr)) + " |")
    out.append("|" + "|".join("-" * (x + 2) for x in w) + "|")
    base = S.get((part, "testpmd"), {}).get("mpps")
    if part == "null":
        base = S.get(("null", "testpmd"), {}).get("mpps")
    scan = S.get(("ndpi", "scan"), {}).get("mpps")
    for k in keys:
        s = S[k]
        xt = paired(part, k[1], "mpps", part, "testpmd") if k[1] not in ("testpmd", "scan") else None
        xs = paired(part, k[1], "payload_mpps", "ndpi", "scan") if s["pmpps"] is not None and k[1] != "scan" and part == "ndpi" else None
        cells = [LABELS[k], fmt(s["mpps"]), fmt(s["gbps"]), fmt(s["cyc"], 1), fmt(xt, 3, "x"),
                 fmt(s["pmpps"]), fmt(xs, 3, "x")] + [fmt(s["stages"].get(n), 1) for n in stage_names]
        out.append("| " + " | ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(cells)) + " |")
        summary.writerow([a.stamp, a.machine, a.commit, part, k[1], LABELS[k], s["mpps"], s["gbps"],
                          s["cyc"], xt or "", s["pmpps"] or "", xs or ""] +
                         [s["stages"].get(n, "") for n in stage_names])
    if part == "ndpi" and ("ndpi", "scan") in S:
        out.append("(bench-scan's Mpps and Gbit/s are payloads scanned; weir's payload Mpps = "
                   "inspect.scanned / elapsed_s; x scan compares those)")
    if part == "null":
        out.append("(net_null frames are zero-filled: not IP; weir receives them, finds ethertype 0, "
                   "counts them with no key and frees them: rx + L2 parse + query bookkeeping)")

# peers
peers = list(csv.DictReader(open(os.path.join(D, "peers.csv")))) if os.path.exists(os.path.join(D, "peers.csv")) else []
hp = open(os.path.join(D, "hostpairs.txt")).read().splitlines() if os.path.exists(os.path.join(D, "hostpairs.txt")) else []
wfile = next((float(p["mpps"]) for p in peers if p["tool"] == "weir" and p["mpps"]), None)
wrep = S.get(("ndpi", "hostpairs"), {}).get("mpps")
pm = next((p for p in peers if p["tool"] == "pmacctd"), None)
if peers:
    out.append("")
    out.append("## peers on the whole capture (not cut, read from the file)")
    out.append("| %-10s | %-52s | %8s | %s |" % ("tool", "mode", "Mpps", "note"))
    out.append("|------------|------------------------------------------------------|----------|------|")
    for p in peers:
        out.append("| %-10s | %-52s | %8s | %s |" % (p["tool"], p["mode"], p["mpps"] or "-", p["note"]))
    for line in hp:
        out.append(line)

# targets
T = []


def target(name, value, want, ok, how):
    T.append((name, value, want, ok, how))


def g(part, row, key="mpps"):
    return S.get((part, row), {}).get(key)


r1 = paired("ndpi", "hostpairs", "mpps", "ndpi", "testpmd")
target("parse + hostpairs, ndpi-mix replay / testpmd rxonly", r1, ">= 0.8x",
       None if r1 is None else r1 >= 0.8, "round-by-round Mpps ratio, same replay")
r2 = paired("ndpi", "block", "payload_mpps", "ndpi", "scan")
target("+ 3 queries + block (bench-102) / scan-only baseline, payload packets/s", r2, ">= 1.0x",
       None if r2 is None else r2 >= 1.0, "inspect.scanned/elapsed_s over bench-scan raw payloads/s")
r2b = paired("ndpi", "all", "payload_mpps", "ndpi", "scan")
target("everything (built-in queries + block + stream + flow records) / scan-only", r2b, ">= 1.0x",
       None if r2b is None else r2b >= 1.0, "same definition")
q3 = g("synth", "queries")
ceil = g("synth", "testpmd")
want = 14.88 if ceil is None or ceil >= 14.88 else ceil
target("parse + 3 queries, synthetic 64 B, one worker (Mpps)", q3,
       ">= %.2f Mpps (%s)" % (want, "line rate 10GbE" if want == 14.88 else "the port's measured ceiling: testpmd rxonly on the same replay"),
       None if q3 is None else q3 >= want, "")


def kv(line):
    return {k: int(v) for k, _, v in (w.partition("=") for w in line.split(": ", 1)[-1].split()) if v.isdigit()}


whole = next((kv(l) for l in hp if l.startswith("hostpairs whole")), None)
binned = next((kv(l) for l in hp if l.startswith("hostpairs 60s")), None)
identical = whole is not None and whole["only_weir"] == whole["only_pmacct"] == whole["packets_differ"] == whole["bytes_differ"] == 0
if pm is not None and pm["mpps"]:
    pmm = float(pm["mpps"])
    rows_txt = "rows: %s" % ("identical" if identical else
                             "NOT identical: %d of %d keys equal over the whole capture, %d of %d in 60 s bins"
                             % (whole["identical"], max(whole["weir_rows"], whole["pmacct_rows"]),
                                binned["identical"], max(binned["weir_rows"], binned["pmacct_rows"]))
                             if whole and binned else "not compared")
    for label, w in (("weir --pcap FILE (hostpairs) / pmacctd", wfile),
                     ("weir ndpi-mix replay (+ hostpairs) / pmacctd", wrep)):
        rr = ratio(w, pmm)
        target(label, rr, ">= 10x, identical rows", None if rr is None else (rr >= 10 and identical),
               "rate %s; pmacctd %.3f Mpps; %s" % ("met" if rr is not None and rr >= 10 else "missed", pmm, rows_txt))
elif pm is not None:
    target("weir / pmacctd", None, ">= 10x", None, pm["note"])
out.append("")
out.append("## targets")
tw = csv.writer(open(os.path.join(D, "targets.csv"), "w"))
tw.writerow(["date", "machine", "commit", "target", "value", "want", "met", "how"])
for name, v, want, ok, how in T:
    val = "-" if v is None else ("%.2f Mpps" % v if "Mpps" in name else "%.3fx" % v)
    out.append("- %-78s %12s  %-24s %s%s" % (name, val, want, {True: "MET", False: "MISSED", None: "n/a"}[ok],
                                             ("  (" + how + ")") if how else ""))
    tw.writerow([a.stamp, a.machine, a.commit, name, "" if v is None else v, want,
                 {True: "yes", False: "no", None: ""}[ok], how])
notes = [l for l in open(os.path.join(D, "notes.txt")).read().splitlines() if l.strip()] if os.path.exists(os.path.join(D, "notes.txt")) else []
for n in notes:
    out.append("note: " + n)
out.append("whole report: %s s" % a.seconds)
print("\n".join(out))

# plots
if a.plots:
    dat = os.path.join(D, "mpps.dat")
    with open(dat, "w") as f:
        for part, _ in PARTS:
            for k in LABELS:
                if k[0] == part and k in S and k[1] != "scan":
                    f.write('"%s: %s" %.4f\n' % (part, LABELS[k].replace(" (baseline)", ""), S[k]["mpps"] or 0))
    cyc = os.path.join(D, "cycles.dat")
    st = [n for n in stage_names if n != "total"]
    with open(cyc, "w") as f:
        f.write("# row " + " ".join(st) + "\n")
        for part, _ in PARTS:
            for k in LABELS:
                if k[0] == part and k in S and S[k]["stages"]:
                    f.write('"%s: %s" %s\n' % (part, LABELS[k], " ".join("%.1f" % S[k]["stages"].get(n, 0) for n in st)))
    gp = ["set terminal pngcairo size 1400,700 noenhanced" if subprocess.run(
        ["gnuplot", "-e", "set terminal pngcairo"], capture_output=True).returncode == 0
          else "set terminal png size 1400,700 noenhanced",
          "set output '%s'" % os.path.join(D, "mpps.png"),
          "set title 'perf/report %s: packet rate per row (Mpps)'" % a.stamp,
          "set style data histograms", "set style fill solid 0.8", "set boxwidth 0.8",
          "set xtics rotate by -35 font ',8'", "set ylabel 'Mpps (log scale)'", "set logscale y",
          "set grid ytics", "unset key",
          "set bmargin 12",
          "plot '%s' using 2:xtic(1)" % dat]
    if st:
        gp += ["set output '%s'" % os.path.join(D, "cycles.png"),
               "set title 'perf/report %s: TSC cycles per packet per stage (weir stage_cycles)'" % a.stamp,
               "unset logscale y", "set yrange [0:*]",
               "set style histogram rowstacked", "set key outside right", "set ylabel 'cycles/packet'",
               "plot " + ", ".join("'%s' using %d%s title '%s'" % (cyc, i + 2, ":xtic(1)" if i == 0 else "", n)
                                   for i, n in enumerate(st))]
    r = subprocess.run(["gnuplot"], input="\n".join(gp) + "\n", text=True, capture_output=True)
    if r.returncode != 0:
        print("report: gnuplot failed: " + r.stderr.strip()[:300])
    else:
        print("plots: %s" % " ".join(p for p in ("mpps.png", "cycles.png") if os.path.exists(os.path.join(D, p))))
