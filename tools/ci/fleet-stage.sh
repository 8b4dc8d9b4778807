#!/usr/bin/env bash
# The fleet stage: deploy/ansible/rollout.yml (the muse_rollout role) rolls
# snapshots out to three hosts, each a Debian 12 container booted with
# systemd as PID 1 from the same cached root filesystem (an overlay each),
# mused installed by tools/install, serving generation 1 with the example
# tenants. Ansible reaches them through nsenter (a connection plugin in
# tools/ci/ansible). Checked: a snapshot refused on the canary stops the
# rollout there, the other hosts untouched and still serving generation 1;
# a good one reaches the canary first, then each batch, and every host ends
# serving it. Prints one line per check; exits non-zero if any failed.
#
#   tools/ci/fleet-stage.sh [--bin-dir DIR]    (default .build/release, built if missing)
set -euo pipefail
cd "$(dirname "$0")/../.."

bin_dir=.build/release
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) bin_dir=$2; shift 2 ;;
        --bin-dir=*) bin_dir=${1#*=}; shift ;;
        *) echo "usage: $0 [--bin-dir DIR]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "error: the fleet stage needs root (containers, mounts)" >&2; exit 2; }
for tool in debootstrap systemd-nspawn nsenter ansible-playbook python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing (tools/install-deps.sh)" >&2; exit 2; }
done
if [ ! -x "$bin_dir/mused" ] || [ ! -x "$bin_dir/musectl" ]; then
    swift build -c release --product mused
    swift build -c release --product musectl
    bin_dir=$(swift build -c release --show-bin-path)
fi
bin_dir=$(cd "$bin_dir" && pwd)

. tools/ci/lib/machines.sh
. tools/ci/lib/checks.sh
stage_started=$SECONDS
work=$(mktemp -d)
cleanup() {
    machines_stop_all
    rm -rf "$work"
}
trap cleanup EXIT
hosts=(canary host2 host3)
machine() { echo "muse-fleet-$1"; }
on() { local host=$1; shift; machine_run "$(machine "$host")" "$@"; }
serving() {
    on "$1" musectl status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"]["serving"]["id"])'
}

echo "== fleet stage: snapshots, three hosts"
"$bin_dir/musectl" snapshot build examples/generation/manifest.toml -o "$work/gen1.snapshot" >/dev/null
"$bin_dir/musectl" snapshot build examples/generation/manifest-retrained.toml -o "$work/gen2.snapshot" >/dev/null
mkdir -p "$work/bad"
python3 - "$work/gen2.snapshot" "$work/bad/gen2.snapshot" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[len(data) // 2] ^= 0x5A
open(sys.argv[2], "wb").write(data)
EOF
rootfs_started=$SECONDS
machines_rootfs >/dev/null
echo "root filesystem ready in $((SECONDS - rootfs_started)) s"
for host in "${hosts[@]}"; do
    machine_create "$(machine "$host")"
    root=$(machine_root "$(machine "$host")")
    DESTDIR=$root tools/install --bin-dir "$bin_dir" >"$work/install-$host.log" 2>&1 \
        || { cat "$work/install-$host.log"; exit 1; }
    install -D -m 0644 "$work/gen1.snapshot" "$root/srv/muse/gen1.snapshot"
    cat >"$root/etc/muse/mused.toml" <<'EOF'
runtime_directory = "/run/muse"
state_directory = "/var/lib/muse"
# What a new host serves until a rollout reaches it.
snapshot = "/srv/muse/gen1.snapshot"

[[tenant]]
name = "bank-a"
channels = 2

[[tenant]]
name = "shop-b"
channels = 2

[[tenant]]
name = "wallet-c"
channels = 2
EOF
    # As an operator would: mused and the path unit enabled, started at boot.
    systemctl --root="$root" enable --quiet mused.service mused-swap.path
done
boot_started=$SECONDS
for host in "${hosts[@]}"; do machine_boot "$(machine "$host")"; done
echo "three hosts booted in $((SECONDS - boot_started)) s"

cat >"$work/inventory.ini" <<EOF
[muse_canary]
canary muse_nsenter_pid_file=$MACHINES_DIR/$(machine canary)/init.pid

[muse_fleet]
host2 muse_nsenter_pid_file=$MACHINES_DIR/$(machine host2)/init.pid
host3 muse_nsenter_pid_file=$MACHINES_DIR/$(machine host3)/init.pid

[muse:children]
muse_canary
muse_fleet

[muse:vars]
ansible_connection=muse_nsenter
ansible_python_interpreter=/usr/bin/python3
EOF
# rollout NAME ARGS...: the playbook, its output in $work/NAME.log, its exit status in $work/NAME.rc.
rollout() {
    local name=$1 rc=0
    shift
    ANSIBLE_CONNECTION_PLUGINS="$PWD/tools/ci/ansible/connection_plugins" ANSIBLE_HOST_KEY_CHECKING=false \
    ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=false ANSIBLE_LOCAL_TEMP="$work/ansible-tmp" \
        ansible-playbook -i "$work/inventory.ini" deploy/ansible/rollout.yml "$@" >"$work/$name.log" 2>&1 || rc=$?
    echo "$rc" >"$work/$name.rc"
    grep -E '^(PLAY RECAP|[a-z0-9]+ +: ok=)|msg' "$work/$name.log" | sed 's/^/    /' || true
}
# untouched HOST NAME: HOST still serves generation 1 and no file named NAME* reached it.
untouched() {
    local found
    found=$(on "$1" find /var/lib/muse -name "$2*" -o -name ".$2*")
    [ "$(serving "$1")" = 1 ] && [ -z "$found" ] || { echo "serving $(serving "$1"); files: $found"; return 1; }
}

echo "== fleet stage: checks"
for host in "${hosts[@]}"; do
    check "$host: mused started at boot, serving generation 1" equals "$(serving "$host")" 1
done

echo "-- a damaged generation 2 (one byte flipped), through the incoming directory"
rollout damaged -e "muse_snapshot=$work/bad/gen2.snapshot"
check "the rollout fails" not equals "$(cat "$work/damaged.rc")" 0
check "  the canary refused it: filed under refused/ with the reason, named in the failure" \
    expect "mused on canary refused gen2: refusing snapshot" cat "$work/damaged.log"
check "  the canary still serves generation 1" equals "$(serving canary)" 1
for host in host2 host3; do
    check "  $host was not touched: no file of it, generation 1 serves" untouched "$host" gen2
done

echo "-- generation 2 through the incoming directory: the gate judges it on each host"
rollout gated -e "muse_snapshot=$work/gen2.snapshot"
check "the rollout fails" not equals "$(cat "$work/gated.rc")" 0
check "  the canary's promotion gate refused it: its new primaries were never shadowed there" \
    expect "mused on canary refused gen2: .*not enough shadowed events" cat "$work/gated.log"
check "  the canary still serves generation 1" equals "$(serving canary)" 1
for host in host2 host3; do
    check "  $host was not touched: no file of it, generation 1 serves" untouched "$host" gen2
done

echo "-- generation 2 with musectl swap, ungated (the operator's decision)"
rollout good -e "muse_snapshot=$work/gen2.snapshot" -e muse_rollout_method=swap -e muse_rollout_gate=false
check "the rollout succeeds" equals "$(cat "$work/good.rc")" 0
for host in "${hosts[@]}"; do
    check "  $host serves generation 2" equals "$(serving "$host")" 2
done
# When each mused published generation 2, by its journal (microseconds since the epoch).
published_at() {
    on "$1" journalctl -u mused -o json --no-pager | python3 -c '
import json, sys
for line in sys.stdin:
    entry = json.loads(line)
    if "event=generation-published generation=2 " in str(entry.get("MESSAGE", "")):
        print(entry["__REALTIME_TIMESTAMP"]); break'
}
in_order() {
    local a b c
    a=$(published_at canary) b=$(published_at host2) c=$(published_at host3)
    [ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ] && [ "$a" -lt "$b" ] && [ "$b" -lt "$c" ] \
        || { echo "published at: canary $a, host2 $b, host3 $c"; return 1; }
}
check "  the canary first, then one batch after another (journal times)" in_order
batches() {
    local plays
    plays=$(grep -c '^PLAY \[Roll out a Muse snapshot\]' "$work/good.log")
    [ "$plays" = 3 ] || { echo "$plays batches"; cat "$work/good.log"; return 1; }
}
check "  in three batches: the canary, then 30% of the hosts, then the rest" batches
restart_keeps() { on "$1" systemctl restart mused && equals "$(serving "$1")" 2; }
check "  host3 restarted serves generation 2 (recorded in its state directory)" restart_keeps host3

if [ "$checks_failed" -gt 0 ]; then
    for name in damaged gated good; do
        [ -f "$work/$name.log" ] && { echo "-- ansible-playbook ($name)"; tail -n 60 "$work/$name.log"; }
    done
fi
echo "fleet stage: $((SECONDS - stage_started)) s"
checks_summary
