#!/usr/bin/env python3
"""rows_equal.py REF OUT: the records of two runs (JSON lines: window rows, alerts, flow records;
not stats or restore records) are the same, sorted, field for field, except top-k lists: a Space-Saving merge depends on how counts were split into shards, and a
checkpoint barrier splits them where it falls. For those the test asks what the sketch promises:
each listed item's true count lies in [count - error, count], so the two runs' intervals for an
item listed by both must overlap. Prints the differences; exit 1 if any."""
import json
import sys


def rows(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        if r.get("type") in ("stats", "restore"):
            continue
        topk = {k: r.pop(k) for k in list(r) if k.startswith("topk(")}
        key = json.dumps(r, sort_keys=True)
        out.setdefault(key, []).append(topk)
    return out


def topk_overlap(a, b):
    for name in a:
        if name not in b:
            return f"{name} missing"
        ib = {item: (c, e) for item, c, e in b[name]}
        for item, c, e in a[name]:
            if item in ib and (c - e > ib[item][0] or ib[item][0] - ib[item][1] > c):
                return f"{name} item {item}: [{c - e}, {c}] and [{ib[item][0] - ib[item][1]}, {ib[item][0]}] do not overlap"
    return None


ref, out = rows(sys.argv[1]), rows(sys.argv[2])
bad = [f"< {k}" for k in ref if k not in out] + [f"> {k}" for k in out if k not in ref]
for k in ref:
    if k in out:
        if len(ref[k]) != len(out[k]):
            bad.append(f"{len(ref[k])} vs {len(out[k])} copies of {k}")
        for a, b in zip(ref[k], out[k]):
            why = topk_overlap(a, b)
            if why:
                bad.append(f"{why}: {k}")
for b in bad[:10]:
    print(b[:300])
print(f"{sum(len(v) for v in ref.values())} rows, {len(bad)} differences")
sys.exit(1 if bad else 0)
