#!/usr/bin/env python3
"""report-hostpairs.py [--whole] WEIR.jsonl PMACCT.json [DIFF.tsv]: compare weir's hostpairs rows
with pmacctd's src_host,dst_host,proto aggregation of the same capture (perf/report).

weir: {"type":"window","query":"hostpairs",...} rows, keyed by (window_start in s,
src_ip, dst_ip, proto), with packets, bytes (captured frame bytes) and ip_bytes (IPv4
total length, IPv6 payload length + 40). pmacctd: print plugin JSON lines (print_history
1m, print_history_roundoff m, print_num_protos true, timestamps_since_epoch true), keyed
by (stamp_inserted, ip_src, ip_dst, ip_proto), with packets and bytes (pmacct counts the
IP datagram's length: the matching weir aggregate is ip_bytes).

weir's key may be proto or l4_proto (pmacctd's protocol is the one after IPv6 extension
headers: l4_proto). --whole sums each side over its bins first (bin 0): pmacctd assigns
packets near a bin's edge to the bin of its plugin's buffer, not of the packet's pcap time.
Prints one line of key=value counts, and writes the rows that differ to DIFF.tsv."""
import json
import sys


WHOLE = "--whole" in sys.argv
ARGS = [a for a in sys.argv[1:] if a != "--whole"]


def load_weir(path):
    rows = {}
    for line in open(path):
        if not line.startswith('{"type":"window"'):
            continue
        r = json.loads(line)
        if r.get("query") != "hostpairs" or "src_ip" not in r:
            continue
        # a partial row would be counted twice: keep finals only
        if r.get("final") is False:
            continue
        proto = r["l4_proto"] if "l4_proto" in r else r["proto"]
        k = (0 if WHOLE else r["window_start"] // 1000000000, r["src_ip"], r["dst_ip"], int(proto))
        p, b, ib = rows.get(k, (0, 0, 0))
        rows[k] = (p + r["packets"], b + r["bytes"], ib + r["ip_bytes"])
    return rows


def load_pmacct(path):
    rows = {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if r.get("event_type") != "purge":
            continue
        k = (0 if WHOLE else int(r["stamp_inserted"]), r["ip_src"], r["ip_dst"], int(r["ip_proto"]))
        p, b = rows.get(k, (0, 0))
        rows[k] = (p + r["packets"], b + r["bytes"])
    return rows


def main():
    w = load_weir(ARGS[0])
    m = load_pmacct(ARGS[1])
    diff = open(ARGS[2], "w") if len(ARGS) > 2 else None
    if diff:
        diff.write("bin\tsrc\tdst\tproto\tweir_packets\tweir_ip_bytes\tweir_bytes\tpmacct_packets\tpmacct_bytes\n")
    both = same = pk_diff = ipb_diff = frame_eq = 0
    for k in sorted(set(w) | set(m), key=str):
        wp, wb, wib = w.get(k, (0, 0, 0))
        mp, mb = m.get(k, (0, 0))
        if k in w and k in m:
            both += 1
            if wp == mp and wib == mb:
                same += 1
                continue
            if wp != mp:
                pk_diff += 1
            if wib != mb:
                ipb_diff += 1
            if wb == mb:
                frame_eq += 1
        if diff:
            diff.write("%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n" % (
                k[0], k[1], k[2], k[3],
                wp if k in w else "-", wib if k in w else "-", wb if k in w else "-",
                mp if k in m else "-", mb if k in m else "-"))
    sw = [sum(v[i] for v in w.values()) for i in range(3)]
    sm = [sum(v[i] for v in m.values()) for i in range(2)]
    print("weir_rows=%d pmacct_rows=%d common=%d identical=%d only_weir=%d only_pmacct=%d "
          "packets_differ=%d bytes_differ=%d weir_packets=%d pmacct_packets=%d "
          "weir_ip_bytes=%d weir_frame_bytes=%d pmacct_bytes=%d" % (
              len(w), len(m), both, same, len(set(w) - set(m)), len(set(m) - set(w)),
              pk_diff, ipb_diff, sw[0], sm[0], sw[2], sw[1], sm[1]))


main()
