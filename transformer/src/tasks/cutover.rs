//! The cutover: what the migration created switched off and the source had on.
//!
//! Scan schedules are created inactive, so that the target does not scan the same night as
//! the source. On the day the source stops scanning, the operator runs the bundle's cutover
//! phase (`qmig-execute run --cutover`), which switches on every schedule that was active in
//! the source (`action=update&id=<new ID>&active=1`). Its requests are the bundle's last, in a
//! phase of their own, so the review shows exactly what they switch on. The compliance
//! policies the bundle imports are evaluated then too (their scope was set without evaluation).
//!
//! Rules:
//! - Only schedules with `ACTIVE` 1 that the bundle creates: inactive ones stay inactive,
//!   cloud schedules are made by hand, and `ACTIVE` 2 or 3 (continuous or paused) have no
//!   documented parameter, listed as losses by the schedules task.
//! - Switching a schedule on twice leaves it on: the requests may be re-sent.

use qmig_schemas::Effect;

use crate::context::Context;
use crate::error::TransformError;
use crate::plan::{Draft, RefKind, Refs, TaskOutput, object_id};
use crate::tasks::policies;
use crate::tasks::schedules::{self, Schedule};

pub const TASK: &str = "cutover";

pub fn plan(ctx: &Context<'_>, refs: &mut Refs) -> Result<TaskOutput, TransformError> {
    let mut out = TaskOutput::new(TASK);
    for (module, file) in schedules::lists(ctx)? {
        for record in file.records() {
            let schedule = Schedule::parse(record, module)?;
            let request_id = schedules::request_id(module, schedule.title);
            let Some(new_id) = refs.get(RefKind::ScanSchedule, &request_id) else { continue };
            if record.text("ACTIVE") != Some("1") {
                continue;
            }
            let draft = Draft::post(
                TASK,
                object_id("switch-on", &request_id),
                Effect::Idempotent,
                schedules::path_of(module),
                format!("Switch on {}, active in the source", schedule.object()),
            )
            .param("action", "update")
            .param("id", new_id.value())
            .param("active", "1")
            .source(schedule.source())
            .cutover();
            out.request(draft);
        }
    }
    for draft in policies::evaluations(ctx, refs)? {
        out.request(Draft { task: TASK, ..draft });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use qmig_schemas::Phase;

    use super::*;
    use crate::tasks::option_profiles;
    use crate::tasks::test_support::{Fixture, param};

    const PROFILES: &str = "<OPTION_PROFILES><OPTION_PROFILE><BASIC_INFO><ID>7</ID><GROUP_NAME>Weekly VM</GROUP_NAME>\
        <GROUP_TYPE>user</GROUP_TYPE></BASIC_INFO></OPTION_PROFILE></OPTION_PROFILES>";

    fn scan(id: &str, title: &str, active: &str, cloud: &str) -> String {
        format!(
            "<SCAN><ID>{id}</ID><ACTIVE>{active}</ACTIVE><TITLE>{title}</TITLE><TARGET>10.0.0.1</TARGET>{cloud}\
             <OPTION_PROFILE><TITLE>Weekly VM</TITLE></OPTION_PROFILE><SCHEDULE><DAILY frequency_days=\"1\"/>\
             <START_HOUR>2</START_HOUR><START_MINUTE>0</START_MINUTE><TIME_ZONE><TIME_ZONE_CODE>US-NY</TIME_ZONE_CODE>\
             </TIME_ZONE></SCHEDULE></SCAN>"
        )
    }

    #[test]
    fn only_schedules_active_in_the_source_and_created_by_the_bundle_are_switched_on_at_the_cutover() {
        let scans = scan("1", "On", "1", "")
            + &scan("2", "Off", "0", "")
            + &scan("3", "Cloud", "1", "<CLOUD_DETAILS><CONNECTOR><NAME>AWS</NAME></CONNECTOR></CLOUD_DETAILS>");
        let list = format!(
            "<SCHEDULE_SCAN_LIST_OUTPUT><REQUEST><RESOURCE>https://qualysapi.qualys.com{}</RESOURCE></REQUEST>\
             <RESPONSE><DATETIME>2026-03-10T08:00:00Z</DATETIME><SCHEDULE_SCAN_LIST>{scans}</SCHEDULE_SCAN_LIST>\
             </RESPONSE></SCHEDULE_SCAN_LIST_OUTPUT>",
            schedules::VM_PATH
        );
        let fixture = Fixture::new(&[("op.xml", PROFILES), ("vm.xml", &list)]);
        let out = fixture.try_plan_after(&[option_profiles::plan, schedules::plan], plan).expect("plans");
        let [switch] = out.requests.as_slice() else { panic!("one request: {:?}", out.requests) };
        assert_eq!(switch.id, "switch-on/vm-scan-schedule/On");
        assert_eq!(switch.phase, Phase::Cutover);
        assert_eq!(switch.effect, Effect::Idempotent);
        assert_eq!(param(switch, "action").as_deref(), Some("update"));
        assert_eq!(param(switch, "id").as_deref(), Some("{{capture:vm-scan-schedule/On#id}}"));
        assert_eq!(param(switch, "active").as_deref(), Some("1"));
    }
}
