//! Integration tests: the simulator driven over plain HTTP, as qmig's executor and capture
//! script drive Qualys. One test binary keeps the build short.

mod auth_records;
mod binary;
mod common;
mod endpoints;
mod faults;
mod limits;
mod paging;
mod protocol;
mod seed_export;
