#!/usr/bin/env bash
# Installs the Debian 12 packages weir builds, tests and benchmarks with, if any are missing.
set -euo pipefail
pkgs=(build-essential pkg-config meson ninja-build python3 dpdk dpdk-dev libdpdk-dev
      libhyperscan-dev libpcre2-dev libjemalloc-dev liburcu-dev libcriterion-dev libpcap-dev libyaml-dev libjansson-dev
      libmicrohttpd-dev curl tshark tcpreplay iproute2 valgrind gnuplot-nox)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "weir: installing missing packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "weir: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
