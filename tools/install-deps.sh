#!/usr/bin/env bash
# Installs the system packages Muse builds and tests with, on Debian/Ubuntu.
# Idempotent: a package already present is not asked for again.
#   tools/install-deps.sh          to build and run Muse
#   tools/install-deps.sh --test   and to run every test (tools/test.sh)
set -euo pipefail

packages=(gcc g++ liburing-dev liblz4-dev lz4 util-linux pkg-config python3 python3-venv python3-dev
          systemd)  # systemd-analyze, -sysusers, -tmpfiles: the unit tests; PID 1 need not be systemd
# --test (tools/test.sh): also what the deploy/ checks and the systemd and fleet
# stages use. Not for tools/install, which runs this script on the hosts mused
# is installed on. Installing prometheus on a host whose PID 1 is systemd also
# starts a Prometheus server there; only its promtool is used.
if [ "${1:-}" = --test ]; then
    packages+=(debootstrap systemd-container  # a Debian root filesystem; systemd-nspawn boots it, systemd as PID 1
               prometheus                     # promtool: check and unit-test the alerting rules
               ansible-core                   # ansible-playbook: the rollout role against three containers
               curl)                          # scrapes of mused's metrics endpoint
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends "${missing[@]}" \
    || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${missing[@]}"; }
