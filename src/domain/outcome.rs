//! What one delivery attempt did to one scheduled message. The cycle collects
//! these and the store writes them back in two bulk statements.

use chrono::{DateTime, Utc};

use super::MessageStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub id: i64,
    /// Attempts so far, this one included (unchanged when nothing was tried).
    pub attempts: i32,
    pub kind: OutcomeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeKind {
    /// Slack accepted it (or it was found already posted).
    Sent { ts: String, at: DateTime<Utc> },
    /// Back to `pending`, to be tried again at `next_at`: a transient failure,
    /// a rate limit, pacing, or a shutdown before its turn.
    Retry {
        next_at: DateTime<Utc>,
        reason: Option<String>,
        /// The last attempt may have reached Slack: look before posting again.
        verify_before_post: bool,
    },
    /// Final; the author is told why.
    Failed { reason: String },
    /// Not posted: its condition held at the due time (`reason` says which).
    Skipped { reason: String },
    /// The author's credentials no longer work; kept until they reconnect.
    /// A message that was in doubt stays in doubt: before it is posted
    /// again, it is looked for.
    Held { reason: String, in_doubt: bool },
}

impl Outcome {
    pub fn status(&self) -> MessageStatus {
        match self.kind {
            OutcomeKind::Sent { .. } => MessageStatus::Sent,
            OutcomeKind::Retry { .. } => MessageStatus::Pending,
            OutcomeKind::Failed { .. } => MessageStatus::Failed,
            OutcomeKind::Held { .. } => MessageStatus::Held,
            OutcomeKind::Skipped { .. } => MessageStatus::Skipped,
        }
    }

    pub fn is_sent(&self) -> bool {
        matches!(self.kind, OutcomeKind::Sent { .. })
    }

    /// Failed and held messages are worth a note to their author.
    pub fn needs_notice(&self) -> bool {
        matches!(
            self.kind,
            OutcomeKind::Failed { .. } | OutcomeKind::Held { .. }
        )
    }

    pub fn reason(&self) -> Option<&str> {
        match &self.kind {
            OutcomeKind::Sent { .. } => None,
            OutcomeKind::Retry { reason, .. } => reason.as_deref(),
            OutcomeKind::Failed { reason }
            | OutcomeKind::Held { reason, .. }
            | OutcomeKind::Skipped { reason } => Some(reason),
        }
    }

    /// Whether the message may already have been posted, so that it must be
    /// looked for before it is posted again.
    pub fn stays_in_doubt(&self) -> bool {
        match self.kind {
            OutcomeKind::Retry {
                verify_before_post, ..
            } => verify_before_post,
            OutcomeKind::Held { in_doubt, .. } => in_doubt,
            OutcomeKind::Sent { .. } | OutcomeKind::Failed { .. } | OutcomeKind::Skipped { .. } => {
                false
            }
        }
    }
}
