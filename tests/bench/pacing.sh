#!/usr/bin/env bash
# make bench (pacing): issue 15's three figures on a large synthetic subscription (about 9,500
# requests: 4,772 asset groups, 1,766 users, 853 root tags with four children each, networks,
# IPs, domains), executed against qualys-sim:
#   1. at Standard limits (300 calls per 3600 s per endpoint) with a time scale of 360 (a call's
#      few milliseconds here count as about a simulated second, close to a real Qualys call):
#      the simulated time against the lower bound (the busiest endpoint's calls ÷ its rate, or
#      the longest dependency chain if longer);
#   2. the calls that run made, reads and probes included, against the calls Qualys's sample
#      scripts would make for the same objects, endpoint by endpoint, with why qmig makes more;
#   3. without limits (time scale 1): the executor's wall time per request, fsync included.
# Timing lives here, never in tests. Fails when a target of issue 15 is missed.
#
#   QMIG_BENCH_PACING   synth-export arguments of the subscription
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/release"
work="$root/target/bench-pacing"
export_args="${QMIG_BENCH_PACING:---networks 100 --ip-entries 20000 --domains 1100 --asset-groups 4772 --users 1766 --tags 4265 --tag-levels 2}"

# Standard limits, and the time scale of the rehearsal (simulator and executor alike).
rate_limit=300/3600
time_scale=360
# Target (issue 15): simulated time at most this multiple of the lower bound.
max_ratio=1.10

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$root/tests/bench/lib.sh"
# shellcheck source-path=SCRIPTDIR/../.. source=tests/simulator.sh
. "$root/tests/simulator.sh"

user=bench
password=bench-password
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

rm -rf "$work"
mkdir -p "$work"
umask 077
printf '%s\n' "$password" > "$work/target-password"

# shellcheck disable=SC2086 # the arguments are meant to be split
"$bin/synth-export" "$work/export" $export_args
"$bin/qmig-transform" bundle "$work/export" --out "$work/bundle" > "$work/transform.out"
digest=$(sed -n 's/^digest: //p' "$work/transform.out")
requests=$(sed -n 's/^ *\([0-9]*\) requests,.*/\1/p' "$work/transform.out")

# execute NAME URL [OPTION...]: runs the whole bundle (preflight included) against the simulator
# at URL with its own journal, timed as NAME; stops the bench if it fails. A synthetic
# subscription has no scan schedules, so nothing waits for the cutover. The progress lines (a
# few thousand waits) go to NAME.err.
execute() {
  local name=$1 url=$2
  shift 2
  measure "$name" "$bin/qmig-execute" run "$work/bundle" --target "$url" --approve "$digest" \
    --username "$user" --password-file "$work/target-password" --journal "$work/$name.journal" "$@" \
    2> "$work/$name.err" \
    || { cat "$work/$name.out"; tail -n 5 "$work/$name.err"; echo "FAIL: the $name run did not finish"; exit 1; }
}
# report NAME: stops the simulator started last and keeps its report (JSON) as NAME.json.
report() {
  stop_simulator "$sim_url" "$sim_pid"
  tail -n +2 "$work/$1.log" > "$work/$1.json"
}

# Figure 3 first: its time per request also prices the longest dependency chain of figure 1.
start_simulator "$work/unlimited.log"
execute unlimited "$sim_url"
report unlimited
per_request_ms=$(awk -v s="$(get unlimited.wall)" -v n="$requests" 'BEGIN { printf "%.2f", s * 1000 / n }')
call_secs=$(awk -v ms="$per_request_ms" -v k="$time_scale" 'BEGIN { printf "%.3f", ms * k / 1000 }')

start_simulator "$work/limited.log" --rate-limit "$rate_limit" --time-scale "$time_scale"
execute limited "$sim_url" --time-scale "$time_scale"
report limited

echo
"$bin/bench-pacing" "$work/bundle" "$work/limited.json" --rate-limit "$rate_limit" \
  --call-secs "$call_secs" --max-ratio "$max_ratio" || failed=1
echo
echo "Executor overhead without limits (issue 15, figure 3)"
echo "$requests requests in $(get unlimited.wall) s: $per_request_ms ms per request (journal fsync included)," \
  "limited run: $(get limited.wall) s real"
exit "$failed"
