# shellcheck shell=bash
# Helpers of the bench scripts (tests/bench/*.sh), which set $work (their scratch directory)
# before calling measure or get, and exit "$failed" at the end: a missed target is reported
# with the others, not at the first one.
# shellcheck disable=SC2154,SC2034 # $work is set, and $failed read, by the caller

failed=0
fail() { echo "FAIL: $*"; failed=1; }

measure() { # name, command... : leaves wall seconds, CPU seconds and peak RSS (MB) in $name.*
  local name="$1"; shift
  # Returns the command's failure even where the caller's `set -e` is off (`measure ... || ...`).
  /usr/bin/time -f '%e %U %S %M' -o "$work/$name.time" "$@" > "$work/$name.out" || return
  local wall user sys rss_kb
  read -r wall user sys rss_kb < "$work/$name.time"
  printf '%s' "$wall" > "$work/$name.wall"
  awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }' > "$work/$name.cpu"
  printf '%s' "$((rss_kb / 1024))" > "$work/$name.rss"
}
get() { cat "$work/$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
