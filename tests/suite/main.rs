//! Integration tests: real SQLite files, the real PostgreSQL server, the
//! simulator playing Slack over real HTTP.

mod common;

mod crash_safety;
mod cycle;
mod process;
mod runners;
mod simulator;
mod store;
