//! `make bench` (pacing): from a bundle and the report of the simulator it ran against, prints
//! issue 15's first two figures: the simulated time of the run against its lower bound, and the
//! calls it made against those Qualys's sample scripts would make for the same objects. Exits 1
//! when a target is missed, after printing every figure.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Parser;
use qmig_schemas::{Manifest, dependencies};

#[derive(Debug, Parser)]
#[command(about = "Issue 15's pacing and call-count figures of one rate-limited run")]
struct Args {
    /// The bundle that was run.
    bundle: PathBuf,
    /// The simulator's report (`qualys-sim` prints it as JSON when it stops).
    counters: PathBuf,
    /// The simulator's rate limit per endpoint, CALLS/SECONDS.
    #[arg(long, value_parser = parse_rate)]
    rate_limit: (u64, u64),
    /// Simulated seconds one request takes without limits (executor and simulator), for the
    /// time the longest dependency chain needs at least.
    #[arg(long)]
    call_secs: f64,
    /// Highest simulated time accepted, as a multiple of the lower bound.
    #[arg(long)]
    max_ratio: f64,
}

/// What the simulator reports (see `qualys_sim::Counters`), the fields used here.
#[derive(Debug, serde::Deserialize)]
struct Counters {
    /// Calls per `path?action=...`, reads and refused calls included.
    calls: BTreeMap<String, u64>,
    blocked: BTreeMap<String, u64>,
    simulated_ms: u64,
}

/// Each object kind Qualys's sample scripts migrate with one call, and the endpoint of that call.
struct SampleCall {
    path: &'static str,
    objects: &'static str,
}

const NETWORKS: SampleCall = SampleCall { path: "/api/2.0/fo/network/", objects: "networks" };
const IP_LISTS: SampleCall = SampleCall { path: "/api/2.0/fo/asset/ip/", objects: "IP lists" };
const DOMAINS: SampleCall = SampleCall { path: "/msp/asset_domain.php", objects: "domains" };
const ASSET_GROUPS: SampleCall = SampleCall { path: "/api/2.0/fo/asset/group/", objects: "asset groups" };
const USERS: SampleCall = SampleCall { path: "/msp/user.php", objects: "users" };
const TAG_TREES: SampleCall = SampleCall { path: "/qps/rest/2.0/create/am/tag", objects: "root tag hierarchies" };
const TAG_SEARCH: &str = "/qps/rest/2.0/search/am/tag";

/// Why a bundle has more requests on an endpoint than the sample scripts make, where qmig knows.
fn why_more(path: &str) -> &'static str {
    match path {
        p if p == IP_LISTS.path => {
            "Add IPs calls carry at most --ips-per-request entries (1000 by default): Qualys documents \
             no limit per call, so the split is qmig's choice, not the API's"
        }
        p if p == TAG_TREES.path => "subtrees larger than --tags-per-request are cut into several creates",
        TAG_SEARCH => {
            "searches reading back the IDs of the tags nested in each create, so that a probe or a \
             resumed run fills the same captures; no API limit forces them"
        }
        _ => "more requests than objects",
    }
}

fn parse_rate(text: &str) -> Result<(u64, u64), String> {
    let parsed = text.split_once('/').and_then(|(c, s)| Some((c.parse().ok()?, s.parse().ok()?)));
    parsed.filter(|&(calls, secs)| calls > 0 && secs > 0).ok_or_else(|| format!("{text}: expected CALLS/SECONDS"))
}

fn hours(secs: f64) -> String {
    format!("{:.2} h", secs / 3600.0)
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bench-pacing: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Prints both figures; true when both targets are met.
fn run(args: &Args) -> anyhow::Result<bool> {
    let manifest_path = args.bundle.join("manifest.json");
    let bytes = std::fs::read(&manifest_path).with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let manifest: Manifest =
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not a manifest", manifest_path.display()))?;
    let text =
        std::fs::read_to_string(&args.counters).with_context(|| format!("cannot read {}", args.counters.display()))?;
    let counters: Counters = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a simulator report", args.counters.display()))?;

    // Limits apply per path, whatever the action.
    let mut made: BTreeMap<&str, u64> = BTreeMap::new();
    for (call, count) in &counters.calls {
        *made.entry(call.split_once('?').map_or(call.as_str(), |(path, _)| path)).or_default() += count;
    }
    let mut requested: BTreeMap<&str, u64> = BTreeMap::new();
    for request in &manifest.requests {
        *requested.entry(request.path.as_str()).or_default() += 1;
    }
    for (path, count) in &requested {
        if made.get(path).copied().unwrap_or(0) < *count {
            bail!("the run made fewer calls to {path} than the bundle has requests: it did not finish");
        }
    }

    let pacing = pacing(args, &manifest, &counters, &made)?;
    println!();
    let economy = economy(&manifest, &made, &requested);
    Ok(pacing && economy)
}

/// Figure 1: simulated time against the lower bound.
fn pacing(args: &Args, manifest: &Manifest, counters: &Counters, made: &BTreeMap<&str, u64>) -> anyhow::Result<bool> {
    let (limit, window) = args.rate_limit;
    let (busiest, busiest_calls) =
        made.iter().max_by_key(|(_, calls)| **calls).map(|(p, c)| (*p, *c)).context("the run made no call")?;
    let rate_bound = busiest_calls as f64 * window as f64 / limit as f64;
    // The stricter reading: a window's worth of calls go at once, so only the windows beyond the
    // first must pass (what `preflight` estimates). Printed beside, the target is on the above.
    let window_bound = ((busiest_calls.saturating_sub(1) / limit) * window) as f64;
    let chain = longest_chain(manifest)?;
    let chain_bound = chain as f64 * args.call_secs;
    let bound = rate_bound.max(chain_bound);
    let simulated = counters.simulated_ms as f64 / 1000.0;
    let ratio = simulated / bound;
    let blocked: u64 = counters.blocked.values().sum();

    println!("Simulated time at {limit} calls per {window} s per endpoint (issue 15, figure 1)");
    println!("| endpoint | calls | hours at the rate |");
    println!("|---|---|---|");
    for (path, calls) in made {
        println!("| {path} | {calls} | {} |", hours(*calls as f64 * window as f64 / limit as f64));
    }
    println!(
        "busiest endpoint: {busiest}, {busiest_calls} calls ÷ {limit} per {window} s = {} \
         (the windows they fill beyond the first: {})",
        hours(rate_bound),
        hours(window_bound)
    );
    println!(
        "longest dependency chain: {chain} requests × {:.2} simulated s per request = {}",
        args.call_secs,
        hours(chain_bound)
    );
    println!("calls the target blocked (409 rate or concurrency): {blocked}");
    println!(
        "simulated time {}, lower bound {}: ratio {ratio:.2} (target ≤ {:.2}; {:.2} to the windows beyond the first)",
        hours(simulated),
        hours(bound),
        args.max_ratio,
        simulated / window_bound.max(chain_bound)
    );
    let met = ratio <= args.max_ratio;
    if !met {
        println!("FAIL: the run took {ratio:.2}× its lower bound (target {:.2}×)", args.max_ratio);
    }
    Ok(met)
}

/// The most requests one after the other that dependencies impose. The dependencies of a
/// verified manifest are earlier requests, so one pass in bundle order finds it.
fn longest_chain(manifest: &Manifest) -> anyhow::Result<usize> {
    let mut depth: Vec<usize> = Vec::with_capacity(manifest.requests.len());
    for (index, before) in dependencies(&manifest.requests).iter().enumerate() {
        let mut longest = 0;
        for &d in before {
            longest = longest.max(
                *depth
                    .get(d)
                    .with_context(|| format!("request {} depends on a later request: verify the bundle", index + 1))?,
            );
        }
        depth.push(longest + 1);
    }
    Ok(depth.into_iter().max().unwrap_or(0))
}

/// Figure 2: calls made against the calls of Qualys's sample scripts, endpoint by endpoint.
fn economy(manifest: &Manifest, made: &BTreeMap<&str, u64>, requested: &BTreeMap<&str, u64>) -> bool {
    let migrated = |task: &str| {
        manifest.tasks.iter().find(|t| t.task == task).map_or(0, |t| t.source_objects.saturating_sub(t.skipped))
    };
    let ip_lists = manifest.sources.iter().filter(|s| s.kind == "IP list").count() as u64;
    // A hierarchy's first create waits for nothing; the creates of a cut subtree wait for the
    // parent they are created under.
    let deps = dependencies(&manifest.requests);
    let tag_trees =
        manifest.requests.iter().zip(&deps).filter(|(r, d)| r.path == TAG_TREES.path && d.is_empty()).count() as u64;
    let sample: BTreeMap<&str, (u64, &str)> = [
        (NETWORKS, migrated("networks")),
        (IP_LISTS, ip_lists),
        (DOMAINS, migrated("domains")),
        (ASSET_GROUPS, migrated("asset groups")),
        (USERS, migrated("users")),
        (TAG_TREES, tag_trees),
    ]
    .into_iter()
    .map(|(call, count)| (call.path, (count, call.objects)))
    .collect();

    println!("Calls against Qualys's sample scripts (issue 15, figure 2)");
    println!("| endpoint | sample scripts | qmig: bundle requests | qmig: other calls | why more |");
    println!("|---|---|---|---|---|");
    let mut paths: Vec<&str> = made.keys().chain(sample.keys()).copied().collect();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        let (scripts, objects) = sample.get(path).copied().unwrap_or((0, "none"));
        let bundle = requested.get(path).copied().unwrap_or(0);
        let other = made.get(path).copied().unwrap_or(0).saturating_sub(bundle);
        let mut why = Vec::new();
        if bundle > scripts {
            why.push(why_more(path));
        }
        if other > 0 {
            why.push(
                "reads by the executor: the preflight's checks (one read per distinct probe: \
                 a probe by title reads one object) and probes after unknown outcomes",
            );
        }
        println!("| {path} | {scripts} ({objects}) | {bundle} | {other} | {} |", why.join("; "));
    }
    let total_made: u64 = made.values().sum();
    let total_sample: u64 = sample.values().map(|(count, _)| count).sum();
    println!("total calls: qmig {total_made}, sample scripts {total_sample} (target: qmig ≤ sample scripts)");
    let met = total_made <= total_sample;
    if !met {
        println!(
            "FAIL: qmig made {} calls more than the sample scripts would ({:.0}% more)",
            total_made - total_sample,
            (total_made - total_sample) as f64 * 100.0 / total_sample.max(1) as f64
        );
    }
    met
}
