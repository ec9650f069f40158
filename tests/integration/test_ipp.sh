#!/usr/bin/env bash
# perf/ipp.sh (instructions per packet under callgrind) on the bundled capture, parse+hostpairs:
# it measures, the count is the same run to run, --check passes on a budget just written and fails
# (exit 1, "rose above budget") when the budget is halved; and when the binary is a build like the
# one perf/ipp-budget.txt was measured on (release, -march=x86-64-v3), the committed budget holds.
# One measurement (two runs of 1 and 3 copies of the capture under valgrind): about 30-60 s.
. "$(dirname "$0")/lib.sh"
command -v valgrind > /dev/null || { echo "SKIP: valgrind not installed"; exit 77; }
ipp=$WEIR_SOURCE_DIR/perf/ipp.sh
sc=parse+hostpairs

# The build under test, else build-ipp (make ipp-build), whichever valgrind can run: a
# -march=native build on a machine with AVX-512 cannot run under valgrind 3.19.
measure() { # bin
  "$ipp" --weir "$1" --scenario "$sc" --runs 2 --top 3 --results "$TMP/results" \
    --update --budget "$TMP/budget.txt" > "$TMP/measure.out" 2>&1
}
bin=${WEIR_IPP_BIN:-$WEIR_BIN}
measure "$bin"; rc=$?
if [ $rc != 0 ] && grep -q 'instructions valgrind cannot run' "$TMP/measure.out"; then
  echo "note: $bin cannot run under valgrind (AVX-512); trying build-ipp"
  bin=$WEIR_SOURCE_DIR/build-ipp/app/weir
  [ -x "$bin" ] || { echo "SKIP: $WEIR_BIN needs AVX-512 and there is no build-ipp (make ipp-build)"; exit 77; }
  measure "$bin"; rc=$?
fi
cat "$TMP/measure.out"
[ $rc = 0 ] || { fail "ipp.sh --update exited $rc"; exit 1; }
csv=$(sed -n 's/^ipp: results in //p' "$TMP/measure.out")
[ -s "$csv" ] && ok "measured, CSV $csv" || fail "no results CSV"
grep -q "^$sc " "$TMP/budget.txt" && ok "--update wrote a budget line" || fail "no budget line for $sc"
grep -q "top 3 functions by self" "$TMP/measure.out" && ok "top functions printed" || fail "no top functions"

# Repeatable: the two runs' counts agree (spread printed by the script, in %; 0-0.08 % seen).
spread=$(sed -n "s/^ipp: $sc: median .* spread \([0-9.]*\) %$/\1/p" "$TMP/measure.out")
if [ -n "$spread" ] && awk -v s="$spread" 'BEGIN {exit !(s <= 0.5)}'; then
  ok "run-to-run spread $spread % (<= 0.5 %)"
else fail "run-to-run spread '${spread}' % (more than 0.5 %, or not printed)"; fi

# The check, from the same figures (--from: no second measurement).
"$ipp" --from "$csv" --scenario "$sc" --check --budget "$TMP/budget.txt" > "$TMP/c1" 2>&1; rc=$?
[ $rc = 0 ] && grep -q "within budget" "$TMP/c1" && ok "--check passes against the budget just written" ||
  { fail "--check against its own budget: exit $rc"; cat "$TMP/c1"; }
"$ipp" --from "$csv" --scenario "$sc" --check --budget "$TMP/budget.txt" --budget-scale 0.5 > "$TMP/c2" 2>&1; rc=$?
if [ $rc = 1 ] && grep -Eq "^ipp: ${sc//+/\\+} rose above budget: [0-9.]+ > [0-9.]+ \(\+[0-9.]+%\)$" "$TMP/c2"; then
  ok "--budget-scale 0.5: $(grep 'rose above' "$TMP/c2")"
else fail "--budget-scale 0.5 should exit 1 with 'rose above budget': exit $rc"; cat "$TMP/c2"; fi
# a budget file with a lower value fails the same way
awk -v s="$sc" '$1 == s {$3 = $2 * 0.9} {print}' "$TMP/budget.txt" > "$TMP/low.txt"
"$ipp" --from "$csv" --scenario "$sc" --check --budget "$TMP/low.txt" > "$TMP/c3" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "rose above budget" "$TMP/c3" && ok "a budget 10 % below the measurement fails: $(grep 'rose above' "$TMP/c3")" ||
  { fail "a lower budget should exit 1: exit $rc"; cat "$TMP/c3"; }

# The committed budget, when the binary is built as it was measured.
build=$(sed -n 's/^ipp: weir .* (\(.*\), gcc.*/\1/p' "$TMP/measure.out")
want=$(sed -n 's/^# weir \(.*\) (gcc.*/\1/p' "$WEIR_SOURCE_DIR/perf/ipp-budget.txt")
# Counts also depend on the CPU (glibc picks memcpy and friends by CPU features): the budget
# holds for the CPU model it was measured on.
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo | tr ',' ';')
if ! grep -q "^# measured .*[0-9]cpu ${cpu}\$" "$WEIR_SOURCE_DIR/perf/ipp-budget.txt"; then
  echo "note: perf/ipp-budget.txt was measured on another CPU model than '$cpu': committed budget not checked"
elif [ -n "$want" ] && [ "$build" = "$want" ]; then
  "$ipp" --from "$csv" --scenario "$sc" --check > "$TMP/c4" 2>&1; rc=$?
  cat "$TMP/c4"
  [ $rc = 0 ] && ok "within perf/ipp-budget.txt" || fail "perf/ipp-budget.txt: $(grep 'rose above' "$TMP/c4")"
else
  echo "note: $bin is a '$build' build, perf/ipp-budget.txt is for '$want': committed budget not checked (make ipp)"
fi
[ $fails = 0 ] || exit 1
echo "PASS"
