//! What every task reads: the source export, optionally the target's own export, the operator's
//! inputs and the options of this run.

use std::collections::BTreeSet;

use crate::calendar::Date;
use crate::credentials::Credentials;
use crate::export::{Export, Kind, Record};
use crate::inputs::Inputs;

/// Options of one transformation.
#[derive(Debug, Clone)]
pub struct Options {
    /// Most IPs and ranges one Add IPs call carries.
    pub ips_per_request: usize,
    /// Create the virtual scanner appliances the target lacks (each takes a licence).
    pub create_virtual_appliances: bool,
    /// The optional tasks the operator asked for.
    pub include: BTreeSet<OptionalTask>,
    /// Whether Qualys emails each new user their registration link.
    pub send_email: SendEmail,
    /// Most tags one Create Tag call carries (a root with part of its subtree).
    pub tags_per_request: usize,
    /// Names of root tags the platform manages besides the ones qmig knows.
    pub system_tags: Vec<String>,
    /// Whatever would only be reported (objects left for a manual step for want of an input)
    /// is an error instead.
    pub strict: bool,
    /// Import the source's default option profile as the target's default.
    pub keep_default_flag: bool,
    /// The earliest start date a scan schedule may be given (the capture's day when earlier).
    pub start_not_before: Option<Date>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ips_per_request: DEFAULT_IPS_PER_REQUEST,
            create_virtual_appliances: false,
            include: BTreeSet::new(),
            send_email: SendEmail::Yes,
            tags_per_request: DEFAULT_TAGS_PER_REQUEST,
            system_tags: Vec::new(),
            strict: false,
            keep_default_flag: false,
            start_not_before: None,
        }
    }
}

/// Tasks that run only when asked for (`--include`), because the guide advises against them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum OptionalTask {
    /// IPv6 mapping records: Qualys prefers "extended IPv6 mappings", enabled by the TAM.
    Ipv6Mappings,
}

/// `send_email` of the Add User call: a choice the review shows, not a hidden default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SendEmail {
    /// Qualys emails each new user a registration link (its own default).
    Yes,
    /// No email: the new password comes back in the response, which qmig never keeps, so the
    /// operator resets each user's password in the target.
    No,
}

/// Qualys documents no limit per call; 1000 entries keep a form body around 30 KB.
pub const DEFAULT_IPS_PER_REQUEST: usize = 1000;

/// Qualys documents no limit per tag create; 100 is its default search page, keeps a body to
/// some tens of KB and bounds what an unknown outcome leaves in doubt.
pub const DEFAULT_TAGS_PER_REQUEST: usize = 100;

pub struct Context<'a> {
    pub export: &'a Export,
    /// The target subscription's own export, when the operator captured it.
    pub target: Option<&'a Export>,
    pub inputs: &'a Inputs,
    pub options: &'a Options,
    /// The operator's secrets for authentication records, when supplied.
    pub credentials: Option<&'a Credentials>,
}

impl<'a> Context<'a> {
    /// The records of one kind in the target's export; none when it was not captured. What
    /// the target already has is mapped, not created again.
    pub fn target_records(&self, kind: Kind) -> impl Iterator<Item = Record<'a>> + 'a {
        self.target.into_iter().flat_map(move |target| target.records(kind))
    }
}
