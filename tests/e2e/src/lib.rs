//! End-to-end tests of qmig live in `tests/`; this crate's library is empty on purpose and its
//! binary `synth-export` writes large synthetic exports for `make bench`.
