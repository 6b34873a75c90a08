//! One module per core task of the migration guide, each reading like its task card: source
//! objects in, rules, requests out, and what was skipped and why. [`TASKS`] is the order the
//! bundle sends them in: what a request refers to is always created by an earlier one.

pub mod appliances;
pub mod asset_groups;
pub mod auth_records;
pub mod cutover;
pub mod domains;
pub mod ips;
pub mod ipv6_mappings;
pub mod networks;
pub mod option_profiles;
pub mod policies;
pub mod report_templates;
pub mod schedules;
pub mod search_lists;
pub mod subscription;
pub mod tags;
#[cfg(test)]
mod test_support;
pub mod user_prefs;
pub mod users;
pub mod virtual_hosts;

use crate::context::Context;
use crate::error::TransformError;
use crate::plan::{Refs, TaskOutput};

/// Tasks whose requests carry what earlier tasks add as plain values, not captured IDs, so no
/// capture shows the order: each request of the first waits for every request of the others
/// (through the task's first request, see [`crate::bundle::assemble`]).
/// (Name-based references to single objects are stated per request: [`crate::plan::Draft::after_object`].)
pub const AFTER_TASKS: &[(&str, &[&str])] = &[
    // The imported user setup applies to the users added.
    (users::TASK, &[subscription::TASK]),
    // Asset groups, virtual hosts, IPv6 mappings and scan targets name IPs the subscription
    // must hold, and asset groups name domains.
    (asset_groups::TASK, &[ips::TASK, domains::TASK]),
    (virtual_hosts::TASK, &[ips::TASK]),
    (ipv6_mappings::TASK, &[ips::TASK]),
    (schedules::TASK, &[ips::TASK]),
];

pub type Plan = fn(&Context<'_>, &mut Refs) -> Result<TaskOutput, TransformError>;

pub const TASKS: &[Plan] = &[
    subscription::plan,
    networks::plan,
    appliances::plan,
    ips::plan,
    domains::plan,
    asset_groups::plan,
    tags::plan,
    users::plan,
    user_prefs::plan,
    virtual_hosts::plan,
    ipv6_mappings::plan,
    search_lists::plan,
    auth_records::plan,
    option_profiles::plan,
    policies::plan,
    report_templates::plan,
    schedules::plan,
    cutover::plan,
];
