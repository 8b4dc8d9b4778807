#!/usr/bin/env bash
# Regenerates the man pages docs/man/mused.1 and docs/man/musectl.1 from the
# commands' own help, with swift-argument-parser's generate-manual plugin
# (offline once the packages are resolved). tools/install installs them; a
# test fails when an option of `--help` is missing from them, so run this
# after changing a command's options, and commit the result.
#   tools/generate-man.sh [DATE]     DATE (yyyy-mm-dd, default today) goes in the pages
set -euo pipefail
cd "$(dirname "$0")/.."
date=${1:-$(date +%F)}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift package generate-manual --configuration debug --date "$date" >"$log" 2>&1 || { cat "$log"; exit 1; }
out=.build/plugins/GenerateManual/outputs
mkdir -p docs/man
see_also() {
    printf '.Sh "SEE ALSO"\n.Xr %s 1 ,\n.Xr systemd.service 5\n.Pp\n' "$1"
    printf '%s\n' "The README, docs/deployment.md and the commented sample configuration mused.toml, installed in" \
        "share/doc/muse beside these pages."
}
# mused has no subcommands: the generator still writes one into the synopsis
# and lists its built-in help subcommand; both go.
awk '
    /^\.Ar subcommand$/ && !synopsis_done { synopsis_done = 1; next }
    /^\.It Em help$/ { skipping = 1 }
    skipping { if ($0 == ".El") skipping = 0; next }
    { print }
' "$out/mused/mused.1" > docs/man/mused.1
see_also musectl >> docs/man/mused.1
cp "$out/musectl/musectl.1" docs/man/musectl.1
see_also mused >> docs/man/musectl.1
echo "wrote docs/man/mused.1 and docs/man/musectl.1 (dated $date)"
