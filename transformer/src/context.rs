//! What every task reads: the source export, optionally the target's own export, the operator's
//! inputs and the options of this run.

use crate::export::Export;
use crate::inputs::Inputs;

/// Options of one transformation.
#[derive(Debug, Clone)]
pub struct Options {
    /// Most IPs and ranges one Add IPs call carries.
    pub ips_per_request: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { ips_per_request: DEFAULT_IPS_PER_REQUEST }
    }
}

/// Qualys documents no limit per call; 1000 entries keep a form body around 30 KB.
pub const DEFAULT_IPS_PER_REQUEST: usize = 1000;

pub struct Context<'a> {
    pub export: &'a Export,
    /// The target subscription's own export, when the operator captured it.
    pub target: Option<&'a Export>,
    pub inputs: &'a Inputs,
    pub options: &'a Options,
}
