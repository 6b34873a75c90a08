#!/usr/bin/env bash
# make demo: the whole pipeline on the sample export, against the simulated Qualys API.
#
#   1. start qualys-sim on loopback, seeded as the new subscription after the manual steps
#      (samples/target-export: its users and business units, its redeployed appliances);
#   2. qmig-transform the sample export into a bundle;
#   3. check the bundle as a reviewer would (sha256sum -c) and with qmig-execute verify;
#   4. qmig-execute run it against the simulator, with the approved digest: it stops at the
#      cutover gate, every scan schedule created inactive;
#   5. run the cutover (run --cutover), which switches on the schedules active in the source;
#   6. print what the simulated target holds, export it, and reconcile that export with the
#      source's: 100%, every difference documented by the review (reconcile.md);
#   7. stop the simulator.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
demo="${1:-$root/target/demo}"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
user=demo
password=demo-password

step() { printf '\n== %s\n' "$*"; }

rm -rf "$demo"
mkdir -p "$demo"
demo="$(cd "$demo" && pwd)"
umask 077
printf '%s\n' "$password" > "$demo/target-password"
# The sample credentials file's passphrase (samples/README.md); an operator types it at a prompt.
printf '%s\n' northwind-demo-passphrase > "$demo/credentials-passphrase"

step "Starting the simulated target (qualys-sim)"
# Created here, not by the background job's redirection, so the wait below never reads a file
# that does not exist yet.
: > "$demo/simulator.log"
"$bin/qualys-sim" --listen 127.0.0.1:0 --seed "$root/samples/target-export" \
  --user "$user" --password "$password" > "$demo/simulator.log" 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 100); do
  url="$(sed -n '1s/^listening on //p' "$demo/simulator.log")"
  [ -n "$url" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$demo/simulator.log"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "qualys-sim did not start"; exit 1; }
echo "target: $url"

step "Transforming samples/export into a bundle"
"$bin/qmig-transform" bundle "$root/samples/export" --inputs "$root/samples/inputs" \
  --target-export "$root/samples/target-export" --credentials-passphrase-file "$demo/credentials-passphrase" \
  --target "$url" --out "$demo/bundle" | tee "$demo/transform.log"
digest="$(tail -n 1 "$demo/transform.log" | sed 's/^digest: //')"

step "Reviewing: sha256sum -c SHA256SUMS, then qmig-execute verify"
(cd "$demo/bundle" && sha256sum --check --strict --quiet SHA256SUMS && echo "SHA256SUMS: every file matches")
"$bin/qmig-execute" verify "$demo/bundle"

execute() {
  "$bin/qmig-execute" run "$demo/bundle" --target "$url" --approve "$digest" \
    --username "$user" --password-file "$demo/target-password" \
    --passphrase-file "$demo/credentials-passphrase" --journal "$demo/journal.jsonl" "$@"
  "$bin/qmig-execute" status "$demo/bundle" --journal "$demo/journal.jsonl"
}

step "Executing the approved bundle ($digest): the migration phase, up to the cutover gate"
execute
schedules() {
  curl -sS --fail -X POST -H 'X-Requested-With: qmig demo' -u "$user:$password" \
    "$url/api/2.0/fo/schedule/scan/$1?action=list" | grep -o '<ACTIVE>[0-9]</ACTIVE>' | sort | uniq -c
}
echo "VM schedules in the target, by ACTIVE:"; schedules ""
echo "PC schedules in the target, by ACTIVE:"; schedules "compliance/"

step "The cutover (run --cutover): switching on the schedules active in the source, evaluating the policies"
execute --cutover
echo "VM schedules in the target, by ACTIVE:"; schedules ""
echo "PC schedules in the target, by ACTIVE:"; schedules "compliance/"

step "What the target holds now"
curl -sS --fail "$url/__sim/counters" | sed -n '/"objects"/,/}/p'
curl -sS --fail -X POST "$url/__sim/export?dir=$demo/target-after" > /dev/null
echo "the target's export: $demo/target-after/"

step "Reconciling the target's export with the source's (100% except documented losses)"
"$bin/qmig-transform" reconcile "$root/samples/export" "$demo/target-after" --bundle "$demo/bundle" \
  --inputs "$root/samples/inputs" --out "$demo/reconcile.md" --json "$demo/reconcile.json"
sed -n '/source objects:/p' "$demo/reconcile.md"

step "Stopping the simulator"
curl -sS --fail -X POST "$url/__sim/shutdown" > /dev/null
wait "$sim_pid"
trap - EXIT
echo "demo files: $demo (bundle/, journal.jsonl, target-after/, reconcile.md)"
