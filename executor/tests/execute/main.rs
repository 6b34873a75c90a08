//! qmig-execute end to end: the real binary against qualys-sim (whole runs, crashes, faults,
//! limits, refusals, secrets), and against a scripted server only for what the simulator
//! cannot show or say (see `scripted`).

mod crash;
mod cutover;
mod faults;
mod full_run;
mod interrupt;
mod journal;
#[path = "../../../schemas/tests/operator/mod.rs"]
mod operator;
mod pacing;
mod preflight;
mod probes;
mod refusals;
mod scripted;
mod secrets;
mod server;
mod stops;
mod support;
mod tls;
