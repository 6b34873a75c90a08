//! `qmig-transform capture-script`: a POSIX `sh` script that captures a complete export with
//! `curl` alone. The calls come from [`CAPTURES`], one entry per file (or family of files) of
//! the export, each naming the [`Kind`] the reader recognises it as: the script checks every
//! answer's root element against that kind's roots, so the script cannot capture a document
//! the transformer would not read. The plumbing (credentials, HTTP 409, paging, resume,
//! error documents) is the template `capture_script.sh`.

use std::fmt::Write as _;

use crate::export::Kind;
use crate::tasks::auth_records::types::TYPES as AUTH_TYPES;
use crate::tasks::report_templates::{API_TYPES, PLATFORM_OWNER, STOCK};
use crate::tasks::{
    appliances, asset_groups, auth_records, domains, ips, ipv6_mappings, networks, option_profiles, policies,
    report_templates, schedules, search_lists, subscription, tags, user_prefs, users, virtual_hosts,
};

const TEMPLATE: &str = include_str!("capture_script.sh");

/// The vault list: read only (vaults are created by hand), so no task names its path.
const VAULT_PATH: &str = "/api/2.0/fo/vault/";

/// How a call's answer continues on another page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// Follows each `WARNING` (CODE 1980) to its `URL`; the call takes no `truncation_limit`
    /// (none is documented for it), so the page size is Qualys's.
    Warning,
    /// The same, and the call takes `truncation_limit` (the script's `--page-size`).
    WarningWithPageSize,
    /// A QPS search: `limitResults`, then the IDs above `lastId` while `hasMoreRecords`.
    Qps,
}

/// How many calls an entry makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Each {
    /// One call (with its pages).
    Once,
    /// One export per record of an earlier capture: the value of `field` in each `record` of
    /// the list `list` ends the query and names the file (`user_prefs/user_prefs_1204.xml`).
    Listed { list: &'static str, record: &'static str, field: &'static str },
    /// One list per record type the authentication inventory `list` names, the type's slug
    /// ending the path (`/api/2.0/fo/auth/unix/`) and the file name (`auth_unix.xml`).
    AuthType { list: &'static str },
    /// One export per scan, PCI scan, patch and map template of the list `list` that is not a
    /// stock template, under its type's path; the ID ends the query and the file name.
    ReportTemplate { list: &'static str },
}

/// Which subscription needs the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Both,
    /// Only the source's: what the target's export is not read for (its configuration and
    /// preferences are the ones being replaced).
    SourceOnly,
}

/// One call of the capture, or one family of calls.
#[derive(Debug, Clone, Copy)]
pub struct Capture {
    /// The file, without `.xml` (pages add `_2`, `_3`...), or the prefix of a family's files.
    pub name: &'static str,
    /// What the transformer reads it as: its root elements are the answers accepted.
    pub kind: Kind,
    pub path: &'static str,
    /// The query string; a family's ID or type is appended to it or to the path.
    pub query: &'static str,
    pub paging: Paging,
    pub each: Each,
    pub side: Side,
}

const fn once(name: &'static str, kind: Kind, path: &'static str, query: &'static str, paging: Paging) -> Capture {
    Capture { name, kind, path, query, paging, each: Each::Once, side: Side::Both }
}

/// IP lists do not say which module and tracking method they hold: the echoed request says it,
/// and the file name too. `certview_enabled=0` keeps CertView-only addresses out of VM.
macro_rules! ip_lists {
    ($($name:literal $query:literal;)*) => {
        [$(once($name, Kind::IpList, ips::PATH, concat!("action=list&", $query, "&certview_enabled=0&echo_request=1"), Paging::Warning)),*]
    };
}
const IP_LISTS: [Capture; 6] = ip_lists! {
    "ip_list_vm_ip" "tracking_method=IP&compliance_enabled=0";
    "ip_list_vm_dns" "tracking_method=DNS&compliance_enabled=0";
    "ip_list_vm_netbios" "tracking_method=NETBIOS&compliance_enabled=0";
    "ip_list_pc_ip" "tracking_method=IP&compliance_enabled=1";
    "ip_list_pc_dns" "tracking_method=DNS&compliance_enabled=1";
    "ip_list_pc_netbios" "tracking_method=NETBIOS&compliance_enabled=1";
};

/// Scan schedules: no `active` filter (`active=0` lists only deactivated ones, `active=1` only
/// active ones); the echoed request tells the VM list from the PC list.
const SCHEDULE_QUERY: &str = "action=list&show_notifications=1&show_cloud_details=1&echo_request=1";

/// Every capture, in the order the script makes them: a family follows the list it reads.
pub const CAPTURES: &[Capture] = &[
    Capture {
        side: Side::SourceOnly,
        ..once("subscription_config", Kind::SubscriptionConfig, subscription::PATH, "action=export", Paging::Warning)
    },
    once("appliances", Kind::ApplianceList, appliances::PATH, "action=list&output_mode=full", Paging::Warning),
    once("networks", Kind::NetworkList, networks::PATH, "action=list", Paging::Warning),
    IP_LISTS[0],
    IP_LISTS[1],
    IP_LISTS[2],
    IP_LISTS[3],
    IP_LISTS[4],
    IP_LISTS[5],
    once("domains", Kind::DomainList, domains::LIST_PATH, "", Paging::Warning),
    once(
        "asset_groups",
        Kind::AssetGroupList,
        asset_groups::PATH,
        "action=list&show_attributes=ALL",
        Paging::WarningWithPageSize,
    ),
    once("users", Kind::UserList, users::LIST_PATH, "", Paging::Warning),
    Capture {
        name: "user_prefs/user_prefs_",
        kind: Kind::UserPrefs,
        path: user_prefs::PATH,
        query: "action=export&echo_request=1&user_id=",
        paging: Paging::Warning,
        each: Each::Listed { list: "users", record: "USER_LIST/USER", field: "USER_ID" },
        side: Side::SourceOnly,
    },
    once("virtual_hosts", Kind::VirtualHostList, virtual_hosts::PATH, "action=list", Paging::Warning),
    once(
        "ipv6_mappings",
        Kind::Ipv6MappingList,
        ipv6_mappings::PATH,
        "action=list&output_format=xml",
        Paging::WarningWithPageSize,
    ),
    once("tags", Kind::TagSearch, tags::SEARCH_PATH, "", Paging::Qps),
    once("auth_inventory", Kind::AuthInventory, auth_records::PATH, "action=list", Paging::Warning),
    Capture {
        name: "auth_",
        kind: Kind::AuthRecordList,
        path: auth_records::PATH,
        query: "action=list&details=Basic",
        paging: Paging::Warning,
        each: Each::AuthType { list: "auth_inventory" },
        side: Side::Both,
    },
    once("vaults", Kind::VaultList, VAULT_PATH, "action=list", Paging::Warning),
    once("search_lists_static", Kind::StaticSearchList, search_lists::STATIC_PATH, "action=list", Paging::Warning),
    // show_qids=0: the QIDs of a dynamic list follow from its criteria; the other show_* flags
    // stay at 1 so the review names who uses each list.
    once(
        "search_lists_dynamic",
        Kind::DynamicSearchList,
        search_lists::DYNAMIC_PATH,
        "action=list&show_qids=0",
        Paging::Warning,
    ),
    // As a Manager; the platform's own profiles are the target's already.
    once(
        "option_profiles",
        Kind::OptionProfiles,
        option_profiles::PATH,
        "action=export&include_system_option_profiles=0",
        Paging::Warning,
    ),
    once("report_templates", Kind::ReportTemplateList, report_templates::LIST_PATH, "", Paging::Warning),
    Capture {
        name: "report_templates/report_template_",
        kind: Kind::ReportTemplate,
        path: "/api/2.0/fo/report/template/",
        query: "action=export&report_format=xml&template_id=",
        paging: Paging::Warning,
        each: Each::ReportTemplate { list: "report_templates" },
        side: Side::Both,
    },
    once("schedules_vm", Kind::ScheduleList, schedules::VM_PATH, SCHEDULE_QUERY, Paging::Warning),
    once("schedules_pc", Kind::ScheduleList, schedules::PC_PATH, SCHEDULE_QUERY, Paging::Warning),
    // details=Basic carries each policy's scope (asset groups, tags); the export its controls.
    once("policies", Kind::PolicyList, policies::PATH, "action=list&details=Basic", Paging::WarningWithPageSize),
    Capture {
        name: "policy_",
        kind: Kind::PolicyExport,
        path: policies::PATH,
        query: "action=export&show_user_controls=1&show_appendix=0&id=",
        paging: Paging::Warning,
        each: Each::Listed { list: "policies", record: "RESPONSE/POLICY_LIST/POLICY", field: "ID" },
        side: Side::Both,
    },
];

/// The script, ready to run.
pub fn script() -> String {
    let auth_types: String =
        AUTH_TYPES.iter().map(|t| format!("    {}_RECORDS) echo {} ;;\n", t.record, t.slug)).collect();
    let template_types: String = API_TYPES
        .iter()
        .map(|t| {
            let listed: Vec<String> = t.listed_as.iter().map(|l| shell_quote(&l.to_ascii_lowercase())).collect();
            format!("    {}) echo {} ;;\n", listed.join(" | "), t.slug)
        })
        .collect();
    let stock: Vec<String> =
        STOCK.iter().map(|(kind, title)| shell_quote(&format!("{}/{title}", kind.to_ascii_lowercase()))).collect();
    TEMPLATE
        .replace("@@AUTH_TYPES@@\n", &auth_types)
        .replace("@@TEMPLATE_TYPES@@\n", &template_types)
        .replace("@@STOCK_TEMPLATES@@\n", &format!("    {}) return 0 ;;\n", stock.join(" | ")))
        .replace("@@PLATFORM_OWNER@@", PLATFORM_OWNER)
        .replace("@@CAPTURES@@\n", &captures())
}

/// The script's calls, one line per entry of [`CAPTURES`].
fn captures() -> String {
    let mut lines = String::new();
    for capture in CAPTURES {
        let roots = shell_quote(&capture.kind.spec().roots.join(" "));
        let (name, path, query) = (shell_quote(capture.name), shell_quote(capture.path), shell_quote(capture.query));
        let call = match (capture.each, capture.paging) {
            (Each::Once, Paging::Qps) => format!("capture_qps {name} {roots} {path}"),
            (Each::Once, paging) => {
                let paging = if paging == Paging::WarningWithPageSize { "page-size" } else { "plain" };
                format!("capture {name} {paging} {roots} {path} {query}")
            }
            (Each::Listed { list, record, field }, _) => format!(
                "each_listed {} {} {} {name} {roots} {path} {query}",
                shell_quote(list),
                shell_quote(record),
                shell_quote(field)
            ),
            (Each::AuthType { list }, _) => {
                format!("each_auth_type {} {name} {roots} {path} {query}", shell_quote(list))
            }
            (Each::ReportTemplate { list }, _) => {
                format!("each_report_template {} {name} {roots} {path} {query}", shell_quote(list))
            }
        };
        let label = capture.kind.spec().label;
        match capture.side {
            Side::Both => writeln!(lines, "# {label}: {}\n{call}", capture.name),
            Side::SourceOnly => {
                writeln!(
                    lines,
                    "# {label}: {} (source only)\nif [ \"$side\" = source ]; then\n  {call}\nfi",
                    capture.name
                )
            }
        }
        .expect("writing to a String cannot fail");
    }
    lines
}

/// A word for `sh`: single-quoted unless it is made of characters the shell never interprets.
fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/_.-=,:@".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::KINDS;

    #[test]
    fn every_kind_the_transformer_reads_is_captured() {
        let captured: Vec<Kind> = CAPTURES.iter().map(|c| c.kind).collect();
        let missing: Vec<&str> = KINDS.iter().filter(|k| !captured.contains(&k.kind)).map(|k| k.label).collect();
        assert!(missing.is_empty(), "no capture for {missing:?}");
    }

    #[test]
    fn a_family_follows_the_list_it_reads() {
        for (position, capture) in CAPTURES.iter().enumerate() {
            let list = match capture.each {
                Each::Once => continue,
                Each::Listed { list, .. } | Each::AuthType { list } | Each::ReportTemplate { list } => list,
            };
            let earlier = CAPTURES[..position].iter().any(|c| c.name == list && c.each == Each::Once);
            assert!(earlier, "{} reads {list}, which is not captured before it", capture.name);
        }
    }

    #[test]
    fn no_placeholder_is_left_and_every_call_is_in_the_script() {
        let script = script();
        assert!(!script.contains("@@"), "a placeholder is left");
        for capture in CAPTURES {
            assert!(script.contains(capture.path), "{} is not called", capture.path);
        }
        assert!(script.contains("    AUTH_MS_SQL_RECORDS) echo ms_sql ;;\n"));
        assert!(script.contains("    pci | 'pci scan') echo pciscan ;;\n"));
    }

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("/api/2.0/fo/network/"), "/api/2.0/fo/network/");
        assert_eq!(shell_quote("action=list&details=Basic"), "'action=list&details=Basic'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
