#!/usr/bin/env python3
"""perf/ipp-pcap.py IN OUT K [--max N]: write the first N records of the classic pcap IN
(all by default) K times into OUT, copy c (0-based) with every timestamp shifted forward by
c * SHIFT seconds, SHIFT being the capture's span (max - min timestamp) rounded up to the next
whole minute, plus one minute: each copy falls into windows of its own, aligned as the first
copy's were (60 s windows and any divisor of 60 s), and copies never overlap in event time.
Prints "records span_s shift_s" (of one copy) on stdout. perf/ipp.sh runs weir on K=1 and
K=k copies and divides the difference in instructions by (k - 1) * records.

Classic pcap only (either byte order, micro- or nanosecond timestamps); pcapng is refused
(convert it first: editcap -F pcap). Standard library only; deterministic (same bytes out
for the same input)."""
import struct
import sys


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    maxn = None
    if "--max" in argv:
        maxn = int(argv[argv.index("--max") + 1])
        args.remove(str(maxn))
    if len(args) != 3:
        sys.exit(__doc__)
    src, dst, k = args[0], args[1], int(args[2])
    if k < 1:
        sys.exit("ipp-pcap: K must be >= 1")
    with open(src, "rb") as f:
        data = f.read()
    if len(data) < 24:
        sys.exit(f"ipp-pcap: {src}: too short for a pcap header")
    magic = data[:4]
    table = {b"\xd4\xc3\xb2\xa1": ("<", 10**6), b"\xa1\xb2\xc3\xd4": (">", 10**6),
             b"\x4d\x3c\xb2\xa1": ("<", 10**9), b"\xa1\xb2\x3c\x4d": (">", 10**9)}
    if magic not in table:
        sys.exit(f"ipp-pcap: {src}: not a classic pcap (pcapng? convert it: editcap -F pcap)")
    bo, frac = table[magic]
    rec = struct.Struct(bo + "IIII")
    recs = []
    off = 24
    while off + 16 <= len(data) and (maxn is None or len(recs) < maxn):
        sec, sub, incl, orig = rec.unpack_from(data, off)
        body = data[off + 16:off + 16 + incl]
        if len(body) != incl:
            sys.exit(f"ipp-pcap: {src}: record {len(recs) + 1} is cut short")
        recs.append((sec, sub, incl, orig, body))
        off += 16 + incl
    if not recs:
        sys.exit(f"ipp-pcap: {src}: no records")
    ts = [r[0] * frac + r[1] for r in recs]
    span = max(ts) - min(ts)
    shift_s = (span // frac // 60 + 2) * 60  # span rounded up to a minute, plus a minute
    with open(dst, "wb") as f:
        f.write(data[:24])
        for c in range(k):
            for sec, sub, incl, orig, body in recs:
                f.write(rec.pack(sec + c * shift_s, sub, incl, orig))
                f.write(body)
    print(len(recs), f"{span / frac:.6f}", shift_s)


if __name__ == "__main__":
    main(sys.argv)
