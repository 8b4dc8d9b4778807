#!/usr/bin/env bash
# Installs the system packages Muse builds and tests with, on Debian/Ubuntu.
# Idempotent: a package already present is not asked for again.
#   tools/install-deps.sh            what building needs (tools/install, tools/demo.sh)
#   tools/install-deps.sh --test     and what only the tests need (tools/test.sh)
set -euo pipefail

packages=(gcc g++ liburing-dev liblz4-dev lz4 util-linux pkg-config python3 python3-venv python3-dev
          systemd)  # systemd-analyze, -sysusers, -tmpfiles: the unit tests; PID 1 need not be systemd
# --test (tools/test.sh): also what only the tests use: the deploy/ checks,
# the systemd and fleet stages, promtool. Never for tools/install, which runs
# this script on the hosts mused is installed on: Debian ships promtool only
# in the Prometheus server's package, which on a host run by systemd also
# starts prometheus.service.
test_packages=(debootstrap systemd-container  # a Debian root filesystem; systemd-nspawn boots it, systemd as PID 1
               prometheus                     # promtool: metrics, and the alerting rules checked and unit-tested
               ansible-core                   # ansible-playbook: the rollout role against three containers
               curl                           # scrapes of mused's metrics endpoint
               cmake)                         # find_package(muse) in the client test
case "${1:-}" in
    --test) packages+=("${test_packages[@]}") ;;
    "") ;;
    *) echo "tools/install-deps.sh: unknown argument '$1' (--test or nothing)" >&2; exit 2 ;;
esac
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
