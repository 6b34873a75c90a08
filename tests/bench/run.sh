#!/usr/bin/env bash
# make bench: speed and memory of the transformer (and the executor's verification) on a large
# synthetic subscription, against the targets below. Timing lives here, never in tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/release"
work="$root/target/bench"

# Targets for the default synthetic subscription (~20 MB of XML: 500 networks, 410,000 IP list
# entries, 20,000 domains) on a 2-core machine.
max_seconds="${QMIG_BENCH_MAX_SECONDS:-10}"
max_rss_mb="${QMIG_BENCH_MAX_RSS_MB:-512}"

rm -rf "$work"
mkdir -p "$work"
"$bin/synth-export" "$work/export" "$@"
du -sh "$work/export"

measure() { # name, command...
  local name="$1"; shift
  /usr/bin/time -f '%e %M' -o "$work/$name.time" "$@" > "$work/$name.out"
  read -r seconds rss_kb < "$work/$name.time"
  local rss_mb=$((rss_kb / 1024))
  printf '%-10s %8ss %8s MB\n' "$name" "$seconds" "$rss_mb"
  if awk -v s="$seconds" -v max="$max_seconds" 'BEGIN { exit !(s > max) }'; then
    echo "FAIL: $name took ${seconds}s (target ${max_seconds}s)"; failed=1
  fi
  if [ "$rss_mb" -gt "$max_rss_mb" ]; then
    echo "FAIL: $name used ${rss_mb} MB (target ${max_rss_mb} MB)"; failed=1
  fi
}

failed=0
measure transform "$bin/qmig-transform" bundle "$work/export" --out "$work/bundle"
tail -n 1 "$work/transform.out"
measure verify "$bin/qmig-execute" verify "$work/bundle"
exit "$failed"
