//! The simulated subscription: every object the migration moves, with ID allocation and a
//! clock derived from the state itself, so that the same state always exports the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::appliance::Appliance;
use crate::api::auth_record::AuthRecord;
use crate::api::domain::Domain;
use crate::api::group::AssetGroup;
use crate::api::ip::{IpAssets, Ipv6Map};
use crate::api::network::Network;
use crate::api::option_profile::OptionProfile;
use crate::api::policy::Policy;
use crate::api::report_template::ReportTemplate;
use crate::api::schedule::Schedule;
use crate::api::search_list::{DynamicList, StaticList};
use crate::api::tag::Tag;
use crate::api::user::User;
use crate::api::vault::Vault;
use crate::api::vhost::VirtualHost;
use crate::xml::Element;

/// The IDs of one object kind: a sequence of its own, so that a test mixing up two kinds'
/// IDs fails. Each kind's module declares its sequence with a plausible first ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdSequence {
    name: &'static str,
    first: u64,
}

impl IdSequence {
    pub const fn new(name: &'static str, first: u64) -> Self {
        IdSequence { name, first }
    }
}

/// 2026-01-01T00:00:00Z: the clock of a subscription that was never seeded.
const EPOCH_START: i64 = 1_767_225_600;

#[derive(Debug, Clone)]
pub(crate) struct State {
    /// Login of the API user (the Primary Manager of the subscription).
    pub api_login: String,
    pub networks: BTreeMap<u64, Network>,
    pub appliances: BTreeMap<u64, Appliance>,
    pub virtual_licenses: u32,
    pub ips: IpAssets,
    pub ipv6: BTreeMap<u64, Ipv6Map>,
    pub domains: BTreeMap<u64, Domain>,
    pub groups: BTreeMap<u64, AssetGroup>,
    pub users: BTreeMap<u64, User>,
    /// Business units cannot be created through the API; these are the ones users name.
    pub business_units: BTreeSet<String>,
    /// Exported preference documents, by user ID.
    pub user_prefs: BTreeMap<u64, Element>,
    pub subscription: Element,
    pub option_profiles: BTreeMap<u64, OptionProfile>,
    pub report_templates: BTreeMap<u64, ReportTemplate>,
    pub vaults: BTreeMap<u64, Vault>,
    pub auth_records: BTreeMap<u64, AuthRecord>,
    pub static_lists: BTreeMap<u64, StaticList>,
    pub dynamic_lists: BTreeMap<u64, DynamicList>,
    pub schedules: BTreeMap<u64, Schedule>,
    /// Distribution groups have no create API: only seeded ones exist, by ID.
    pub distribution_groups: BTreeMap<u64, String>,
    pub policies: BTreeMap<u64, Policy>,
    /// Keyed by (network ID, IPv4, port).
    pub vhosts: BTreeMap<(u64, u32, u16), VirtualHost>,
    pub tags: BTreeMap<u64, Tag>,
    next_ids: BTreeMap<&'static str, u64>,
    /// Seconds since the Unix epoch; advanced by one for every change.
    clock: i64,
}

impl State {
    pub fn empty(api_login: &str, virtual_licenses: u32) -> Self {
        State {
            api_login: api_login.to_owned(),
            networks: BTreeMap::new(),
            appliances: BTreeMap::new(),
            virtual_licenses,
            ips: IpAssets::default(),
            ipv6: BTreeMap::new(),
            domains: BTreeMap::new(),
            groups: BTreeMap::new(),
            users: BTreeMap::new(),
            business_units: BTreeSet::from(["Unassigned".to_owned()]),
            user_prefs: BTreeMap::new(),
            subscription: Element::new("RECORD"),
            option_profiles: BTreeMap::new(),
            report_templates: BTreeMap::new(),
            vaults: BTreeMap::new(),
            auth_records: BTreeMap::new(),
            static_lists: BTreeMap::new(),
            dynamic_lists: BTreeMap::new(),
            schedules: BTreeMap::new(),
            distribution_groups: BTreeMap::new(),
            policies: BTreeMap::new(),
            vhosts: BTreeMap::new(),
            tags: BTreeMap::new(),
            next_ids: BTreeMap::new(),
            clock: EPOCH_START,
        }
    }

    pub fn next_id(&mut self, ids: IdSequence) -> u64 {
        let next = self.next_ids.entry(ids.name).or_insert(ids.first);
        let id = *next;
        *next += 1;
        id
    }

    /// Keeps new IDs above an ID that came from a seed.
    pub fn observe_id(&mut self, ids: IdSequence, id: u64) {
        let next = self.next_ids.entry(ids.name).or_insert(ids.first);
        *next = (*next).max(id + 1);
    }

    /// The current time of the subscription, in Qualys's `DATETIME` format.
    pub fn now(&self) -> String {
        format_datetime(self.clock)
    }

    /// Advances the clock for a change and returns the change's timestamp.
    pub fn tick(&mut self) -> String {
        self.clock += 1;
        self.now()
    }

    /// Moves the clock forward to a timestamp seen in a seed, so that a seeded subscription
    /// is "now" at the time of its export.
    pub fn observe_datetime(&mut self, text: &str) {
        if let Some(t) = parse_datetime(text) {
            self.clock = self.clock.max(t);
        }
    }

    pub fn login_of(&self, user_id: u64) -> Option<&str> {
        self.users.get(&user_id).map(|u| u.login.as_str())
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` from Unix seconds (civil-from-days, proleptic Gregorian).
pub(crate) fn format_datetime(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// The inverse of [`format_datetime`]; `None` for anything else.
pub(crate) fn parse_datetime(text: &str) -> Option<i64> {
    let t = text.trim();
    let b = t.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, m, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_round_trip() {
        assert_eq!(format_datetime(EPOCH_START), "2026-01-01T00:00:00Z");
        for text in ["2026-10-02T09:15:44Z", "2024-02-29T23:59:59Z", "1999-12-31T00:00:00Z"] {
            assert_eq!(parse_datetime(text).map(format_datetime).as_deref(), Some(text));
        }
        assert_eq!(parse_datetime("2026-10-02 09:15:44"), None);
    }

    #[test]
    fn ids_continue_above_seeded_ones() {
        const IDS: IdSequence = IdSequence::new("thing", 1001);
        let mut state = State::empty("admin", 0);
        assert_eq!(state.next_id(IDS), 1001);
        state.observe_id(IDS, 1106);
        assert_eq!(state.next_id(IDS), 1107);
        state.observe_id(IDS, 5);
        assert_eq!(state.next_id(IDS), 1108);
    }

    #[test]
    fn the_clock_only_moves_forward() {
        let mut state = State::empty("admin", 0);
        state.observe_datetime("2026-10-02T09:15:44Z");
        state.observe_datetime("2026-03-01T00:00:00Z");
        assert_eq!(state.tick(), "2026-10-02T09:15:45Z");
    }
}
