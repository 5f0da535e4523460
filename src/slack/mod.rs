//! Everything that speaks Slack: the Web API client, OAuth, the meaning
//! of Slack's error codes, and message text as Slack keeps it (markup and
//! rich text).

pub mod blocks;
pub mod client;
pub mod error;
pub mod inbound;
pub mod mrkdwn;
pub mod oauth;
pub mod rich_text;
pub mod verify;

pub use client::{
    ConversationInfo, HistoryMessage, HistoryPage, HistoryRequest, Post, Posted, SlackApi,
};
pub use error::{ErrorClass, SlackError};
pub use oauth::{OAuthError, SlackOAuth};
pub use verify::{SignatureVerifier, SignedBody};
