#!/usr/bin/env bash
# make demo: the whole pipeline on the sample export, against the simulated Qualys API.
#
#   1. start a second qualys-sim as the source subscription, seeded with samples/export, and
#      capture it with the script `qmig-transform capture-script` writes (curl only, small pages);
#   2. start qualys-sim on loopback, seeded as the new subscription after the manual steps
#      (samples/target-export: its users and business units, its redeployed appliances);
#      qmig-transform the captured export into a bundle;
#   3. check the bundle as a reviewer would (sha256sum -c) and with qmig-execute verify;
#   4. qmig-execute preflight: read-only checks of the target, go or no-go;
#   5. qmig-execute run it against the simulator, with the approved digest: it stops at the
#      cutover gate, every scan schedule created inactive;
#   6. run the cutover (run --cutover), which switches on the schedules active in the source;
#   7. print the ID map (status --ids) and what the simulated target holds;
#   8. capture the target with the same script (--target) and reconcile it with the source's
#      export: 100%, every difference documented by the review (reconcile.md); stop the simulator.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
demo="${1:-$root/target/demo}"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
user=demo
password='demo-password'

step() { printf '\n== %s\n' "$*"; }

rm -rf "$demo"
mkdir -p "$demo"
demo="$(cd "$demo" && pwd)"
umask 077
printf '%s\n' "$password" > "$demo/target-password"
# The sample credentials file's passphrase (samples/README.md); an operator types it at a prompt.
printf '%s\n' northwind-demo-passphrase > "$demo/credentials-passphrase"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
# shellcheck source-path=SCRIPTDIR/.. source=tests/simulator.sh
. "$root/tests/simulator.sh"

step "Starting the simulated source subscription (qualys-sim seeded with samples/export)"
start_simulator "$demo/source-simulator.log" --seed "$root/samples/export"
source_pid=$sim_pid
source_url=$sim_url
echo "source: $source_url"

step "Capturing the source with the capture script (qmig-transform capture-script)"
"$bin/qmig-transform" capture-script --out "$demo/capture.sh"
# The credentials go into a curl config file only its owner can read, never on a command line.
printf 'user = "%s:%s"\n' "$user" "$password" > "$demo/curl.config"
# Small pages, so that the demo follows the paging of the lists and of the tag search.
sh "$demo/capture.sh" --config "$demo/curl.config" --page-size 3 "$source_url" "$demo/export"
stop_simulator "$source_url" "$source_pid"

step "Starting the simulated target (qualys-sim)"
# Its API user is listed as a Manager, as the subscription and option profile imports need.
start_simulator "$demo/simulator.log" --seed "$root/samples/target-export" --api-user-role Manager
url=$sim_url
echo "target: $url"

step "Transforming the captured export into a bundle"
"$bin/qmig-transform" bundle "$demo/export" --inputs "$root/samples/inputs" \
  --target-export "$root/samples/target-export" --credentials-passphrase-file "$demo/credentials-passphrase" \
  --target "$url" --out "$demo/bundle" | tee "$demo/transform.log"
digest="$(tail -n 1 "$demo/transform.log" | sed 's/^digest: //')"

step "Reviewing: sha256sum -c SHA256SUMS, then qmig-execute verify"
(cd "$demo/bundle" && sha256sum --check --strict --quiet SHA256SUMS && echo "SHA256SUMS: every file matches")
"$bin/qmig-execute" verify "$demo/bundle"

step "Preflight: read-only checks of the target before the first write"
"$bin/qmig-execute" preflight "$demo/bundle" --target "$url" \
  --username "$user" --password-file "$demo/target-password"

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

step "The ID map: source ID -> target ID or new login (status --ids)"
"$bin/qmig-execute" status "$demo/bundle" --journal "$demo/journal.jsonl" --ids --format csv \
  | tee "$demo/id-map.csv"

step "What the target holds now"
curl -sS --fail "$url/__sim/counters" | sed -n '/"objects"/,/}/p'

step "Capturing the target with the same script (--target)"
sh "$demo/capture.sh" --target --config "$demo/curl.config" "$url" "$demo/target-after"

step "Reconciling the target's export with the source's (100% except documented losses)"
"$bin/qmig-transform" reconcile "$demo/export" "$demo/target-after" --bundle "$demo/bundle" \
  --inputs "$root/samples/inputs" --out "$demo/reconcile.md" --json "$demo/reconcile.json"
sed -n '/source objects:/p' "$demo/reconcile.md"

step "Stopping the simulator"
stop_simulator "$url" "$sim_pid"
trap - EXIT
echo "demo files: $demo (capture.sh, export/, bundle/, journal.jsonl, id-map.csv, target-after/, reconcile.md)"
