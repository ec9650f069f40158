#!/usr/bin/env python3
"""Inline mode's output against its input, frame by frame.

inline_check.py IN OUT [--drop FRAMES] [--unordered]

IN and OUT are pcap files (microsecond or nanosecond; the timestamps are
ignored: net_pcap stamps what it sends with the send time). FRAMES is a
file of 1-based frame numbers of IN that must not come out (one per line).
OUT must hold exactly IN's other frames, byte for byte, in IN's order
(--unordered: as a multiset: several workers each send their own flows).
Prints the counts; exit 1 on any difference.
"""
import argparse
import collections
import struct
import sys


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        sys.exit(f"{path}: not a pcap file")
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--drop")
    ap.add_argument("--unordered", action="store_true")
    a = ap.parse_args()
    drop = set()
    if a.drop:
        drop = {int(x) for x in open(a.drop).read().split()}
    src, got = frames(a.inp), frames(a.out)
    want = [f for i, f in enumerate(src, 1) if i not in drop]
    print(f"in={len(src)} dropped_expected={len(drop)} want={len(want)} out={len(got)}")
    same = (collections.Counter(want) == collections.Counter(got)) if a.unordered else want == got
    if not same:
        for i, (w, g) in enumerate(zip(want, got)):
            if w != g:
                print(f"first difference at output frame {i + 1}")
                break
        sys.exit(1)


main()
