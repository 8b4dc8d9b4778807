# One line per check for the CI stages (tools/ci/*-stage.sh). Sourced, not run.
#
#   check WHAT CMD...   runs CMD in a subshell (it changes nothing in the caller):
#                       "ok - WHAT", or "FAIL - WHAT" and what CMD printed
#   expect RE CMD...    CMD succeeds and prints a line matching the extended regex RE
#   equals GOT WANTED   GOT is WANTED
#   not CMD...          CMD fails
#   checks_summary      "N passed, N failed"; fails if any check failed

checks_passed=0
checks_failed=0

check() {
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then
        echo "ok - $what"
        checks_passed=$((checks_passed + 1))
    else
        echo "FAIL - $what"
        printf '%s\n' "$out" | tail -n 40 | sed 's/^/    /'
        checks_failed=$((checks_failed + 1))
    fi
}

expect() {
    local pattern=$1 out
    shift
    out=$("$@" 2>&1) || { echo "$* failed:"; echo "$out"; return 1; }
    grep -qE -- "$pattern" <<<"$out" || { echo "'$pattern' not in the output of $*:"; echo "$out"; return 1; }
}

equals() { [ "$1" = "$2" ] || { echo "expected '$2', got '$1'"; return 1; }; }

not() { ! "$@"; }

checks_summary() {
    echo "$checks_passed passed, $checks_failed failed"
    [ "$checks_failed" -eq 0 ]
}
