#!/usr/bin/env bash
# A PCI port that its profile does not allow-list is refused before the EAL starts: exit 2, a
# message naming the profile's `pci:` list, no output file, and the machine's NIC untouched (same
# kernel driver, same interface state). The address used is this VM's own virtio NIC
# (0000:00:03.0). Never allow-list it here: every allow-list below names only absent devices.
. "$(dirname "$0")/lib.sh"
nic=0000:00:03.0
sysdev=/sys/bus/pci/devices/$nic
nic_state() { # kernel driver + each net interface's operstate, or "absent"
  [ -e "$sysdev" ] || { echo absent; return; }
  local s
  s="driver=$(basename "$(readlink "$sysdev/driver" 2>/dev/null)")"
  for n in "$sysdev"/net/* "$sysdev"/virtio*/net/*; do
    [ -e "$n/operstate" ] && s="$s $(basename "$n")=$(cat "$n/operstate")"
  done
  echo "$s"
}
before=$(nic_state)
echo "NIC $nic before: $before"

expect_refused() { # name, regex, weir args...
  local name=$1 re=$2; shift 2
  rm -f "$TMP/out.jsonl"
  # WEIR_DEBUG_EAL prints the EAL argument vector just before rte_eal_init: it must not appear.
  # --eal --no-pci is a safety net only: should weir ever get past the check, the EAL still
  # would not scan or probe the PCI bus.
  WEIR_DEBUG_EAL=1 "$WEIR_BIN" run "$@" --eal "--no-pci" --out "$TMP/out.jsonl" > "$TMP/stdout" 2> "$TMP/stderr"
  local rc=$?
  if [ $rc -ne 2 ]; then fail "$name: exit $rc, want 2: $(head -3 "$TMP/stderr")"; return; fi
  if ! grep -Eq "$re" "$TMP/stderr"; then fail "$name: error does not match /$re/: $(cat "$TMP/stderr")"; return; fi
  if grep -q -- "--lcores\|--log-level=lib.eal\|-a $nic" "$TMP/stderr"; then fail "$name: the EAL was started"; return; fi
  [ -e "$TMP/out.jsonl" ] && { fail "$name: output file was created"; return; }
  ok "$name: exit 2, $(grep -E "$re" "$TMP/stderr" | head -1)"
}

# Default profile for a PCI address: pmd-config/nic.yaml, pci: [].
expect_refused "nic profile, pci: []" "nic\.yaml:[0-9]+: port '$nic': PCI port needs the address allow-listed in pci: \($nic is not listed\)" \
  --port "$nic"
expect_refused "short address" "PCI port needs the address allow-listed in pci: \($nic is not listed\)" \
  --port "${nic#0000:}"
for p in mlx5 ice i40e ixgbe; do
  expect_refused "$p profile" "$p\.yaml:[0-9]+: .*allow-listed in pci:" --port "$nic" --profile "$p"
done
# An allow-list naming another (absent) device does not admit this one.
printf 'ports:\n  - devargs: "%s"\n    pci: [0000:3b:00.0]\n' "$nic" > "$TMP/cfg.yaml"
expect_refused "config pci: other address" "cfg\.yaml:[0-9]+: .*allow-listed in pci: \($nic is not listed\)" \
  --config "$TMP/cfg.yaml"
sed 's/^pci: .*/pci: [0000:3b:00.0, 0000:3b:00.1]/' "$WEIR_SOURCE_DIR/pmd-config/nic.yaml" > "$TMP/prof.yaml"
expect_refused "profile pci: other addresses" "prof\.yaml:[0-9]+: .*allow-listed in pci:" \
  --port "$nic" --profile "$TMP/prof.yaml"
# A vdev profile refuses a PCI address outright.
expect_refused "null profile" "null\.yaml:[0-9]+: .*profile is for net_null" --port "$nic" --profile null

after=$(nic_state)
if [ "$before" = "$after" ]; then ok "NIC $nic unchanged: $after"; else fail "NIC $nic changed: $before -> $after"; fi
finish
