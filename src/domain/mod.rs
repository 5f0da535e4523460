//! Pure types and rules, no I/O: what a valid scheduled message is, and what
//! can become of a delivery attempt.

pub mod message;
pub mod outcome;
pub mod recurrence;
pub mod when;

pub use message::{
    Conditions, DueTime, DueTimeError, MessageStatus, MessageText, MessageTextError,
};
pub use outcome::{Outcome, OutcomeKind};
