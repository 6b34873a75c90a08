//! The manual steps of the migration: what no API performs. Every step is a [`Step`], defined
//! once here; the general ones are in every review, and tasks add the objects they concern as
//! items (a step named twice is merged by [`merge`]).

use std::collections::BTreeSet;

use qmig_schemas::{ManualStep, StepTime};

/// A manual step of the migration, by its stable id in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Eula,
    BusinessUnits,
    Vaults,
    AgentCleanup,
    ApplianceUnbinding,
    SourceReports,
    RemediationRules,
    ComplianceReportTemplates,
    PciMerchantLinks,
    DistributionGroups,
    ApplianceDeployment,
    ApplianceActivation,
    ApplianceSettings,
    ApplianceNetworks,
    AssetGroupAttributes,
    GroovyTagRules,
    StaticTagAssignments,
    UserFollowUp,
    UsersByHand,
    TagSupportForAuthRecords,
    AuthRecordsByHand,
    SearchListsByHand,
    ReportTemplatesByHand,
    CloudSchedulesByHand,
    ScheduleRecipients,
    PolicyScopeGroups,
    NetworksByHand,
    UndoByHand,
}

/// The steps in every review, whatever the export holds.
const GENERAL: [Step; 9] = [
    Step::Eula,
    Step::BusinessUnits,
    Step::AgentCleanup,
    Step::ApplianceUnbinding,
    Step::SourceReports,
    Step::RemediationRules,
    Step::ComplianceReportTemplates,
    Step::PciMerchantLinks,
    Step::DistributionGroups,
];

impl Step {
    pub fn id(self) -> &'static str {
        match self {
            Step::Eula => "eula",
            Step::BusinessUnits => "business-units",
            Step::Vaults => "vaults",
            Step::AgentCleanup => "agent-cleanup",
            Step::ApplianceUnbinding => "appliance-unbinding",
            Step::SourceReports => "source-reports",
            Step::RemediationRules => "remediation-rules",
            Step::ComplianceReportTemplates => "compliance-report-templates",
            Step::PciMerchantLinks => "pci-merchant-links",
            Step::DistributionGroups => "distribution-groups",
            Step::ApplianceDeployment => "appliance-deployment",
            Step::ApplianceActivation => "appliance-activation",
            Step::ApplianceSettings => "appliance-settings",
            Step::ApplianceNetworks => "appliance-networks",
            Step::AssetGroupAttributes => "asset-group-attributes",
            Step::GroovyTagRules => "groovy-tag-rules",
            Step::StaticTagAssignments => "static-tag-assignments",
            Step::UserFollowUp => "user-follow-up",
            Step::UsersByHand => "users-by-hand",
            Step::TagSupportForAuthRecords => "auth-record-tag-support",
            Step::AuthRecordsByHand => "auth-records-by-hand",
            Step::SearchListsByHand => "search-lists-by-hand",
            Step::ReportTemplatesByHand => "report-templates-by-hand",
            Step::CloudSchedulesByHand => "cloud-schedules-by-hand",
            Step::ScheduleRecipients => "schedule-recipients",
            Step::PolicyScopeGroups => "policy-scope-groups",
            Step::NetworksByHand => "networks-by-hand",
            Step::UndoByHand => "undo-by-hand",
        }
    }

    /// The step with these items, as the manifest holds it.
    pub fn with(self, items: Vec<String>) -> ManualStep {
        let (when, title, detail) = self.text();
        ManualStep { id: self.id().to_owned(), when, title: title.to_owned(), detail: detail.to_owned(), items }
    }

    fn text(self) -> (StepTime, &'static str, &'static str) {
        use StepTime::{After, Before};
        match self {
            Step::Eula => (
                Before,
                "Accept the EULA in the target subscription",
                "Log in to the target's user interface as the API user and accept the end-user licence agreement. \
                 Until then every API call is refused with HTTP 409, CODE 2003, and the executor stops.",
            ),
            Step::BusinessUnits => (
                Before,
                "Create the business units in the target first",
                "Business units cannot be exported or created through the API. Create each one in the target's \
                 user interface (Users > Business Units) with the same name, before the bundle runs: users are \
                 created into business units by name. Assign their asset groups and scanner appliances once \
                 those exist.",
            ),
            Step::Vaults => (
                Before,
                "Create the authentication vaults in the target, with their secrets",
                "Vaults hold third-party credentials that no export carries. Create each vault in the target's \
                 user interface (Scans > Authentication > Vaults) with its secrets, then map its source ID to \
                 the new ID in inputs/vaults.csv, so the authentication records that use it refer to it.",
            ),
            Step::AgentCleanup => (
                Before,
                "Clean up Cloud Agents and agentless tracking in the source",
                "Before migrating and decommissioning the source, remove every Cloud Agent connecting to it \
                 (an uninstall job in the Cloud Agent application, or the documented uninstall process), and \
                 use Scans > Setup > Agentless Tracking > Cleanup (or remove HKLM\\SOFTWARE\\Qualys\\HostID on \
                 Windows and the host ID file under /etc on Unix through your software distribution tool). \
                 Cleanup stays on until agentless tracking is accepted again.",
            ),
            Step::ApplianceUnbinding => (
                Before,
                "Have Qualys Support unbind the physical scanner appliances",
                "Physical appliances cannot be moved by API. When ready, call Qualys Support or open a ticket \
                 naming each appliance's serial number and the user it is bound to; once unbound it can be \
                 activated in the target if both subscriptions are on the same platform (SOC). Between \
                 platforms, physical appliances are replaced by Qualys. New appliances must keep the old \
                 names so scan schedules can be mapped.",
            ),
            Step::SourceReports => (
                Before,
                "Keep the reports you need from the source",
                "Reports, scan results and history are not migrated. Download the ones your records need \
                 before the source subscription is decommissioned.",
            ),
            Step::RemediationRules => (
                After,
                "Re-create the remediation rules",
                "Remediation rules can be neither exported nor created through the API: re-create them in the \
                 target's user interface.",
            ),
            Step::ComplianceReportTemplates => (
                After,
                "Re-create the compliance report templates",
                "Policy Compliance report templates can be exported neither by API nor in the user interface: \
                 copy their settings by hand.",
            ),
            Step::PciMerchantLinks => (
                After,
                "Re-link PCI merchant accounts",
                "Each user whose account was linked to a PCI merchant account re-links it in the target: \
                 Scans > Setup > PCI Account Links > Add Existing PCI Account, with the merchant account's \
                 credentials; repeat for every merchant account.",
            ),
            Step::DistributionGroups => (
                After,
                "Re-create distribution groups and report schedules",
                "Distribution groups and report schedules have no create API: re-create them in the target's \
                 user interface.",
            ),
            Step::ApplianceDeployment => (
                Before,
                "Deploy the scanner appliances the target lacks, under the same names",
                "These appliances have no counterpart in the target (no row in appliances.csv, not in the target \
                 export, not created by this bundle). Deploy them in the target under the same names, then map \
                 them in appliances.csv or capture the target's appliance list into --target-export and transform \
                 again, so that asset groups and scan schedules refer to them.",
            ),
            Step::ApplianceActivation => (
                After,
                "Deploy and personalise the virtual appliances the bundle created",
                "A created virtual appliance scans nothing until its image is deployed and personalised with its \
                 activation code. The codes are captured when the bundle runs and shown in the executor's final \
                 report; they are never written into the bundle.",
            ),
            Step::ApplianceSettings => (
                After,
                "Set VLANs and static routes on the target appliances",
                "The bundle does not create these appliances, so it does not send their VLANs and static routes: \
                 set them on each counterpart in the target once it exists (Scans > Appliances, or an update call \
                 with these values).",
            ),
            Step::ApplianceNetworks => (
                After,
                "Assign the remaining scanner appliances to their networks",
                "The appliance or the network has no counterpart in the target yet, so the assignment could not \
                 be sent: assign each appliance once both exist.",
            ),
            Step::AssetGroupAttributes => (
                After,
                "Set division, function and location of the asset groups",
                "No asset group of the export carries a division, function or location: some Qualys releases do \
                 not export them. Where the source groups had them, set them in the target by hand.",
            ),
            Step::GroovyTagRules => (
                Before,
                "Have Qualys Support enable Groovy tag rules in the target",
                "Tags whose rule is a Groovy script can only be created once Qualys Support has enabled \
                 Groovy-based tag rules for the target subscription: open a ticket before running the bundle. \
                 Their requests are the last of the asset tags task.",
            ),
            Step::StaticTagAssignments => (
                After,
                "Apply the static tags to assets again",
                "The tag search does not say which assets carry a static tag, and the target's assets have \
                 IDs only once they are scanned or their agents report. Once they do, apply these tags to the \
                 same assets as in the source.",
            ),
            Step::UserFollowUp => (
                After,
                "Finish the migrated users by hand",
                "Qualys gives each new user a new login (the executor's final report maps old to new) and each \
                 must complete registration. Set their permissions, notification settings and UI style as the \
                 review's \"What the API cannot carry over\" lists them.",
            ),
            Step::UsersByHand => (
                After,
                "Create the users whose role the API cannot create",
                "Create these users in the target's user interface with the same role.",
            ),
            Step::TagSupportForAuthRecords => (
                Before,
                "Enable tag support for authentication records in the target",
                "These records target assets by tag. Ask Qualys Support to enable \"Tag Support for \
                 Authentication Records\" in the target before the bundle runs, or the creates are refused.",
            ),
            Step::AuthRecordsByHand => (
                After,
                "Create the authentication records the bundle could not",
                "Each item says why the record was not sent: a secret the operator did not supply, or one the \
                 create call would carry in a URL or in an XML document whose format is not verified (private \
                 keys, root delegation). Create it in the target's user interface (Scans > Authentication) with \
                 the same title, type, IPs and settings, or supply the secret (or a vault) and transform again.",
            ),
            Step::SearchListsByHand => (
                Before,
                "Create the dynamic search lists the bundle cannot create",
                "Qualys lists a dynamic search list's criteria as prose and leaves Threat Protection RTI criteria \
                 out. For each of these lists a criterion is a phrase qmig does not turn back into create \
                 parameters, or no criterion was exported at all (RTIs only); created without them the list \
                 would select more QIDs, so the bundle does not create it. Create each list in the target's user \
                 interface (KnowledgeBase > Search Lists) with exactly the same title and criteria, then capture \
                 the target's search lists into --target-export and transform again: the option profiles and \
                 report templates that use the list then refer to it.",
            ),
            Step::ReportTemplatesByHand => (
                After,
                "Re-create the remediation, scorecard and other report templates",
                "These report template types have no export or create API. Re-create each one in the target's \
                 user interface (Reports > Templates) with the same title and settings, choosing the migrated \
                 asset groups, tags, search lists and users.",
            ),
            Step::CloudSchedulesByHand => (
                After,
                "Create the cloud scan schedules by hand",
                "Cloud perimeter scans and scans through a cloud connector depend on connectors qmig does not \
                 migrate. Once the connectors exist in the target, create each of these schedules in the target's \
                 user interface with the same settings, inactive until the cutover.",
            ),
            Step::ScheduleRecipients => (
                After,
                "Add the notification recipients the scan schedules lost",
                "These schedules notified distribution groups that inputs/distribution_groups.csv does not map, so \
                 they were created without them. Create the groups in the target (they have no create API), map \
                 them and transform again, or add them to each schedule's notifications by hand.",
            ),
            Step::PolicyScopeGroups => (
                After,
                "Add the asset groups without IPs to their compliance policies' scope",
                "Qualys refuses an asset group without any assigned IP address in a policy's scope (DNS or \
                 NetBIOS names alone do not count), so the bundle leaves these groups out: the policy evaluates \
                 the same hosts as in the source, since such a group covers none. Once a group has an IP in the \
                 target, add it to the policy (PC > Policies > Edit > Asset Groups).",
            ),
            Step::NetworksByHand => (
                After,
                "Delete the networks the run created, by hand",
                "The API has no call that deletes a network. Once the undo bundle has run (nothing else uses \
                 them then), delete each of these networks in the target's user interface (Assets > Networks).",
            ),
            Step::UndoByHand => (
                After,
                "Check and delete by hand what the run may have created",
                "The journal does not prove that the run created these objects (its answer was lost, or the \
                 object was found in the target or settled by an operator's decision), or the ID needed to \
                 delete them was not captured. Look each one up in the target and delete it there if the run \
                 created it.",
            ),
        }
    }
}

/// The steps in every review, without items.
pub fn general_steps() -> Vec<ManualStep> {
    GENERAL.iter().map(|step| step.with(Vec::new())).collect()
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

    fn items(step: Step, items: &[&str]) -> ManualStep {
        step.with(items.iter().map(|i| (*i).to_owned()).collect())
    }

    #[test]
    fn task_steps_add_their_items_once_to_the_step_of_the_same_id() {
        let merged = merge(
            general_steps(),
            [
                items(Step::BusinessUnits, &["a", "b", "a"]),
                items(Step::BusinessUnits, &["b", "c"]),
                items(Step::Vaults, &["x"]),
            ],
        );
        let units = merged.iter().find(|s| s.id == Step::BusinessUnits.id()).expect("the general step");
        assert_eq!(units.items, ["a", "b", "c"]);
        assert_eq!(merged.len(), general_steps().len() + 1);
        assert_eq!(merged.last().map(|s| s.id.as_str()), Some("vaults"));
    }
}
