//! Builders the unit tests of this crate share: a manifest around some requests, and a create
//! request whose fields the test then changes.

use crate::{Effect, FORMAT_VERSION, Generator, Manifest, Method, Phase, Request};

/// A manifest of `requests` and nothing else.
pub(crate) fn manifest_of(requests: Vec<Request>) -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        generator: Generator { name: "test".into(), version: "0".into() },
        target: None,
        sources: vec![],
        inputs: vec![],
        unrecognised: vec![],
        secrets: None,
        tasks: vec![],
        requests,
        skipped: vec![],
        losses: vec![],
        manual_steps: vec![],
        warnings: vec![],
        report: vec![],
        prerequisites: vec![],
    }
}

/// A create request `id` on `path`, waiting for `depends_on`.
pub(crate) fn create(seq: u64, id: String, path: &str, depends_on: Vec<String>) -> Request {
    Request {
        seq,
        summary: format!("Create {id}"),
        id,
        task: "networks".into(),
        method: Method::Post,
        path: path.into(),
        params: vec![],
        body: None,
        effect: Effect::Create,
        phase: Phase::Migration,
        captures: vec![],
        probe: None,
        source: None,
        remapped: vec![],
        depends_on,
    }
}
