#!/usr/bin/env bash
# The systemd stage: mused installed by tools/install into a Debian 12
# container booted with systemd as PID 1 (systemd-nspawn), and its units
# checked for real rather than simulated: boot-time sysusers and tmpfiles,
# Type=notify, reload, the watchdog, RuntimeDirectoryPreserve, the path unit,
# and tenant groups enforced on a real client. Prints one line per check and
# exits non-zero if any failed. Needs root, debootstrap, systemd-container.
#
#   tools/ci/systemd-stage.sh [--bin-dir DIR]
#
# DIR holds mused and musectl (default .build/release, built if missing).
# The container's root filesystem is cached under $MUSE_CI_CACHE (default
# out/ci): the first run builds it with debootstrap (a few minutes), later
# runs boot a fresh overlay of it.
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
[ "$(id -u)" = 0 ] || { echo "error: the systemd stage needs root (containers, mounts)" >&2; exit 2; }
for tool in debootstrap systemd-nspawn nsenter cc python3; do
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
M=muse-systemd
cleanup() {
    machines_stop_all
    rm -rf "$work"
}
trap cleanup EXIT

in_m() { machine_run "$M" "$@"; }
serving() {
    in_m musectl status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"]["serving"]["id"])'
}
unit() { in_m systemctl show -P "$2" "$1"; }
client=/usr/local/libexec/muse-ci/muse-test-client
# as USER CMD...: CMD inside, with USER's uid, primary group and supplementary groups.
as() { local user=$1; shift; in_m setpriv --reuid="$user" --regid="$user" --init-groups "$@"; }

echo "== systemd stage: snapshots, test client, root filesystem"
# Generation 2 (the retrained example), a damaged copy of it (one byte
# flipped), and generation 3: the same manifest rebuilt under id 3, from a
# copy whose relative paths resolve through links to the repository.
"$bin_dir/musectl" snapshot build examples/generation/manifest-retrained.toml -o "$work/gen2.snapshot" >/dev/null
python3 - "$work/gen2.snapshot" "$work/damaged.snapshot" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[len(data) // 2] ^= 0x5A
open(sys.argv[2], "wb").write(data)
EOF
mkdir -p "$work/gen3/a/b"
ln -s "$PWD/Tests" "$work/gen3/Tests"
ln -s "$PWD/examples/generation/models" "$work/gen3/a/b/models"
sed -e 's/^generation = 2$/generation = 3/' examples/generation/manifest-retrained.toml >"$work/gen3/a/b/manifest.toml"
"$bin_dir/musectl" snapshot build "$work/gen3/a/b/manifest.toml" -o "$work/gen3.snapshot" >/dev/null
cc -std=c11 -O2 -I Sources/CMuse/include Tests/EndToEndTests/clients/muse_test_client.c -o "$work/muse-test-client" -lm -pthread
rootfs_started=$SECONDS
machines_rootfs >/dev/null
echo "root filesystem ready in $((SECONDS - rootfs_started)) s"

echo "== systemd stage: install with tools/install into the container, boot it"
machine_create "$M"
root=$(machine_root "$M")
DESTDIR=$root tools/install --bin-dir "$bin_dir" >"$work/install.log" 2>&1 || { cat "$work/install.log"; exit 1; }
# The tenants' groups and users, the way deployment.md tells operators to
# declare them: acme's clients are in acme-clients (as is muse, so mused may
# give the segment to it); outsider is in no tenant group. /etc/sysusers.d
# is the admin's (tools/install puts its own under PREFIX/lib).
mkdir -p "$root/etc/sysusers.d"
cat >"$root/etc/sysusers.d/muse-ci-tenants.conf" <<'EOF'
g acme-clients -
g globex-clients -
m muse acme-clients
m muse globex-clients
u acme-app - "acme payments"
m acme-app acme-clients
u outsider - "in no tenant group"
EOF
# acme for the C client (served the check generation: logistic of the
# features' sum), bank-a routed by the example generations.
write_config() {
    {
        echo 'runtime_directory = "/run/muse"'
        echo 'state_directory = "/var/lib/muse"'
        echo 'workers = 1'
        echo
        echo '[[tenant]]'
        echo 'name = "acme"'
        echo 'group = "acme-clients"'
        echo "channels = $1"
        echo 'ring_depth = 64'
        echo
        echo '[[tenant]]'
        echo 'name = "bank-a"'
        echo 'channels = 2'
        shift
        for tenant in "$@"; do
            echo
            echo '[[tenant]]'
            echo "name = \"${tenant%%:*}\""
            [ "${tenant#*:}" = "$tenant" ] || echo "group = \"${tenant#*:}\""
        done
    } >"$root/etc/muse/mused.toml"
}
write_config 4
install -D -m 0755 "$work/muse-test-client" "$root$client"
install -d -m 0755 "$root/srv/muse-ci"
install -m 0644 "$work/gen2.snapshot" "$work/gen3.snapshot" "$work/damaged.snapshot" "$root/srv/muse-ci/"
not_yet_made() {
    ! grep -q '^muse:' "$root/etc/passwd" && [ ! -e "$root/var/lib/muse" ] \
        || { echo "the root filesystem already has them: $(grep '^muse:' "$root/etc/passwd") $(ls -ld "$root/var/lib/muse" 2>&1)"; return 1; }
}
check "installed with DESTDIR: no muse user and no /var/lib/muse before the boot" not_yet_made
boot_started=$SECONDS
machine_boot "$M"
echo "booted in $((SECONDS - boot_started)) s"

echo "== systemd stage: checks"
check "systemd is PID 1 inside and the boot finished cleanly" \
    expect '^running$' in_m systemctl is-system-running
check "systemd-sysusers made the muse user at boot (home /var/lib/muse, no shell)" \
    expect '^muse:x:[0-9]+:[0-9]+:Muse scorer daemon:/var/lib/muse:/usr/sbin/nologin$' in_m getent passwd muse
groups_as_declared() {
    local muse acme outsider
    muse=" $(in_m id -nG muse) " acme=" $(in_m id -nG acme-app) " outsider=" $(in_m id -nG outsider) "
    [[ $muse == *" acme-clients "* && $muse == *" globex-clients "* && $acme == *" acme-clients "* && $outsider != *-clients* ]] \
        || { echo "muse:$muse acme-app:$acme outsider:$outsider"; return 1; }
}
check "muse is a member of the tenant groups, acme-app of acme's, outsider of none" groups_as_declared
check "systemd-tmpfiles made /run/muse 0755 muse:muse at boot" equals "$(in_m stat -c '%a %U:%G' /run/muse)" "755 muse:muse"
check "systemd-tmpfiles made /var/lib/muse 0750 muse:muse at boot" equals "$(in_m stat -c '%a %U:%G' /var/lib/muse)" "750 muse:muse"
check "systemd-tmpfiles made /var/lib/muse/incoming 0770 muse:muse at boot" \
    equals "$(in_m stat -c '%a %U:%G' /var/lib/muse/incoming)" "770 muse:muse"
check "mused has not run yet" equals "$(unit mused ActiveState)" inactive
check "systemctl enable --now mused-swap.path" in_m systemctl enable --now --quiet mused-swap.path

start_began=$SECONDS
start_ok=yes
in_m systemctl start mused || start_ok=no
# No wait, no retry: Type=notify means start returned after READY=1.
status_now=$(in_m musectl status 2>&1 || true)
check "systemctl start mused returns ($((SECONDS - start_began)) s) and succeeded" equals "$start_ok" yes
check "musectl status answers at once after start returned: both tenants, generation 1" \
    expect 'tenants: acme, bank-a' echo "$status_now"
notify_unit_running() {
    local type state text
    type=$(unit mused Type) state=$(unit mused SubState) text=$(unit mused StatusText)
    [ "$type" = notify ] && [ "$state" = running ] && [[ $text == "serving 2 tenants with 1 worker"* ]] \
        || { echo "Type=$type SubState=$state StatusText=$text"; return 1; }
}
check "the unit is Type=notify, active (running), its status text from mused's STATUS=" notify_unit_running
serving_before_started() {
    local journal s t
    journal=$(in_m journalctl -u mused -o cat --no-pager)
    s=$(grep -n "event=serving" <<<"$journal" | head -n1 | cut -d: -f1)
    t=$(grep -n "Started mused.service" <<<"$journal" | head -n1 | cut -d: -f1)
    [ -n "$s" ] && [ -n "$t" ] && [ "$s" -lt "$t" ] || { echo "$journal"; return 1; }
}
check "the journal: mused's event=serving (READY=1) comes before systemd's 'Started'" serving_before_started
check "acme's segment is 0660 muse:acme-clients" equals "$(in_m stat -c '%a %U:%G' /run/muse/acme.muse)" "660 muse:acme-clients"
check "a process in acme-clients scores 2000 events, each answered once and exactly" \
    expect 'answered=2000 sent=2000 duplicates=0 lost=0 wrong=0' as acme-app "$client" stream /run/muse acme 1 2000
outsider_refused() {
    local out rc=0
    out=$(as outsider "$client" open /run/muse acme 2>&1) || rc=$?
    [ "$rc" = 3 ] && grep -q 'errno=Permission denied' <<<"$out" || { echo "exit $rc: $out"; return 1; }
}
check "a process outside acme-clients cannot open acme's segment (EACCES)" outsider_refused
check "a process outside the admin groups cannot use the control socket" not as outsider musectl status

echo "-- systemctl reload"
write_config 4 globex:globex-clients
check "systemctl reload mused applies a tenant added to the file" in_m systemctl reload mused
check "  the added tenant's segment exists, 0660 muse:globex-clients" \
    equals "$(in_m stat -c '%a %U:%G' /run/muse/globex.muse 2>&1)" "660 muse:globex-clients"
check "  musectl tenants lists it" expect '^globex ' in_m musectl tenants
pid_before=$(unit mused MainPID)
write_config 8 globex:globex-clients initech
reload_refused=no
in_m systemctl reload mused >"$work/reload.log" 2>&1 || reload_refused=yes
check "systemctl reload mused fails for a file changing acme's channels (a restart-only change)" equals "$reload_refused" yes
nothing_applied() {
    local tenants
    tenants=$(in_m musectl tenants 2>&1)
    ! grep -q '^initech ' <<<"$tenants" && grep -qE '^acme +serving +4 ' <<<"$tenants" \
        && [ "$(unit mused MainPID)" = "$pid_before" ] && [ "$(unit mused ActiveState)" = active ] \
        || { echo "$tenants"; return 1; }
}
check "  nothing of it applied: no initech, acme still 4 channels, same mused, still active" nothing_applied
check "  the journal names the reason" expect 'event=reload-refused.*channels' in_m journalctl -u mused -o cat --no-pager
write_config 4 globex:globex-clients
check "systemctl reload mused with the file put back" in_m systemctl reload mused

# start_client NAME ID: acme-app streams events (at most 8 in flight) until
# SIGTERM, checking every answer; stop_client NAME waits for its verdict.
start_client() {
    in_m sh -c "echo \$\$ >/run/muse-ci-$1.pid && exec setpriv --reuid=acme-app --regid=acme-app --init-groups $client stream /run/muse acme $2 0 8" \
        >"$work/$1.log" 2>&1 &
    echo $! >"$work/$1.host-pid"
    sleep 1
}
# (Not inside check: the client is a child of this shell, not of check's subshell.)
stop_client() {
    in_m sh -c "kill -TERM \$(cat /run/muse-ci-$1.pid)"
    local rc=0
    wait "$(cat "$work/$1.host-pid")" || rc=$?
    echo "exit=$rc" >>"$work/$1.log"
}
# Every answer once, in order, exact, and across one more incarnation of mused.
client_verdict() {
    grep -qE 'duplicates=0 lost=0 wrong=0 foreign=0 .*incarnations=1$' "$work/$1.log" && grep -qx 'exit=0' "$work/$1.log" \
        || { cat "$work/$1.log"; return 1; }
}

echo "-- systemctl restart (RuntimeDirectoryPreserve=yes)"
inode_before=$(in_m stat -c %i /run/muse/acme.muse)
pid_before=$(unit mused MainPID)
start_client restart 2
check "systemctl restart mused while a client streams" in_m systemctl restart mused
new_mused() {
    [ "$(unit mused MainPID)" != "$pid_before" ] && [ "$(unit mused ActiveState)" = active ] \
        || { echo "MainPID $(unit mused MainPID) (was $pid_before), $(unit mused ActiveState)"; return 1; }
}
# The segment file is the one from before, and the running mused adopted it.
segment_adopted() {
    local journal
    journal=$(in_m journalctl -u mused -o cat --no-pager _PID="$(unit mused MainPID)")
    [ "$(in_m stat -c %i /run/muse/acme.muse)" = "$inode_before" ] && grep -q 'event=segment-adopted tenant=acme' <<<"$journal" \
        || { echo "inode $(in_m stat -c %i /run/muse/acme.muse), was $inode_before; journal:"; echo "$journal"; return 1; }
}
check "  a new mused, active" new_mused
check "  the same segment file (inode $inode_before), adopted" segment_adopted
sleep 1
stop_client restart
check "  the client's events were all answered once, across the restart (incarnations=1)" \
    client_verdict restart

echo "-- the watchdog (WatchdogSec=10s): mused stopped with SIGSTOP"
pid_before=$(unit mused MainPID)
restarts_before=$(unit mused NRestarts)
start_client watchdog 3
in_m sh -c "kill -STOP $pid_before"
stopped_at=$SECONDS
recovered=no
while [ $((SECONDS - stopped_at)) -lt 90 ]; do
    if [ "$(unit mused MainPID)" != "$pid_before" ] && [ "$(unit mused MainPID)" != 0 ] \
        && [ "$(unit mused SubState)" = running ]; then recovered=yes; break; fi
    sleep 0.5
done
check "systemd killed the stopped mused and started another ($((SECONDS - stopped_at)) s)" equals "$recovered" yes
check "  NRestarts went up by one" equals "$(unit mused NRestarts)" "$((restarts_before + 1))"
check "  the journal says it was the watchdog" expect 'Watchdog timeout' in_m journalctl -u mused -o cat --no-pager
check "  the new mused adopted acme's segment (inode $inode_before)" segment_adopted
sleep 1
stop_client watchdog
check "  events submitted before the stop were answered after, none lost or doubled (incarnations=1)" \
    client_verdict watchdog

echo "-- the path unit: snapshots dropped into /var/lib/muse/incoming"
# drop NAME: the documented way: copy under another name, rename into place.
drop() {
    in_m install -m 0640 -o root -g muse "/srv/muse-ci/$1.snapshot" "/var/lib/muse/incoming/.$1.part"
    in_m mv "/var/lib/muse/incoming/.$1.part" "/var/lib/muse/incoming/$1.snapshot"
}
# filed NAME: waits until NAME.snapshot left incoming/; prints applied or refused.
filed() {
    local i
    for i in $(seq 1 90); do
        if ! in_m test -e "/var/lib/muse/incoming/$1.snapshot"; then
            if in_m sh -c "ls /var/lib/muse/incoming/applied/$1-*.snapshot" >/dev/null 2>&1; then echo applied; return; fi
            if in_m sh -c "ls /var/lib/muse/incoming/refused/$1-*.snapshot" >/dev/null 2>&1; then echo refused; return; fi
        fi
        sleep 0.5
    done
    echo "still waiting"
}
reason() { in_m sh -c "cat /var/lib/muse/incoming/refused/$1-*.snapshot.reason"; }
drop damaged
check "a damaged snapshot is filed under refused/" equals "$(filed damaged)" refused
check "  with its reason" expect 'refusing snapshot' reason damaged
check "  generation 1 still serves" equals "$(serving)" 1
drop gen2
check "generation 2, whose intents' features differ, is filed under refused/" equals "$(filed gen2)" refused
check "  the reason: a schema change is never taken without --allow-schema-change" expect 'allow-schema-change' reason gen2
check "  generation 1 still serves" equals "$(serving)" 1
check "the operator swaps generation 2 in by hand, allowing the schema change" \
    expect 'serving generation 2' in_m musectl swap --allow-schema-change /srv/muse-ci/gen2.snapshot
drop gen3
check "generation 3 (gated: bank-a's primaries unchanged) is swapped in and filed under applied/" equals "$(filed gen3)" applied
check "  generation 3 serves" equals "$(serving)" 3
check "  mused-swap.service's journal says so" expect 'gen3.snapshot: serving generation 3' in_m journalctl -u mused-swap -o cat --no-pager
restarts_on_recorded() { in_m systemctl restart mused && equals "$(serving)" 3; }
check "systemctl restart mused comes back on generation 3 (the state directory)" restarts_on_recorded
stop_keeps_segments() { in_m systemctl stop mused && in_m test -f /run/muse/acme.muse && in_m test -f /run/muse/globex.muse; }
check "systemctl stop mused leaves the segments in /run/muse" stop_keeps_segments

if [ "$checks_failed" -gt 0 ]; then
    echo "-- journal of mused and mused-swap (last 80 lines)"
    in_m journalctl -u mused -u mused-swap -u mused-swap.path -o short-monotonic --no-pager | tail -n 80 || true
fi
echo "systemd stage: $((SECONDS - stage_started)) s"
checks_summary
