#!/usr/bin/env python3
"""perf/ipp-calc.py: the arithmetic of perf/ipp.sh (standard library only).

  ipp-calc.py measure CG1 CGK PACKETS K TOP
      CG1, CGK: callgrind output files of weir on the input once and K times (collection
      toggled on worker_main: the worker lcore only). Prints one line
        ipp=X ir1=N irk=N weir=X dpdk=X libpcap=X libc=X other=X
      (X: marginal instructions per packet, (Ir(K) - Ir(1)) / ((K - 1) * PACKETS), in
      total and split by the object the instructions ran in), then, when TOP > 0, the TOP
      functions by marginal self and by marginal inclusive instructions per packet
      (inclusive: leaving out the frames that hold the whole thread). process= is the
      marginal inclusive count of worker_process: parse .. window, everything after rx.

  ipp-calc.py spread X1 X2 ...
      Prints "median min max spread_pct" of the values (spread = (max - min) / median).

  ipp-calc.py check BUDGET_FILE SCALE SCENARIO IPP
      Prints "ok BUDGET", "over BUDGET PCT" or "none" (the scenario has no budget line).
"""
import os
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([\s\d.%]+\)\s+)?(.*?)\s*$")


def totals(path):
    """The 'totals:' (or 'summary:') line of a callgrind output file: Ir collected."""
    tot = None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("totals:"):
                tot = int(line.split()[1])
            elif line.startswith("summary:") and tot is None:
                tot = int(line.split()[1])
    if tot is None:
        sys.exit(f"ipp-calc: {path}: no totals line (did valgrind finish?)")
    return tot


def functions(path, inclusive):
    """{function [object]: Ir} from callgrind_annotate, every function (threshold 100 %)."""
    args = ["callgrind_annotate", "--threshold=100", f"--inclusive={'yes' if inclusive else 'no'}", path]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    res = {}
    seen_header = False
    for line in out.splitlines():
        if "file:function" in line:
            seen_header = True
            continue
        if not seen_header:
            continue
        m = LINE.match(line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        ir = int(m.group(1).replace(",", ""))
        name = m.group(2)
        # "./path/file.c:func [/usr/lib/.../obj.so]" or "???:func [obj]" -> "func [obj basename]"
        fn, _, obj = name.partition(" [")
        fn = fn.split(":", 1)[1] if ":" in fn else fn
        obj = os.path.basename(obj.rstrip("]")) if obj else "?"
        key = f"{fn} [{obj}]"
        res[key] = res.get(key, 0) + ir
    return res


def category(key):
    obj = key.rsplit("[", 1)[-1].rstrip("]")
    if obj == "weir":
        return "weir"
    if obj.startswith("librte_"):
        return "dpdk"
    if obj.startswith("libpcap"):
        return "libpcap"
    if obj.startswith("libc.so") or obj.startswith("libc-"):
        return "libc"
    return "other"


def measure(cg1, cgk, packets, k, top):
    packets, k, top = int(packets), int(k), int(top)
    ir1, irk = totals(cg1), totals(cgk)
    div = (k - 1) * packets
    ipp = (irk - ir1) / div
    self1, selfk = functions(cg1, False), functions(cgk, False)
    cats = {c: 0 for c in ("weir", "dpdk", "libpcap", "libc", "other")}
    delta = {}
    for key in set(self1) | set(selfk):
        d = selfk.get(key, 0) - self1.get(key, 0)
        delta[key] = d
        cats[category(key)] += d
    incl1, inclk = functions(cg1, True), functions(cgk, True)
    idelta = {key: inclk.get(key, 0) - incl1.get(key, 0) for key in set(incl1) | set(inclk)}
    # the stages after rx: worker_process inclusive (absent if a build inlined it)
    proc = idelta.get("worker_process [weir]")
    print(f"ipp={ipp:.2f} ir1={ir1} irk={irk} "
          + " ".join(f"{c}={v / div:.2f}" for c, v in cats.items())
          + (f" process={proc / div:.2f}" if proc is not None else " process="))
    if top <= 0:
        return
    # the thread's frames around the loop (clone .. worker_poll_loop) hold everything: left out
    idelta = {key: v for key, v in idelta.items() if v < 0.999 * (irk - ir1)}
    for title, d in (("self", delta), ("inclusive", idelta)):
        print(f"  top {top} functions by {title} instructions per packet (marginal):")
        for key, v in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
            print(f"    {v / div:9.2f}  {100.0 * v / (irk - ir1):5.1f}%  {key}")


def spread(vals):
    v = sorted(float(x) for x in vals)
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    pct = 100.0 * (v[-1] - v[0]) / med if med else 0.0
    print(f"{med:.2f} {v[0]:.2f} {v[-1]:.2f} {pct:.4f}")


def check(budget_file, scale, scenario, ipp):
    budget = None
    with open(budget_file) as f:
        for line in f:
            w = line.split("#", 1)[0].split()
            if len(w) >= 3 and w[0] == scenario:
                budget = float(w[2]) * float(scale)
    if budget is None:
        print("none")
    elif float(ipp) > budget:
        print(f"over {budget:.2f} {100.0 * (float(ipp) / budget - 1):.1f}")
    else:
        print(f"ok {budget:.2f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "measure" and len(args) == 5:
        measure(*args)
    elif cmd == "spread" and args:
        spread(args)
    elif cmd == "check" and len(args) == 4:
        check(*args)
    else:
        sys.exit(__doc__)
