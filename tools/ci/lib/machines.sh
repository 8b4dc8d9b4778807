# Containers with systemd as PID 1, for the CI stages that need a real
# systemd (tools/ci/systemd-stage.sh, tools/ci/fleet-stage.sh). Sourced, not run.
#
# A Debian 12 root filesystem is made once with debootstrap and cached under
# $MUSE_CI_CACHE (default out/ci); each container boots a throwaway overlay
# of it (systemd-nspawn -b, --register=no --keep-unit: the host needs no
# systemd or machined), so every run starts from the same clean system and a
# second run skips debootstrap. Commands run inside with nsenter into every
# namespace of the container's PID 1.
#
#   machines_rootfs                 make (or reuse) the cached root filesystem; prints its path
#   machine_create NAME             a fresh overlay of it (call it directly, not in $(...)); machine_root
#                                   then names it, to install into before or after the boot
#   machine_boot NAME [NSPAWN-ARGS] boot it (created first if need be); waits until systemd reports the boot finished
#   machine_root NAME               the container's root directory, as seen from the host
#   machine_run NAME CMD...         run CMD inside (root, clean environment), its status returned
#   machine_stop NAME               shut it down and remove its overlay
#   machines_stop_all               every container this shell booted (for an EXIT trap)

: "${MUSE_CI_CACHE:=$PWD/out/ci}"
MACHINES_DIR=$MUSE_CI_CACHE/machines
# The Swift runtime mused and musectl link to (their RUNPATH names it),
# bound read-only at the same path, as a host with the toolchain has it.
MACHINES_SWIFT_RUNTIME=${MACHINES_SWIFT_RUNTIME:-/opt/swift/usr/lib/swift/linux}
# What the root filesystem holds beyond debootstrap's minbase: systemd as
# init, dbus, what mused links to, python3 for Ansible's modules. Changing
# this list rebuilds the cache.
MACHINES_PACKAGES=systemd,systemd-sysv,dbus,python3,liburing2,liblz4-1,libstdc++6,util-linux
MACHINES_SUITE=bookworm
MACHINES_MIRROR=${MACHINES_MIRROR:-http://deb.debian.org/debian}
declare -a MACHINES_BOOTED=()

machines_rootfs() {
    local base=$MUSE_CI_CACHE/rootfs-$MACHINES_SUITE
    local stamp="$MACHINES_SUITE $MACHINES_PACKAGES v1"
    if [ -f "$base/.muse-ci-stamp" ] && [ "$(cat "$base/.muse-ci-stamp")" = "$stamp" ]; then
        echo "$base"
        return 0
    fi
    mkdir -p "$MUSE_CI_CACHE"
    local building=$base.building
    rm -rf "$building" "$base"
    echo "building the container root filesystem with debootstrap (cached in $base)" >&2
    local started=$SECONDS
    # Once more after a failure: a mirror's hiccup should not fail the stage.
    local try
    for try in 1 2; do
        rm -rf "$building"
        debootstrap --variant=minbase --include="$MACHINES_PACKAGES" "$MACHINES_SUITE" "$building" "$MACHINES_MIRROR" \
            >"$MUSE_CI_CACHE/debootstrap.log" 2>&1 && break
        tail -n 30 "$MUSE_CI_CACHE/debootstrap.log" >&2
        echo "debootstrap failed (try $try; log: $MUSE_CI_CACHE/debootstrap.log)" >&2
        [ "$try" = 2 ] && return 1
    done
    # Quieter, faster boots: nothing periodic, no login prompt on the console.
    systemctl --root="$building" mask --quiet apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
        dpkg-db-backup.timer fstrim.timer console-getty.service getty@tty1.service 2>/dev/null || true
    rm -f "$building"/var/cache/apt/archives/*.deb
    echo "$stamp" >"$building/.muse-ci-stamp"
    mv "$building" "$base"
    echo "root filesystem built in $((SECONDS - started)) s" >&2
    echo "$base"
}

machine_root() { echo "$MACHINES_DIR/$1/root"; }

# The PID (on the host) of the container's init.
machine_pid() { cat "$MACHINES_DIR/$1/init.pid"; }

machine_run() {
    local name=$1; shift
    nsenter -t "$(machine_pid "$name")" -a \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"
}

machine_create() {
    local name=$1 base dir
    base=$(machines_rootfs) || return 1
    dir=$MACHINES_DIR/$name
    machine_stop "$name" 2>/dev/null || true
    mkdir -p "$dir/upper" "$dir/work" "$dir/root"
    mount -t overlay "muse-ci-$name" -o "lowerdir=$base,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
    MACHINES_BOOTED+=("$name")
}

machine_boot() {
    local name=$1; shift
    local dir=$MACHINES_DIR/$name
    mountpoint -q "$dir/root" 2>/dev/null || machine_create "$name" || return 1
    local binds=()
    [ -d "$MACHINES_SWIFT_RUNTIME" ] && binds+=("--bind-ro=$MACHINES_SWIFT_RUNTIME")
    systemd-nspawn -D "$dir/root" -b -M "$name" --register=no --keep-unit --link-journal=no \
        --console=read-only "${binds[@]}" "$@" </dev/null >"$dir/console.log" 2>&1 &
    echo $! >"$dir/nspawn.pid"
    # The container's init is nspawn's child once it has started.
    local init="" i
    for i in $(seq 1 200); do
        init=$(pgrep -P "$(cat "$dir/nspawn.pid")" 2>/dev/null | head -n 1 || true)
        if [ -n "$init" ] && [ "$(cat "/proc/$init/comm" 2>/dev/null)" = systemd ]; then break; fi
        kill -0 "$(cat "$dir/nspawn.pid")" 2>/dev/null || { cat "$dir/console.log" >&2; echo "error: $name did not boot" >&2; return 1; }
        sleep 0.1
    done
    echo "$init" >"$dir/init.pid"
    # Until systemd's private socket exists, systemctl cannot connect: retry.
    local state="" waited=$SECONDS
    while [ -z "$state" ] && [ $((SECONDS - waited)) -lt 120 ]; do
        state=$(timeout 120 nsenter -t "$init" -a systemctl is-system-running --wait 2>/dev/null || true)
        [ -n "$state" ] || sleep 0.2
    done
    case $state in
        running) ;;
        *) echo "error: $name booted to '$state'; its console:" >&2
           tail -n 40 "$dir/console.log" >&2
           machine_run "$name" systemctl --failed --no-pager >&2 || true
           return 1 ;;
    esac
}

machine_stop() {
    local name=$1 dir=$MACHINES_DIR/$1
    if [ -f "$dir/nspawn.pid" ]; then
        local pid
        pid=$(cat "$dir/nspawn.pid")
        if kill -0 "$pid" 2>/dev/null; then
            # SIGTERM: nspawn asks the container's systemd to power off.
            kill -TERM "$pid" 2>/dev/null || true
            local i
            for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
        rm -f "$dir/nspawn.pid"
    fi
    if mountpoint -q "$dir/root" 2>/dev/null; then umount "$dir/root" || umount -l "$dir/root"; fi
    rm -rf "$dir"
}

machines_stop_all() {
    local name
    for name in "${MACHINES_BOOTED[@]}"; do machine_stop "$name" 2>/dev/null || true; done
    MACHINES_BOOTED=()
}
