#!/usr/bin/env bash
# make bench: speed and memory of the transformer and of the executor's verification on
# synthetic subscriptions, as ratios to yardsticks measured in the same run on the same files:
# a bare single-threaded quick-xml scan of the export (xml-scan) and `sha256sum -c` of the bundle.
# Timing lives here, never in tests. Fails when a target of issue 14 is missed.
#
#   QMIG_BENCH_SIZES   which exports to run: "default large" (default), or one of them
#   QMIG_BENCH_LARGE   synth-export arguments of the large export (~1 GB by default)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/release"
work="$root/target/bench"
sizes="${QMIG_BENCH_SIZES:-default large}"
large_args="${QMIG_BENCH_LARGE:---ip-entries 8000000 --domains 1000000 --asset-groups 100000 --users 40000 --tags 100000}"

# Targets (issue 14), checked on the large export.
max_transform_ratio=2
max_verify_ratio=1.5
max_transform_mb=256
max_verify_mb=256
max_run_mb=512

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$root/tests/bench/lib.sh"

rm -rf "$work"
mkdir -p "$work"
rows=()
for size in $sizes; do
  export_dir="$work/export-$size" bundle="$work/bundle-$size"
  case "$size" in
    default) "$bin/synth-export" "$export_dir" ;;
    large)
      # shellcheck disable=SC2086 # the arguments are meant to be split
      "$bin/synth-export" "$export_dir" $large_args ;;
    *) echo "unknown size $size (default, large)"; exit 2 ;;
  esac
  export_bytes=$(du -sb "$export_dir" | cut -f1)

  measure "scan-$size" "$bin/xml-scan" "$export_dir"
  measure "transform-$size" "$bin/qmig-transform" bundle "$export_dir" --out "$bundle"
  digest=$(sed -n 's/^digest: //p' "$work/transform-$size.out")
  bundle_bytes=$(du -sb "$bundle" | cut -f1)
  measure "sha256sum-$size" sh -c "cd '$bundle' && sha256sum -c --quiet SHA256SUMS"
  measure "verify-$size" "$bin/qmig-execute" verify "$bundle"
  # The run without network or journal: it verifies and holds the bundle as a run does.
  measure "run-$size" "$bin/qmig-execute" run "$bundle" --target https://qualysapi.qualys.com \
    --approve "$digest" --dry-run --username bench

  transform_ratio=$(ratio "$(get "transform-$size.wall")" "$(get "scan-$size.wall")")
  verify_ratio=$(ratio "$(get "verify-$size.wall")" "$(get "sha256sum-$size.wall")")
  rows+=("$(printf '| %s %s MB | %ss / %ss CPU | %ss: **%s×** wall, %s× CPU | %s MB | %s MB | %ss: **%s×** | %s MB | %s MB |' \
    "$size" "$(mb "$export_bytes")" \
    "$(get "scan-$size.wall")" "$(get "scan-$size.cpu")" \
    "$(get "transform-$size.wall")" "$transform_ratio" \
    "$(ratio "$(get "transform-$size.cpu")" "$(get "scan-$size.cpu")")" \
    "$(get "transform-$size.rss")" "$(mb "$bundle_bytes")" \
    "$(get "verify-$size.wall")" "$verify_ratio" "$(get "verify-$size.rss")" "$(get "run-$size.rss")")")

  if [ "$size" = large ]; then
    above "$transform_ratio" "$max_transform_ratio" && fail "transform is ${transform_ratio}× the bare scan (target ${max_transform_ratio}×)"
    above "$verify_ratio" "$max_verify_ratio" && fail "verify is ${verify_ratio}× sha256sum -c (target ${max_verify_ratio}×)"
    above "$(get "transform-$size.rss")" "$max_transform_mb" && fail "transform peak RSS $(get "transform-$size.rss") MB (target ${max_transform_mb} MB)"
    above "$(get "verify-$size.rss")" "$max_verify_mb" && fail "verify peak RSS $(get "verify-$size.rss") MB (target ${max_verify_mb} MB)"
    above "$(get "run-$size.rss")" "$max_run_mb" && fail "run (dry) peak RSS $(get "run-$size.rss") MB (target ${max_run_mb} MB)"
    above "$bundle_bytes" "$export_bytes" && fail "the bundle ($(mb "$bundle_bytes") MB) is larger than the export"
  fi
  rm -rf "$export_dir" "$bundle"
done

echo
echo "| export | bare quick-xml scan (wall / CPU) | transform / bare scan | transform peak RSS | bundle size | verify / \`sha256sum -c\` | verify peak RSS | run (dry) peak RSS |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit "$failed"
