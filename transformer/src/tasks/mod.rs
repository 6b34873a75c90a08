//! One module per core task of the migration guide, each reading like its task card: source
//! objects in, rules, requests out, and what was skipped and why. [`TASKS`] is the order the
//! bundle sends them in: what a request refers to is always created by an earlier one.

pub mod domains;
pub mod ips;
pub mod networks;

use crate::context::Context;
use crate::error::TransformError;
use crate::plan::{Refs, TaskOutput};

pub type Plan = fn(&Context<'_>, &mut Refs) -> Result<TaskOutput, TransformError>;

pub const TASKS: &[Plan] = &[networks::plan, ips::plan, domains::plan];
