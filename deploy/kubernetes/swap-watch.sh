#!/bin/sh
# The DaemonSet's swap container: what mused-swap.path and mused-swap.service
# do on a systemd host. Every MUSE_SWAP_INTERVAL seconds, if a *.snapshot
# waits in the incoming directory (written under another name and renamed,
# like on a systemd host: deploy/ansible's role, or kubectl cp then mv), mused
# swaps to it, gated, and it is filed under applied/ or refused/ with a
# .reason beside it. Shipped in the mused-config ConfigMap (configmap.yaml
# carries a copy of this file; tools/ci/deploy-check.sh checks they agree and
# runs it against a real mused).
incoming=${MUSE_INCOMING:-/var/lib/muse/incoming}
runtime=${MUSE_RUNTIME_DIR:-/run/muse}
interval=${MUSE_SWAP_INTERVAL:-5}
musectl=${MUSECTL:-musectl}
trap 'exit 0' TERM INT
echo "watching $incoming for *.snapshot every ${interval}s"
while :; do
    for file in "$incoming"/*.snapshot; do
        [ -f "$file" ] || continue
        # Files every waiting snapshot; non-zero if one was refused or mused was unreachable.
        "$musectl" swap-incoming "$incoming" --gate --runtime-dir "$runtime" \
            || echo "swap-incoming exited $? (refused files are in $incoming/refused/)"
        break
    done
    sleep "$interval" &
    wait $!
done
