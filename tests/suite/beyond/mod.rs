//! Beyond one-off messages (SPEC §7): recurring series, thread replies,
//! several destinations, send now, failure foresight, conditional sends
//! and delivery records, on SQLite and PostgreSQL, against the simulator
//! in strict mode.

mod conditions;
mod demo;
mod destinations;
mod foresight;
mod journey;
mod recurring;
mod series_changes;
mod series_keeper;
mod threads;
