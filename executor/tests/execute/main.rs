//! qmig-execute end to end: the real binary against a scripted loopback server (exact wire
//! checks, every response family and outcome) and against qualys-sim (whole runs, crashes,
//! faults and limits).

mod crash;
mod scripted;
mod secrets;
mod server;
mod support;
