//! The manual steps of the migration guide that no API performs, in every review. Tasks add
//! object-specific steps (and items to these, by the same id).

use std::collections::BTreeSet;

use qmig_schemas::{ManualStep, StepTime};

pub fn general_steps() -> Vec<ManualStep> {
    let step = |id: &str, when, title: &str, detail: &str| ManualStep {
        id: id.to_owned(),
        when,
        title: title.to_owned(),
        detail: detail.to_owned(),
        items: Vec::new(),
    };
    vec![
        step(
            "eula",
            StepTime::Before,
            "Accept the EULA in the target subscription",
            "Log in to the target's user interface as the API user and accept the end-user licence agreement. \
             Until then every API call is refused with HTTP 409, CODE 2003, and the executor stops.",
        ),
        step(
            "business-units",
            StepTime::Before,
            "Create the business units in the target first",
            "Business units cannot be exported or created through the API. Create each one in the target's \
             user interface (Users > Business Units) with the same name, before the bundle runs: users are \
             created into business units by name. Assign their asset groups and scanner appliances once \
             those exist.",
        ),
        step(
            "agent-cleanup",
            StepTime::Before,
            "Clean up Cloud Agents and agentless tracking in the source",
            "Before migrating and decommissioning the source, remove every Cloud Agent connecting to it \
             (an uninstall job in the Cloud Agent application, or the documented uninstall process), and \
             use Scans > Setup > Agentless Tracking > Cleanup (or remove HKLM\\SOFTWARE\\Qualys\\HostID on \
             Windows and the host ID file under /etc on Unix through your software distribution tool). \
             Cleanup stays on until agentless tracking is accepted again.",
        ),
        step(
            "appliance-unbinding",
            StepTime::Before,
            "Have Qualys Support unbind the physical scanner appliances",
            "Physical appliances cannot be moved by API. When ready, call Qualys Support or open a ticket \
             naming each appliance's serial number and the user it is bound to; once unbound it can be \
             activated in the target if both subscriptions are on the same platform (SOC). Between \
             platforms, physical appliances are replaced by Qualys. New appliances must keep the old \
             names so scan schedules can be mapped.",
        ),
        step(
            "source-reports",
            StepTime::Before,
            "Keep the reports you need from the source",
            "Reports, scan results and history are not migrated. Download the ones your records need \
             before the source subscription is decommissioned.",
        ),
        step(
            "remediation-rules",
            StepTime::After,
            "Re-create the remediation rules",
            "Remediation rules can be neither exported nor created through the API: re-create them in the \
             target's user interface.",
        ),
        step(
            "compliance-report-templates",
            StepTime::After,
            "Re-create the compliance report templates",
            "Policy Compliance report templates can be exported neither by API nor in the user interface: \
             copy their settings by hand.",
        ),
        step(
            "pci-merchant-links",
            StepTime::After,
            "Re-link PCI merchant accounts",
            "Each user whose account was linked to a PCI merchant account re-links it in the target: \
             Scans > Setup > PCI Account Links > Add Existing PCI Account, with the merchant account's \
             credentials; repeat for every merchant account.",
        ),
        step(
            "distribution-groups",
            StepTime::After,
            "Re-create distribution groups and report schedules",
            "Distribution groups and report schedules have no create API: re-create them in the target's \
             user interface.",
        ),
    ]
}

/// Adds task steps to the general ones: a step with a known id contributes its items to it.
pub fn merge(mut steps: Vec<ManualStep>, more: impl IntoIterator<Item = ManualStep>) -> Vec<ManualStep> {
    for step in more {
        match steps.iter_mut().find(|s| s.id == step.id) {
            Some(existing) => {
                let mut seen: BTreeSet<String> = existing.items.iter().cloned().collect();
                existing.items.extend(step.items.into_iter().filter(|item| seen.insert(item.clone())));
            }
            None => steps.push(step),
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, items: &[&str]) -> ManualStep {
        ManualStep {
            id: id.to_owned(),
            when: StepTime::Before,
            title: String::new(),
            detail: String::new(),
            items: items.iter().map(|i| (*i).to_owned()).collect(),
        }
    }

    #[test]
    fn task_steps_add_their_items_once_to_the_step_of_the_same_id() {
        let merged = merge(
            general_steps(),
            [step("business-units", &["a", "b", "a"]), step("business-units", &["b", "c"]), step("extra", &["x"])],
        );
        let units = merged.iter().find(|s| s.id == "business-units").expect("the general step");
        assert_eq!(units.items, ["a", "b", "c"]);
        assert_eq!(merged.len(), general_steps().len() + 1);
        assert_eq!(merged.last().map(|s| s.id.as_str()), Some("extra"));
    }
}
