//! A migration rehearsed end to end, the way DESIGN.md describes the round trip:
//! source export → qmig-transform → qmig-execute against qualys-sim → export the simulator →
//! reconcile the target's export with the source, object by object.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use clap::Parser as _;
use qmig_schemas::{Effect, Selector};
use qmig_transform::cli::BundleArgs;
use qmig_transform::export::{Export, Kind, Record};
use qmig_transform::ranges::{IpSet, parse_entry};
use qmig_transform::xml::Element;
use tempfile::TempDir;

const USER: &str = "qmig-target";
const PASSWORD: &str = "rehearsal password";
/// The sample credentials file's passphrase (samples/README.md).
const SAMPLE_PASSPHRASE: &str = "northwind-demo-passphrase";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn samples(dir: &str) -> PathBuf {
    repo().join("samples").join(dir)
}

/// A simulated target and a working directory for one rehearsal.
struct Rehearsal {
    target: qualys_sim::Running,
    dir: TempDir,
}

impl Rehearsal {
    fn start(seed: Option<PathBuf>) -> Rehearsal {
        let config = qualys_sim::Config { seed, user: USER.into(), password: PASSWORD.into(), ..Default::default() };
        let target = qualys_sim::start(config).expect("the simulator starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let private = |name: &str, content: String| {
            let path = dir.path().join(name);
            fs::write(&path, content).expect("write");
            fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
        };
        private("password", format!("{PASSWORD}\n"));
        // The sample credentials file's passphrase (samples/README.md), for both programs.
        private("passphrase", format!("{SAMPLE_PASSPHRASE}\n"));
        Rehearsal { target, dir }
    }

    /// Writes the bundle of `args` (its `out` is set here) and returns its directory and digest.
    fn transform(&self, name: &str, mut args: BundleArgs) -> (PathBuf, String, qmig_schemas::Manifest) {
        args.out = self.dir.path().join(name);
        args.credentials_passphrase_file = Some(self.dir.path().join("passphrase"));
        let contents = qmig_transform::build(&args).expect("the export transforms");
        let digest = qmig_schemas::write_bundle(&args.out, &contents, false).expect("the bundle is written");
        (args.out, digest, contents.manifest)
    }

    /// `run`, which stops at the cutover gate.
    fn execute(&self, bundle: &Path, digest: &str) -> Result<(), qmig_execute::Error> {
        self.execute_with(bundle, digest, &[])
    }

    fn execute_with(&self, bundle: &Path, digest: &str, extra: &[&str]) -> Result<(), qmig_execute::Error> {
        let journal = self.dir.path().join(format!("{digest}.jsonl"));
        let (url, password) = (self.target.url(), self.dir.path().join("password"));
        let passphrase = self.dir.path().join("passphrase");
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "qmig-execute".as_ref(),
            "run".as_ref(),
            bundle.as_os_str(),
            "--target".as_ref(),
            url.as_ref(),
            "--approve".as_ref(),
            digest.as_ref(),
            "--username".as_ref(),
            USER.as_ref(),
            "--password-file".as_ref(),
            password.as_os_str(),
            "--passphrase-file".as_ref(),
            passphrase.as_os_str(),
            "--journal".as_ref(),
            journal.as_os_str(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let cli = qmig_execute::cli::Cli::try_parse_from(args).expect("valid command line");
        qmig_execute::execute(cli)
    }

    /// The target's state as an export directory, read back by the transformer's reader.
    fn target_export(&self, name: &str) -> (PathBuf, Export) {
        let dir = self.dir.path().join(name);
        self.target.export(&dir).expect("the simulator exports");
        let export = Export::load(&dir, false).expect("the target's export reads");
        (dir, export)
    }
}

/// Every field of each scan schedule, by module and title, as `path[@attribute]` → value;
/// repeated fields (asset groups, recipients) sorted and joined. The network is named, IDs and
/// the owner (set by whoever creates the schedule) are left out.
type ScheduleView = BTreeMap<(String, String), BTreeMap<String, String>>;

fn schedule_view(export: &Export, networks: &BTreeMap<&str, &str>) -> ScheduleView {
    fn walk(element: &Element, path: &str, fields: &mut BTreeMap<String, Vec<String>>) {
        for (name, value) in &element.attrs {
            fields.entry(format!("{path}@{name}")).or_default().push(value.clone());
        }
        if element.children.is_empty() {
            fields.entry(path.to_owned()).or_default().push(element.value().to_owned());
        }
        for child in &element.children {
            walk(child, &format!("{path}/{}", child.name), fields);
        }
    }
    let mut view = ScheduleView::new();
    for file in export.files(Kind::ScheduleList) {
        let module = match qmig_transform::tasks::schedules::module_of(file).expect("the list says its module") {
            qmig_transform::tasks::ips::Module::Vm => "VM",
            qmig_transform::tasks::ips::Module::Pc => "PC",
        };
        for scan in file.records() {
            let mut fields = BTreeMap::new();
            walk(scan.element, "", &mut fields);
            let mut flat: BTreeMap<String, String> = fields
                .into_iter()
                .map(|(path, mut values)| {
                    values.sort();
                    (path, values.join(","))
                })
                .collect();
            for owned in ["/ID", "/USER_LOGIN", "/NOTIFICATIONS/DISTRIBUTION_GROUPS/DISTRIBUTION_GROUP/ID"] {
                flat.remove(owned);
            }
            match flat.remove("/NETWORK_ID").as_deref() {
                None | Some("0") => {}
                Some(id) => {
                    flat.insert("/NETWORK".into(), networks[id].to_owned());
                }
            }
            view.insert((module.to_owned(), text(&scan, "TITLE").to_owned()), flat);
        }
    }
    view
}

/// The sample's schedules as the target must hold them after the migration phase (every one
/// inactive) or after the cutover (as active as in the source).
fn expected_schedules(source: &ScheduleView, after_cutover: bool) -> ScheduleView {
    let mut expected = source.clone();
    for fields in expected.values_mut() {
        if !after_cutover {
            fields.insert("/ACTIVE".into(), "0".into());
        }
    }
    let past = expected.get_mut(&("VM".to_owned(), "PCI scope, last Friday".to_owned())).expect("sample schedule");
    // Its start was before the capture (2026-10-02): it starts that day, at its own 23:00 GB time.
    past.insert("/SCHEDULE/START_DATE_UTC".into(), "2026-10-02T23:00:00Z".into());
    // No row of distribution_groups.csv maps the auditors: the review lists them as lost.
    past.insert("/NOTIFICATIONS/DISTRIBUTION_GROUPS/DISTRIBUTION_GROUP/NAME".into(), "SecOps".into());
    expected
}

fn sample_args() -> BundleArgs {
    BundleArgs {
        inputs: Some(samples("inputs")),
        target_export: Some(samples("target-export")),
        ..BundleArgs::new(samples("export"), PathBuf::new())
    }
}

fn load(dir: &Path) -> Export {
    Export::load(dir, false).expect("reads")
}

fn text<'a>(record: &Record<'a>, path: &str) -> &'a str {
    record.text(path).unwrap_or_default()
}

/// ID → name of the records of a kind.
fn names<'a>(export: &'a Export, kind: Kind, id: &str, name: &str) -> BTreeMap<&'a str, &'a str> {
    export.records(kind).map(|r| (text(&r, id), text(&r, name))).collect()
}

fn ip_set<'a>(entries: impl Iterator<Item = &'a str>) -> IpSet {
    IpSet::from_entries(&entries.map(|e| parse_entry(e).expect("address")).collect::<Vec<_>>())
}

/// Addresses per (module, tracking method) of an export's IP lists.
fn ip_lists(export: &Export) -> BTreeMap<(String, String), IpSet> {
    let mut lists: BTreeMap<(String, String), IpSet> = BTreeMap::new();
    for file in export.files(Kind::IpList) {
        let stem = file.path.trim_end_matches(".xml");
        let mut parts = stem.rsplit('_');
        let (tracking, module) = (parts.next().expect("tracking"), parts.next().expect("module"));
        let set = ip_set(file.document.records.iter().map(|r| r.value()));
        let entry = lists.entry((module.to_owned(), tracking.to_owned())).or_default();
        *entry = entry.union(&set);
    }
    lists
}

/// What the add call sets, per asset group title, with networks and appliances by name.
type GroupView = BTreeMap<String, (String, BTreeSet<String>, Vec<qmig_transform::ranges::IpEntry>, Vec<String>)>;

fn group_view(export: &Export, networks: &BTreeMap<&str, &str>, appliances: &BTreeMap<&str, &str>) -> GroupView {
    export
        .records(Kind::AssetGroupList)
        .filter(|g| text(g, "TITLE") != "All")
        .map(|g| {
            let network = networks.get(text(&g, "NETWORK_ID")).copied().unwrap_or("default");
            let appliance_names: BTreeSet<String> = text(&g, "APPLIANCE_IDS")
                .split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(|id| appliances.get(id).copied().unwrap_or("?").to_owned())
                .collect();
            let ips = ip_set(g.element.at("IP_SET").into_iter().flat_map(|s| s.children.iter().map(|e| e.value())));
            // A field the source does not list holds Qualys's default in the target.
            let defaults =
                [("BUSINESS_IMPACT", "high"), ("CVSS_ENVIRO_CDP", "not defined"), ("CVSS_ENVIRO_TD", "not defined")];
            let fields: Vec<String> = [
                "COMMENTS",
                "DIVISION",
                "FUNCTION",
                "LOCATION",
                "BUSINESS_IMPACT",
                "CVSS_ENVIRO_CDP",
                "CVSS_ENVIRO_TD",
            ]
            .iter()
            .map(|f| match (text(&g, f), defaults.iter().find(|(name, _)| name == f)) {
                ("", Some((_, default))) => (*default).to_owned(),
                (value, _) => value.to_lowercase(),
            })
            .collect();
            (text(&g, "TITLE").to_owned(), (network.to_owned(), appliance_names, ips.entries(), fields))
        })
        .collect()
}

/// Every tag's ID with the path of names from its root.
fn tag_ids_to_paths<'a>(export: &'a Export) -> BTreeMap<&'a str, String> {
    let tags: BTreeMap<&'a str, (&'a str, &'a str)> = export
        .records(Kind::TagSearch)
        .map(|t: Record<'a>| (text(&t, "id"), (text(&t, "name"), text(&t, "parentTagId"))))
        .collect();
    let path = |mut id: &'a str| {
        let mut parts = Vec::new();
        while let Some((name, parent)) = tags.get(id) {
            parts.push(*name);
            id = parent;
        }
        parts.reverse();
        parts.join(" / ")
    };
    tags.keys().map(|id| (*id, path(id))).collect()
}

/// Every tag as the path of names from its root.
fn tag_paths(export: &Export) -> BTreeSet<String> {
    tag_ids_to_paths(export).into_values().collect()
}

/// Each authentication record the bundle created, by (type, title): every field the create call
/// takes, with its network by name, its vault by title and its IPs normalised.
fn auth_view(
    export: &Export,
    networks: &BTreeMap<&str, &str>,
    created: &BTreeSet<(String, String)>,
) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let vaults = names(export, Kind::VaultList, "ID", "TITLE");
    let output_only = ["ID", "TITLE", "CREATED", "LAST_MODIFIED", "IS_SYSTEM_CREATED"];
    let mut view = BTreeMap::new();
    for record in export.records(Kind::AuthRecordList) {
        let kind = record.file.document.head.name.trim_start_matches("AUTH_").trim_end_matches("_LIST_OUTPUT");
        let key = (kind.to_ascii_lowercase(), text(&record, "TITLE").to_owned());
        if !created.contains(&key) {
            continue;
        }
        let mut fields = BTreeMap::new();
        for field in &record.element.children {
            let value = match field.name.as_str() {
                name if output_only.contains(&name) => continue,
                "IP_SET" => format!("{:?}", ip_set(field.children.iter().map(|ip| ip.value())).entries()),
                "NETWORK_ID" => networks.get(field.value()).copied().unwrap_or("default").to_owned(),
                "VAULT_ID" => vaults.get(field.value()).copied().unwrap_or("unknown vault").to_owned(),
                _ => field.value().to_owned(),
            };
            fields.insert(field.name.clone(), value);
        }
        fields.entry("NETWORK_ID".to_owned()).or_insert_with(|| "default".to_owned());
        // A record created with its password lists the default login type; the capture may not.
        fields.entry("LOGIN_TYPE".to_owned()).or_insert_with(|| "basic".to_owned());
        view.insert(key, fields);
    }
    view
}

/// Every setting of each exported report template (`SECTION/key` → value) by title, the owner
/// left out (the API user owns what it creates) and every reference replaced by the name it has
/// in that subscription: asset groups and search lists by title, networks and tags by name,
/// users by email.
fn template_view(export: &Export, networks: &BTreeMap<&str, &str>) -> BTreeMap<String, BTreeMap<String, String>> {
    let groups = names(export, Kind::AssetGroupList, "ID", "TITLE");
    let tags = names(export, Kind::TagSearch, "id", "name");
    let mut lists = names(export, Kind::StaticSearchList, "ID", "TITLE");
    lists.extend(names(export, Kind::DynamicSearchList, "ID", "TITLE"));
    let emails = names(export, Kind::UserList, "USER_LOGIN", "CONTACT_INFO/EMAIL");
    let mut view = BTreeMap::new();
    for template in export.records(Kind::ReportTemplate) {
        let mut settings = BTreeMap::new();
        let mut title = String::new();
        for section in &template.element.children {
            for info in section.children_named("INFO") {
                let key = info.attr("key").unwrap_or_default();
                let map: Option<&BTreeMap<&str, &str>> = match key {
                    "asset_groups" => Some(&groups),
                    "network" => Some(networks),
                    "tag_set_include" | "tag_set_exclude" => Some(&tags),
                    "search_list_ids" | "exclude_search_list_ids" => Some(&lists),
                    "report_access_users" => Some(&emails),
                    _ => None,
                };
                let value = match map {
                    Some(map) => {
                        let names: BTreeSet<&str> =
                            info.value().split(',').map(str::trim).map(|v| map.get(v).copied().unwrap_or(v)).collect();
                        names.into_iter().collect::<Vec<_>>().join(",")
                    }
                    None => info.value().to_owned(),
                };
                match key {
                    "owner" => continue,
                    "title" => title = value.clone(),
                    _ => {}
                }
                settings.insert(format!("{}/{key}", section.name), value);
            }
        }
        view.insert(title, settings);
    }
    view
}

/// Search lists by title: GLOBAL, COMMENTS and what selects their QIDs.
type Lists<T> = BTreeMap<String, (String, String, BTreeSet<T>)>;

/// Static lists by title: GLOBAL, COMMENTS and the QID set.
fn static_lists(export: &Export) -> Lists<String> {
    export
        .records(Kind::StaticSearchList)
        .map(|l| {
            let qids = l.element.all("QIDS/QID").map(|q| q.value().to_owned()).collect();
            (text(&l, "TITLE").to_owned(), (text(&l, "GLOBAL").to_owned(), text(&l, "COMMENTS").to_owned(), qids))
        })
        .collect()
}

/// Dynamic lists by title: GLOBAL, COMMENTS and the criteria with their prose.
fn dynamic_lists(export: &Export) -> Lists<(String, String)> {
    export
        .records(Kind::DynamicSearchList)
        .map(|l| {
            let criteria = l.element.at("CRITERIA").into_iter().flat_map(|c| &c.children);
            let criteria = criteria.map(|c| (c.name.clone(), c.value().to_owned())).collect();
            (text(&l, "TITLE").to_owned(), (text(&l, "GLOBAL").to_owned(), text(&l, "COMMENTS").to_owned(), criteria))
        })
        .collect()
}

/// Option profiles by title, as the import should leave them: without what the target assigns
/// (ID, owner, update date), the default flag and brute-forcing lists (compared apart), and
/// with each search list named through its export's list IDs, so IDs compare through the maps.
fn option_profiles(export: &Export) -> BTreeMap<String, Element> {
    let mut list_titles = names(export, Kind::StaticSearchList, "ID", "TITLE");
    list_titles.extend(names(export, Kind::DynamicSearchList, "ID", "TITLE"));
    export
        .records(Kind::OptionProfiles)
        .map(|p| {
            let mut profile = p.element.clone();
            normalise_profile(&mut profile, &list_titles);
            (text(&p, "BASIC_INFO/GROUP_NAME").to_owned(), profile)
        })
        .collect()
}

fn normalise_profile(element: &mut Element, list_titles: &BTreeMap<&str, &str>) {
    match element.name.as_str() {
        "BASIC_INFO" => {
            element.children.retain(|c| !["ID", "USER_ID", "UPDATE_DATE", "IS_DEFAULT"].contains(&c.name.as_str()))
        }
        "PASSWORD_BRUTE_FORCING" => element.children.retain(|c| !c.name.starts_with("CUSTOM")),
        "CUSTOM" => {
            for id in element.children.iter_mut().filter(|c| c.name == "ID") {
                id.text = list_titles
                    .get(id.value())
                    .map_or_else(|| format!("unknown list {}", id.value()), |t| (*t).to_owned());
            }
        }
        _ => {}
    }
    for child in &mut element.children {
        normalise_profile(child, list_titles);
    }
}

/// Every file below `dir`, at any depth.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("read a directory the rehearsal wrote") {
            let path = entry.expect("entry").path();
            if path.is_dir() { pending.push(path) } else { files.push(path) }
        }
    }
    files
}

/// A compliance policy as its list and export give it: scope by asset group title and tag path
/// (each side's IDs through its own maps), tag selectors, and the control IDs of its export.
#[derive(Debug, PartialEq, Eq)]
struct PolicyView {
    asset_groups: BTreeSet<String>,
    include: (BTreeSet<String>, String),
    exclude: (BTreeSet<String>, String),
    controls: BTreeSet<String>,
}

fn policies(export: &Export) -> BTreeMap<String, PolicyView> {
    let groups = names(export, Kind::AssetGroupList, "ID", "TITLE");
    let tags = tag_ids_to_paths(export);
    let controls: BTreeMap<&str, BTreeSet<String>> = export
        .records(Kind::PolicyExport)
        .map(|p| {
            let ids = p.element.descendants().into_iter().filter(|e| e.name == "CONTROL");
            (text(&p, "TITLE"), ids.filter_map(|c| c.text_at("ID")).map(str::to_owned).collect())
        })
        .collect();
    export
        .records(Kind::PolicyList)
        .map(|p| {
            let title = text(&p, "TITLE");
            let asset_groups = p
                .text("ASSET_GROUP_IDS")
                .into_iter()
                .flat_map(|ids| ids.split(','))
                .flat_map(|range| {
                    let (low, high) = range.split_once('-').unwrap_or((range, range));
                    let (low, high): (u64, u64) = (low.parse().expect("ID"), high.parse().expect("ID"));
                    low..=high
                })
                .map(|id| groups[id.to_string().as_str()].to_owned())
                .collect();
            let set = |name: &str, selector: &str| {
                let ids = p.element.all(&format!("{name}/TAG_ID")).map(|t| tags[t.value()].clone()).collect();
                (ids, text(&p, selector).to_owned())
            };
            let view = PolicyView {
                asset_groups,
                include: set("TAG_SET_INCLUDE", "TAG_INCLUDE_SELECTOR"),
                exclude: set("TAG_SET_EXCLUDE", "TAG_EXCLUDE_SELECTOR"),
                controls: controls.get(title).cloned().unwrap_or_default(),
            };
            (title.to_owned(), view)
        })
        .collect()
}

#[test]
fn the_sample_subscription_migrates_and_reconciles_object_by_object() {
    let rehearsal = Rehearsal::start(Some(samples("target-export")));
    let (bundle, digest, manifest) = rehearsal.transform("bundle", sample_args());
    let verified = qmig_execute::verify::verify(&bundle).expect("the executor verifies the bundle");
    assert_eq!(verified.digest, digest, "the executor and the transformer disagree on the digest");
    rehearsal.execute(&bundle, &digest).expect("the bundle runs to the end");
    let (_, target) = rehearsal.target_export("after");
    let source = load(&samples("export"));

    // Networks: every user network, once, by name.
    let source_networks = names(&source, Kind::NetworkList, "ID", "NAME");
    let target_networks = names(&target, Kind::NetworkList, "ID", "NAME");
    let mut target_network_names: Vec<&str> =
        target_networks.iter().filter(|(id, _)| **id != "0").map(|(_, n)| *n).collect();
    target_network_names.sort_unstable();
    let mut expected: Vec<&str> = source_networks.iter().filter(|(id, _)| **id != "0").map(|(_, n)| *n).collect();
    expected.sort_unstable();
    assert_eq!(target_network_names, expected);

    // IPs: the same addresses per module and tracking method.
    assert_eq!(ip_lists(&target), ip_lists(&source));

    // Domains: the same netblocks.
    let netblocks = |export: &Export| -> BTreeMap<String, IpSet> {
        export
            .records(Kind::DomainList)
            .map(|d| {
                let ranges = d.element.at("NETBLOCK").into_iter().flat_map(|n| n.children_named("RANGE"));
                let entries: Vec<String> = ranges
                    .map(|r| format!("{}-{}", r.text_at("START").unwrap_or(""), r.text_at("END").unwrap_or("")))
                    .collect();
                (text(&d, "DOMAIN_NAME").to_owned(), ip_set(entries.iter().map(String::as_str)))
            })
            .collect()
    };
    assert_eq!(netblocks(&target), netblocks(&source));

    // Asset groups: every field the add call takes, with networks and appliances by name.
    let source_appliances = names(&source, Kind::ApplianceList, "ID", "NAME");
    let target_appliances = names(&target, Kind::ApplianceList, "ID", "NAME");
    let mut source_networks_by_id = source_networks.clone();
    source_networks_by_id.insert("0", "default");
    let mut target_networks_by_id = target_networks.clone();
    target_networks_by_id.insert("0", "default");
    assert_eq!(
        group_view(&target, &target_networks_by_id, &target_appliances),
        group_view(&source, &source_networks_by_id, &source_appliances)
    );

    // Users: every user the bundle adds exists once more, with its contact and role.
    let person = |u: &Record<'_>| {
        (
            text(u, "CONTACT_INFO/EMAIL").to_owned(),
            text(u, "CONTACT_INFO/FIRSTNAME").to_owned(),
            text(u, "CONTACT_INFO/LASTNAME").to_owned(),
            text(u, "USER_ROLE").to_owned(),
        )
    };
    let target_people: Vec<_> = target.records(Kind::UserList).map(|u| person(&u)).collect();
    let added: Vec<&qmig_schemas::Request> = manifest.requests.iter().filter(|r| r.task == "users").collect();
    assert!(!added.is_empty());
    for request in added {
        let login = request.source.as_ref().and_then(|s| s.title.clone()).expect("source login");
        let source_user = source.records(Kind::UserList).find(|u| text(u, "USER_LOGIN") == login).expect("source user");
        let wanted = person(&source_user);
        assert_eq!(target_people.iter().filter(|p| **p == wanted).count(), 1, "{wanted:?}");
    }

    // Tags: every tag the bundle creates exists under a parent of the expected name.
    // Tags: the source hierarchy under its target parents, system trees left to the platform.
    let target_tags = tag_paths(&target);
    const PLATFORM_ROOTS: [&str; 4] =
        ["Business Units", "Asset Groups", "Malware Domain Assets", "Internet Facing Assets"];
    let mut checked = 0;
    for path in tag_paths(&source) {
        let root = path.split(" / ").next().unwrap_or_default();
        if PLATFORM_ROOTS.contains(&root) || path == "Cloud Agent" || path == "Asset Search Tags" {
            continue;
        }
        let expected = match path.strip_prefix("Asset Search Tags / ") {
            Some(rest) => format!("Imported Asset Search Tags / {rest}"),
            None => path.clone(),
        };
        assert!(target_tags.contains(&expected), "{expected:?} is missing from the target: {target_tags:#?}");
        checked += 1;
    }
    assert!(checked > 10, "only {checked} tags compared");
    let created_roots =
        manifest.requests.iter().filter(|r| r.task == "asset tags" && r.effect == Effect::Create).count();
    assert!(created_roots > 0);

    // Virtual hosts: the same IP, port and FQDNs.
    let vhosts = |export: &Export| -> BTreeSet<(String, String, BTreeSet<String>)> {
        export
            .records(Kind::VirtualHostList)
            .map(|v| {
                let fqdns = v
                    .element
                    .children_named("FQDN")
                    .flat_map(|f| f.value().split(','))
                    .map(|f| f.trim().to_owned())
                    .collect();
                (text(&v, "IP").to_owned(), text(&v, "PORT").to_owned(), fqdns)
            })
            .collect()
    };
    assert_eq!(vhosts(&target), vhosts(&source));

    // Authentication records: every record the bundle creates, field by field, IDs through the maps.
    let auth_created: BTreeSet<(String, String)> = manifest
        .requests
        .iter()
        .filter(|r| r.task == "authentication records")
        .filter_map(|r| {
            let (kind, title) = r.id.strip_prefix("auth-record/")?.split_once('/')?;
            Some((kind.to_owned(), title.to_owned()))
        })
        .collect();
    assert!(auth_created.len() >= 2, "{auth_created:?}");
    let target_auth = auth_view(&target, &target_networks_by_id, &auth_created);
    assert_eq!(target_auth, auth_view(&source, &source_networks_by_id, &auth_created));
    assert_eq!(target_auth.len(), auth_created.len());

    // Search lists: title, GLOBAL, COMMENTS, and the QIDs or the criteria.
    assert_eq!(static_lists(&target), static_lists(&source));
    assert_eq!(dynamic_lists(&target), dynamic_lists(&source));
    assert_eq!(static_lists(&source).len() + dynamic_lists(&source).len(), 4);

    // Option profiles: the same settings per title, search lists included (through the list
    // IDs of each side), the default flag cleared, custom brute-forcing lists emptied.
    let (source_profiles, target_profiles) = (option_profiles(&source), option_profiles(&target));
    assert_eq!(target_profiles.keys().collect::<Vec<_>>(), source_profiles.keys().collect::<Vec<_>>());
    for (title, profile) in &source_profiles {
        let migrated = &target_profiles[title];
        assert!(migrated.same_content(profile), "{title}:\n{}\nbecame\n{}", profile.to_xml(), migrated.to_xml());
    }
    let default_flags: Vec<&str> =
        target.records(Kind::OptionProfiles).map(|p| text(&p, "BASIC_INFO/IS_DEFAULT")).collect();
    assert_eq!(default_flags, ["0", "0", "0"], "the source's default is imported as an ordinary profile");
    let searched = source_profiles.values().flat_map(|p| p.descendants()).filter(|e| e.name == "CUSTOM").count();
    assert!(searched >= 3, "the sample's profiles use search lists");

    // Report templates: stock ones mapped once, every created one with every setting, its
    // references compared through the names they have on each side.
    let stock_and_existing = ["Technical Report", "Executive Report", "High Severity Report", "Qualys Patch Report"];
    let listed = |export: &Export| -> Vec<(String, String)> {
        export
            .records(Kind::ReportTemplateList)
            .map(|t| (text(&t, "TEMPLATE_TYPE").to_owned(), text(&t, "TITLE").to_owned()))
            .collect()
    };
    let target_listed = listed(&target);
    for title in stock_and_existing {
        assert_eq!(target_listed.iter().filter(|(_, t)| t == title).count(), 1, "{title} is not mapped once");
    }
    let created: Vec<&qmig_schemas::Request> =
        manifest.requests.iter().filter(|r| r.task == "report templates").collect();
    assert_eq!(created.len(), 5, "scan (2), PCI scan, patch and map");
    let source_templates = template_view(&source, &source_networks_by_id);
    let target_templates = template_view(&target, &target_networks_by_id);
    for request in created {
        let title = request.source.as_ref().and_then(|s| s.title.clone()).expect("source title");
        let wanted = source_templates.get(&title).expect("the source template");
        assert_eq!(target_templates.get(&title), Some(wanted), "{title}");
        assert!(wanted.keys().any(|k| k.ends_with("report_access_users")), "{title} names its users");
    }

    // Secrets: every record the bundle creates received exactly the operator's secrets, and no
    // file the rehearsal wrote (bundle, review, journal, the target's export) holds one.
    let credentials = fs::read(samples("inputs").join("credentials.csv.age")).expect("the sample credentials");
    let opened = qmig_schemas::credentials::open(&credentials, SAMPLE_PASSPHRASE, None, 20).expect("opens");
    let mut expected: qualys_sim::AuthSecrets = BTreeMap::new();
    for row in &opened.rows {
        let name = &row.name;
        for (kind, title) in &auth_created {
            let username = source
                .records(Kind::AuthRecordList)
                .find(|r| {
                    text(r, "TITLE") == title
                        && r.file.document.head.name == format!("AUTH_{}_LIST_OUTPUT", kind.to_ascii_uppercase())
                })
                .map(|r| text(&r, "USERNAME"));
            let applies = *kind == name.record_type
                && match &name.selector {
                    Selector::Title(t) => t == title,
                    Selector::Username(u) => username == Some(u.as_str()),
                };
            if applies {
                let digests = expected.entry(kind.clone()).or_default().entry(title.clone()).or_default();
                digests.insert(name.parameter.clone(), qmig_schemas::sha256_hex(row.value().as_bytes()));
            }
        }
    }
    assert_eq!(expected.values().map(BTreeMap::len).sum::<usize>(), 5, "every record with secrets: {expected:?}");
    let mut received = rehearsal.target.auth_secrets();
    received.retain(|_, by_title| {
        by_title.retain(|_, digests| !digests.is_empty());
        !by_title.is_empty()
    });
    assert_eq!(received, expected);
    let forms: Vec<Vec<u8>> = opened
        .rows
        .iter()
        .flat_map(|row| {
            let value = row.value();
            let escaped = value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
            let encoded: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
            let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, value);
            [value.to_owned(), escaped, encoded, b64].map(String::into_bytes)
        })
        .collect();
    let mut scanned = 0;
    for file in files_below(rehearsal.dir.path()) {
        let bytes = fs::read(&file).expect("read what the rehearsal wrote");
        for form in &forms {
            assert!(!bytes.windows(form.len()).any(|w| w == form.as_slice()), "{} holds a secret", file.display());
        }
        scanned += 1;
    }
    assert!(scanned > 10, "only {scanned} files scanned");

    // Scan schedules, VM and PC: every field, each created inactive; the cutover then switches
    // on exactly those the source had on.
    let source_schedules = schedule_view(&source, &source_networks);
    assert_eq!(source_schedules.len(), 6);
    assert_eq!(schedule_view(&target, &target_networks), expected_schedules(&source_schedules, false));

    // Compliance policies: the same titles, controls, and scope through each side's maps.
    let source_policies = policies(&source);
    assert_eq!(policies(&target), source_policies);
    assert_eq!(source_policies.len(), 2);
    assert!(source_policies.values().any(|p| !p.asset_groups.is_empty()), "one is scoped by asset groups");
    assert!(source_policies.values().any(|p| !p.exclude.0.is_empty()), "one excludes tags");

    // Running the same bundle again sends nothing and changes nothing: it stops at the gate.
    let before = rehearsal.target.counters();
    rehearsal.execute(&bundle, &digest).expect("a finished bundle runs again as a no-op");
    assert_eq!(rehearsal.target.counters().mutating_calls, before.mutating_calls);

    rehearsal.execute_with(&bundle, &digest, &["--cutover"]).expect("the cutover runs");
    let (_, switched) = rehearsal.target_export("switched");
    let switched_networks = names(&switched, Kind::NetworkList, "ID", "NAME");
    assert_eq!(schedule_view(&switched, &switched_networks), expected_schedules(&source_schedules, true));

    // What `qmig-transform reconcile` tells the operator: every object of the source is in the
    // target, or its absence or difference is documented by the review; nothing else.
    let inputs = qmig_transform::inputs::Inputs::load(Some(&samples("inputs"))).expect("the sample inputs");
    let report = qmig_transform::reconcile::reconcile(&source, &switched, Some(&inputs), Some(&manifest))
        .expect("the exports compare");
    let markdown = qmig_transform::reconcile::markdown(&report);
    assert!(report.totals.reconciled(), "{markdown}");
    assert_eq!(report.percent, 100, "{markdown}");
    assert!(report.totals.matched > 60 && report.totals.documented > 20, "{markdown}");
}

/// Every file of an export, its `DATETIME` lines left out: the simulated clock moves with
/// every change, also when a later change undoes it.
fn export_files(dir: &Path) -> BTreeMap<String, String> {
    files_below(dir)
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).expect("an exported file");
            let kept: Vec<&str> = text.lines().filter(|line| !line.contains("<DATETIME>")).collect();
            (path.strip_prefix(dir).expect("below").to_string_lossy().into_owned(), kept.join("\n"))
        })
        .collect()
}

#[test]
fn the_undo_bundle_removes_what_the_run_created_and_nothing_else() {
    let rehearsal = Rehearsal::start(Some(samples("target-export")));
    let (before, _) = rehearsal.target_export("before");
    let (bundle, digest, _) = rehearsal.transform("bundle", sample_args());
    rehearsal.execute(&bundle, &digest).expect("the migration runs");
    rehearsal.execute_with(&bundle, &digest, &["--cutover"]).expect("the cutover runs");

    let journal = rehearsal.dir.path().join(format!("{digest}.jsonl"));
    let undo = qmig_transform::undo::build(&bundle, &journal).expect("the undo bundle is planned");
    let undo_dir = rehearsal.dir.path().join("undo");
    let undo_digest = qmig_schemas::write_bundle(&undo_dir, &undo, false).expect("written");
    qmig_execute::verify::verify(&undo_dir).expect("the executor verifies the undo bundle");
    assert!(undo.manifest.requests.iter().all(|r| r.id.starts_with("delete/")));
    assert!(undo.manifest.manual_steps.iter().all(|s| s.id != "undo-by-hand"), "the run left nothing in doubt");
    rehearsal.execute(&undo_dir, &undo_digest).expect("the undo bundle runs");
    let (after, after_export) = rehearsal.target_export("after");

    // Everything the run created is gone and everything that was there is as it was, except
    // what the undo review lists: the networks (no API deletes one), and the changes to
    // objects the run did not create (an appliance's network, the subscription configuration).
    let (before_files, after_files) = (export_files(&before), export_files(&after));
    assert_eq!(before_files.keys().collect::<Vec<_>>(), after_files.keys().collect::<Vec<_>>());
    let changed: Vec<&str> = before_files
        .iter()
        .filter(|(name, text)| after_files[*name] != **text)
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(changed, ["appliances.xml", "networks.xml", "subscription_config.xml"]);
    let networks_by_hand = undo.manifest.manual_steps.iter().find(|s| s.id == "networks-by-hand").expect("the step");
    let mut left: Vec<String> = names(&after_export, Kind::NetworkList, "ID", "NAME")
        .into_values()
        .filter(|name| !names(&load(&before), Kind::NetworkList, "ID", "NAME").values().any(|n| n == name))
        .map(|name| format!("network/{name}"))
        .collect();
    left.sort();
    let mut listed = networks_by_hand.items.clone();
    listed.sort();
    assert_eq!(left, listed);
    let not_undone: BTreeSet<&str> = undo.manifest.skipped.iter().map(|s| s.object.as_str()).collect();
    assert!(not_undone.contains("appliance-network/nw-east-01") && not_undone.contains("subscription/configuration"));
}

/// A run that stopped after a tag was created with nested tags, before the search that reads
/// their IDs back: the tag cannot be deleted while it has children, so undo leaves the subtree
/// to a manual step instead of sending a delete the target refuses.
#[test]
fn undo_leaves_a_tag_subtree_whose_ids_were_not_read_back_to_a_manual_step() {
    let rehearsal = Rehearsal::start(Some(samples("target-export")));
    let (bundle, digest, manifest) = rehearsal.transform("bundle", sample_args());
    let search = manifest.requests.iter().find(|r| r.id.ends_with("/level-2")).expect("a tag with nested tags");
    let root = search.id.trim_start_matches("tag-children/").trim_end_matches("/level-2");
    let create = manifest.requests.iter().find(|r| r.id == format!("tag/{root}")).expect("its create");
    // Unlimited, the run sends in bundle order: it stops right after the create.
    let stop = create.seq.to_string();
    rehearsal.execute_with(&bundle, &digest, &["--stop-after", &stop]).expect("the run stops early");

    let journal = rehearsal.dir.path().join(format!("{digest}.jsonl"));
    let undo = qmig_transform::undo::build(&bundle, &journal).expect("the undo bundle is planned");
    let ids: Vec<&str> = undo.manifest.requests.iter().map(|r| r.id.as_str()).collect();
    assert!(!ids.iter().any(|id| id.starts_with(&format!("delete/tag/{root}"))), "{ids:#?}");
    let by_hand = undo.manifest.manual_steps.iter().find(|s| s.id == "undo-by-hand").expect("the manual step");
    let item = by_hand.items.iter().find(|i| i.starts_with(&format!("tag/{root} "))).expect("the tag is listed");
    assert!(item.contains("the run stopped before it read their IDs back"), "{item}");
    // What was created before it is deleted as usual.
    assert!(ids.iter().any(|id| id.starts_with("delete/asset-group/")), "{ids:#?}");
}

#[test]
fn transforming_again_against_the_migrated_target_creates_nothing() {
    let rehearsal = Rehearsal::start(Some(samples("target-export")));
    let (bundle, digest, _) = rehearsal.transform("bundle", sample_args());
    rehearsal.execute(&bundle, &digest).expect("the bundle runs to the end");
    let (after, _) = rehearsal.target_export("after");
    let again = BundleArgs { target_export: Some(after), ..sample_args() };
    let (_, _, manifest) = rehearsal.transform("again", again);
    let creates: Vec<&str> =
        manifest.requests.iter().filter(|r| r.effect == Effect::Create).map(|r| r.id.as_str()).collect();
    assert!(creates.is_empty(), "objects the target already has would be created again: {creates:#?}");
}

#[test]
fn initial_options_is_looked_up_in_the_target_never_imported() {
    let export = tempfile::tempdir().expect("tempdir");
    let profile = |id: &str, title: &str| {
        format!(
            "<OPTION_PROFILE><BASIC_INFO><ID>{id}</ID><GROUP_NAME>{title}</GROUP_NAME><GROUP_TYPE>user</GROUP_TYPE>\
             <IS_DEFAULT>0</IS_DEFAULT></BASIC_INFO><SCAN><SCAN_DEAD_HOSTS>1</SCAN_DEAD_HOSTS></SCAN></OPTION_PROFILE>"
        )
    };
    let profiles =
        format!("<OPTION_PROFILES>{}{}</OPTION_PROFILES>", profile("1", "Initial Options"), profile("2", "Deep"));
    fs::write(export.path().join("option_profiles.xml"), profiles).expect("write");
    let rehearsal = Rehearsal::start(None);
    let (bundle, digest, manifest) = rehearsal.transform("bundle", BundleArgs::new(export.path(), PathBuf::new()));
    let effects: Vec<(&str, Effect)> = manifest.requests.iter().map(|r| (r.id.as_str(), r.effect)).collect();
    assert_eq!(effects, [("option-profile-id/Initial Options", Effect::Read), ("option-profile/Deep", Effect::Create)]);
    rehearsal.execute(&bundle, &digest).expect("the target's Initial Options is found by title");
    let (_, target) = rehearsal.target_export("after");
    let titles: Vec<&str> = target.records(Kind::OptionProfiles).map(|p| text(&p, "BASIC_INFO/GROUP_NAME")).collect();
    assert_eq!(titles, ["Deep"], "the system profile is still the target's own, and the only one of its title");
}

#[test]
fn the_corpus_files_transform_and_the_simulator_accepts_their_requests() {
    let corpus = repo().join("tests/corpus");
    let export = tempfile::tempdir().expect("tempdir");
    for kind in ["network_list", "asset_group_list", "user_list", "appliance_list", "qps_tag_response"] {
        for entry in fs::read_dir(corpus.join(kind)).expect("corpus folder") {
            let path = entry.expect("entry").path();
            fs::copy(&path, export.path().join(path.file_name().expect("name"))).expect("copy");
        }
    }
    fs::copy(
        corpus.join("domain_list/tf-provider-qualys-sjackson__domain_test.go.DOMAIN_LIST.xml"),
        export.path().join("domains.xml"),
    )
    .expect("copy");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let rehearsal = Rehearsal::start(Some(fixtures.join("target-export")));
    let args = BundleArgs {
        inputs: Some(fixtures.join("inputs")),
        target_export: Some(fixtures.join("target-export")),
        ..BundleArgs::new(export.path(), PathBuf::new())
    };
    let (bundle, digest, manifest) = rehearsal.transform("bundle", args);
    let tasks: BTreeSet<&str> = manifest.requests.iter().map(|r| r.task.as_str()).collect();
    for task in ["networks", "domains", "asset groups", "users", "asset tags"] {
        assert!(tasks.contains(task), "no {task} request from the corpus: {tasks:?}");
    }
    rehearsal.execute(&bundle, &digest).expect("the simulator accepts every request");
    let (_, target) = rehearsal.target_export("after");
    let titles: BTreeSet<&str> = target.records(Kind::AssetGroupList).map(|g| text(&g, "TITLE")).collect();
    assert!(titles.contains("prod-web") && titles.contains("myLinux"), "{titles:?}");
}
