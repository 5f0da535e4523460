//! slack-scheduler: write a Slack message now, have it posted as you later.
//!
//! The crate reads top-down along the data flow:
//!
//! - [`config`]: the environment of the product contract, parsed once.
//! - [`domain`]: pure rules with no I/O: message text and due-time validation,
//!   delivery outcomes and how Slack's answers are classified.
//! - [`crypto`]: tokens are sealed with AES-256-GCM before they reach a table.
//! - [`store`]: the only module that writes SQL, for SQLite and PostgreSQL.
//! - [`slack`]: everything that speaks Slack's Web API.
//! - [`tokens`]: rotating token pairs refreshed once, whoever waits for them.
//! - [`scheduler`]: the delivery pipeline: claim → lanes → record.
//! - [`foresight`]: checks ahead of the due time that an author can still post there.
//! - [`homes`]: users' Home tabs kept current, coalesced and paced.
//! - [`recurring`]: creates each recurring series' next occurrence as the last settles.
//! - [`retention`]: erases the text of settled messages past `MESSAGE_RETENTION_DAYS`.
//! - [`sim`]: a simulator of the part of Slack the app uses, over real HTTP.
//! - [`app`]: wires state, router and scheduler together and runs them.
//! - [`ops`]: the operator's commands: backup, rotate-key, doctor.
//! - [`bench`]: the delivery and slash-command benchmark (`slack-scheduler bench`).
#![forbid(unsafe_code)]

pub mod app;
pub mod bench;
pub mod bot;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod error;
pub mod foresight;
pub mod homes;
pub mod http;
pub mod ops;
pub mod recurring;
pub mod retention;
pub mod sampler;
pub mod scheduler;
pub mod sim;
pub mod slack;
pub mod store;
pub mod telemetry;
pub mod tokens;
