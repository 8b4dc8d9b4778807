#!/usr/bin/env bash
# Checks deploy/ against the real thing: the Kubernetes manifests validated
# strictly with kubernetes-validate (from PyPI, pinned, in a venv under out/),
# the alerting rules with promtool (check rules, and their unit tests), and
# every metric the Grafana dashboard and the rules name found in a scrape of
# a real mused serving traffic; the DaemonSet's swap script run against that
# mused. Prints one line per check; exits non-zero if any failed.
#
#   tools/ci/deploy-check.sh [--bin-dir DIR]    (mused, musectl; default .build/release, built if missing)
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
for tool in promtool cc curl /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing (tools/install-deps.sh)" >&2; exit 2; }
done
if [ ! -x "$bin_dir/mused" ] || [ ! -x "$bin_dir/musectl" ]; then
    swift build -c release --product mused
    swift build -c release --product musectl
    bin_dir=$(swift build -c release --show-bin-path)
fi
bin_dir=$(cd "$bin_dir" && pwd)

. tools/ci/lib/checks.sh
work=$(mktemp -d)
mused_pid=""
watcher_pid=""
cleanup() {
    [ -z "$watcher_pid" ] || { kill "$watcher_pid" 2>/dev/null; wait "$watcher_pid" 2>/dev/null; } || true
    [ -z "$mused_pid" ] || { kill "$mused_pid" 2>/dev/null; wait "$mused_pid" 2>/dev/null; } || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "== deploy/kubernetes: kubernetes-validate --strict"
# Pinned: a new release may bring new schemas; move the pin deliberately.
kubernetes_validate_version=1.37.0
venv=out/deploy-venv
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "kubernetes-validate==$kubernetes_validate_version"
# The oldest Kubernetes release still commonly run, and the newest the pinned tool knows.
for k8s in 1.30.0 1.37.0; do
    check "the manifests validate strictly against Kubernetes $k8s" \
        "$venv/bin/kubernetes-validate" --strict --quiet -k "$k8s" deploy/kubernetes/*.yaml
done
same_script() {
    "$venv/bin/python" - <<'EOF'
import sys, yaml
data = yaml.safe_load(open("deploy/kubernetes/configmap.yaml"))["data"]
if data["swap-watch.sh"] != open("deploy/kubernetes/swap-watch.sh").read():
    sys.exit("configmap.yaml's swap-watch.sh differs from deploy/kubernetes/swap-watch.sh")
EOF
}
check "the ConfigMap carries deploy/kubernetes/swap-watch.sh as it is" same_script
config_accepted() {
    "$venv/bin/python" -c 'import yaml; print(yaml.safe_load(open("deploy/kubernetes/configmap.yaml"))["data"]["mused.toml"])' \
        >"$work/k8s-mused.toml"
    # The node's paths replaced by scratch ones; mused must start on the rest.
    sed -i -e "s|\"/run/muse\"|\"$work/k8s-run\"|" -e "s|\"/var/lib/muse\"|\"$work/k8s-state\"|" \
        -e 's|group = "200[12]"|group = "'"$(id -g)"'"|' -e "s|127.0.0.1:9464|127.0.0.1:$(free_port)|" "$work/k8s-mused.toml"
    "$bin_dir/mused" --config "$work/k8s-mused.toml" >"$work/k8s-mused.log" 2>&1 &
    local pid=$! i
    for i in $(seq 1 100); do grep -q 'event=serving' "$work/k8s-mused.log" && break; sleep 0.1; done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    grep -q 'event=serving tenants=2' "$work/k8s-mused.log" || { cat "$work/k8s-mused.log"; return 1; }
}
check "the ConfigMap's mused.toml starts a mused (paths and group ids replaced)" config_accepted

echo "== deploy/prometheus: promtool"
check "promtool check rules muse-alerts.yml" promtool check rules deploy/prometheus/muse-alerts.yml
check "promtool test rules muse-alerts.test.yml" promtool test rules deploy/prometheus/muse-alerts.test.yml

echo "== a real mused's scrape: the metrics the dashboard and the rules name"
"$bin_dir/musectl" snapshot build examples/generation/manifest.toml -o "$work/gen1.snapshot" >/dev/null
port=$(free_port)
# Generation 1 routes bank-a's card-not-present to cnp-v1 with cnp-blend as
# a shadow: events give the drift and shadow series too.
"$bin_dir/mused" --runtime-dir "$work/run" --state-dir "$work/state" --snapshot "$work/gen1.snapshot" \
    --tenant bank-a::2:64 --tenant shop-b::2:64 --metrics-address "127.0.0.1:$port" >"$work/mused.log" 2>&1 &
mused_pid=$!
for _ in $(seq 1 100); do grep -q 'event=serving' "$work/mused.log" && break; sleep 0.1; done
cc -std=c11 -O2 -I Sources/CMuse/include examples/score_events.c -o "$work/score_events" -lm
check "2000 events of bank-a scored (examples/score_events.c)" "$work/score_events" "$work/run" bank-a 2000
printf 'not a snapshot' >"$work/junk.snapshot"
check "a refused swap (counted as refused)" not "$bin_dir/musectl" swap "$work/junk.snapshot" --runtime-dir "$work/run"
scrape() { curl -sf "http://127.0.0.1:$port/metrics"; }
# Counters trail the answers by a scrape or two.
for _ in $(seq 1 50); do
    scrape >"$work/scrape.txt" || true
    grep -q '^muse_shadow_events{tenant="bank-a"' "$work/scrape.txt" && break
    sleep 0.2
done
names_present() {
    /usr/bin/python3 - "$work/scrape.txt" deploy/grafana/muse-dashboard.json deploy/prometheus/muse-alerts.yml <<'EOF'
import json, re, sys
scrape, dashboard, rules = sys.argv[1:]
exported = {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            for line in open(scrape) if line.strip() and not line.startswith("#")}
# Metric names in a PromQL expression: strip strings, label matchers, ranges,
# by/on/... clauses and numbers; of the identifiers left, those not called
# as functions and not operators are metric names.
keywords = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
            "offset", "inf", "nan"}
def metric_names(expr):
    expr = re.sub(r'"(\\.|[^"\\])*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for m in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", expr):
        if m.group(2) or m.group(1).lower() in keywords:
            continue
        names.add(m.group(1))
    return names
exprs = []
dash = json.load(open(dashboard))
for panel in dash["panels"]:
    exprs += [("dashboard: " + panel["title"], t["expr"]) for t in panel.get("targets", [])]
for var in dash["templating"]["list"]:
    if var["type"] == "query":
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        inner = re.match(r"label_values\((.*),\s*\w+\)$", query)
        exprs.append(("dashboard variable " + var["name"], inner.group(1) if inner else query))
text = open(rules).read()
for m in re.finditer(r"^\s+- alert: (\w+)\n\s+(?:#.*\n\s+)*expr: (>-\n(?:\s{10}.*\n)+|.*\n)", text, re.M):
    expr = m.group(2)
    if expr.startswith(">-"):
        expr = " ".join(l.strip() for l in expr.splitlines()[1:])
    exprs.append(("alert " + m.group(1), expr))
alerts = len(re.findall(r"^\s+- alert: ", text, re.M))
found = sum(1 for where, _ in exprs if where.startswith("alert "))
if found != alerts:
    sys.exit(f"read the expression of {found} alerts of {alerts}")
# `up` is the series Prometheus itself adds for each scrape.
synthetic = {"up"}
missing, used = [], set()
for where, expr in exprs:
    names = metric_names(expr)
    if not names:
        missing.append(f"{where}: no metric in {expr!r}")
    for name in names:
        used.add(name)
        if name not in exported and name not in synthetic:
            missing.append(f"{where}: {name} is not in the scrape")
if missing:
    sys.exit("\n".join(missing) + "\nexported: " + " ".join(sorted(exported)))
print(f"{len(exprs)} expressions name {len(used)} metrics, all in the scrape: " + " ".join(sorted(used)))
EOF
}
check "every metric the dashboard and the alert rules name is in the scrape" names_present
# The DaemonSet's probes. GET /healthz and /readyz are being added to mused
# separately: a mused that answers 404 predates them and is only noted.
for path in /healthz /readyz; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path" || true)
    if [ "$code" = 404 ]; then
        echo "note - GET $path answers 404: this mused predates the endpoint the DaemonSet's probes use"
    else
        check "GET $path answers 200 (the DaemonSet's probes)" equals "$code" 200
    fi
done

echo "== deploy/kubernetes/swap-watch.sh against that mused"
incoming=$work/incoming
mkdir -p "$incoming"
MUSECTL="$bin_dir/musectl" MUSE_INCOMING=$incoming MUSE_RUNTIME_DIR=$work/run MUSE_SWAP_INTERVAL=0.2 \
    sh deploy/kubernetes/swap-watch.sh >"$work/watch.log" 2>&1 &
watcher_pid=$!
drop() { cp "$1" "$incoming/.$2.part" && mv "$incoming/.$2.part" "$incoming/$2.snapshot"; }
filed() {
    local i
    for i in $(seq 1 100); do
        if [ ! -e "$incoming/$1.snapshot" ]; then
            ls "$incoming"/applied/"$1"-*.snapshot >/dev/null 2>&1 && { echo applied; return; }
            ls "$incoming"/refused/"$1"-*.snapshot >/dev/null 2>&1 && { echo refused; return; }
        fi
        sleep 0.1
    done
    echo "still waiting"
}
drop "$work/junk.snapshot" junk
check "a damaged snapshot is filed under refused/, with its reason" \
    bash -c '[ "$1" = refused ] && grep -q "refusing snapshot" "$2"/refused/junk-*.reason' _ "$(filed junk)" "$incoming"
drop "$work/gen1.snapshot" again
check "generation 1 again (its primaries unchanged: the gate passes) is filed under applied/" equals "$(filed again)" applied
kill "$watcher_pid"
watcher_rc=0
wait "$watcher_pid" || watcher_rc=$?
watcher_pid=""
check "the watcher stops on SIGTERM with status 0" equals "$watcher_rc" 0

checks_summary
