# shellcheck shell=bash
# Shell helpers that start and stop qualys-sim, sourced by samples/demo.sh and tests/bench/*.sh.
# The caller sets $bin (the directory of the binaries), $user and $password (the API user the
# simulator knows), and an array pids=() that its EXIT trap kills.
# shellcheck disable=SC2154 # those are the caller's

# start_simulator LOG [OPTION...]: starts qualys-sim on a free port with these options, sets
# $sim_pid and $sim_url. LOG receives its output: the listening line, then its report.
start_simulator() {
  local log=$1
  shift
  # Created here, not by the background job's redirection, so the wait below never reads a
  # file that does not exist yet.
  : > "$log"
  "$bin/qualys-sim" --listen 127.0.0.1:0 --user "$user" --password "$password" "$@" > "$log" 2>&1 &
  sim_pid=$!
  pids+=("$sim_pid")
  sim_url=""
  for _ in $(seq 1 100); do
    sim_url="$(sed -n '1s/^listening on //p' "$log")"
    [ -n "$sim_url" ] && return 0
    kill -0 "$sim_pid" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
  done
  echo "qualys-sim did not start"; exit 1
}

# stop_simulator URL PID: asks the simulator to stop and waits until it has printed its report.
stop_simulator() {
  curl -sS --fail -X POST "$1/__sim/shutdown" > /dev/null
  wait "$2"
}
