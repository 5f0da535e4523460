//! Integration tests: real SQLite files, the real PostgreSQL server, the
//! simulator playing Slack over real HTTP.

mod common;

mod actions;
mod backup;
mod bench_smoke;
mod beyond;
mod changes;
mod commands;
mod crash_safety;
mod cycle;
mod doctor;
mod event_retries;
mod fuzz;
mod fuzz_parsers;
mod home_events;
mod hostile;
mod in_doubt;
mod install;
mod journey;
mod keys;
mod logs;
mod metadata;
mod monitoring;
mod notices;
mod operator;
mod package_install;
mod packaging;
mod pending_limit;
mod pipeline;
mod process;
mod refresh;
mod retention;
mod runners;
mod scopes;
mod secrets;
mod signatures;
mod simulator;
mod status_page;
mod store;
mod text;
mod uninstalled;
mod zones;
