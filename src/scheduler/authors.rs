//! Each author's usable token for one drain.
//!
//! A token with plenty of time left is used as claimed, with no lock or
//! look-up. One that expires soon, or that Slack answered `token_expired`
//! to, goes through the author's slot: whoever comes first refreshes (once
//! per author per drain, through [`crate::tokens::Refresher`], which keeps
//! the refresh going whoever stops waiting), whoever comes next finds the
//! result. A refusal forgets only the pair that was refused.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::drain::Drain;
use crate::store::{ClaimedMessage, RefreshRight, TokenOwner, TokenStatus, UserCredentials};
use crate::tokens::{Refreshed, needs_refresh};

/// Reasons a message is held because of its author's credentials.
pub(super) const NOT_CONNECTED: &str = "not_connected";
pub(super) const CREDENTIALS_INVALID: &str = "credentials_invalid";
pub(super) const TOKEN_EXPIRED: &str = "token_expired";

/// A token this close to expiry is treated as expired: the post would race it.
const EXPIRY_SKEW: chrono::Duration = chrono::Duration::seconds(30);
/// The longest a lane waits for another process's refresh of its author.
const OTHERS_REFRESH_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub(super) enum TokenState {
    Ready(UserCredentials),
    /// The author must reconnect; the reason is kept with the message.
    Held(String),
    /// No usable token right now (a refresh failed transiently): retry later.
    Unavailable(String),
}

#[derive(Default)]
struct Slot {
    state: Option<TokenState>,
    /// The generation of the pair the slot's state came from.
    generation: i64,
    /// This drain has refreshed (or tried to refresh) the author's token.
    refreshed: bool,
    /// The author's credentials were found dead and recorded so.
    refused: bool,
}

/// The slots of the authors whose tokens needed more than a glance.
#[derive(Default)]
pub(super) struct AuthorTokens {
    slots: std::sync::Mutex<HashMap<i64, Arc<tokio::sync::Mutex<Slot>>>>,
}

fn owner(message: &ClaimedMessage) -> TokenOwner {
    TokenOwner::User {
        id: message.author.id,
        team_id: message.author.team_id.clone(),
        user_id: message.author.user_id.clone(),
    }
}

impl AuthorTokens {
    fn existing(&self, author_id: i64) -> Option<Arc<tokio::sync::Mutex<Slot>>> {
        self.slots.lock().ok()?.get(&author_id).cloned()
    }

    fn slot(&self, message: &ClaimedMessage) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots
            .entry(message.author.id)
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(Slot {
                    generation: message.token_generation,
                    ..Slot::default()
                }))
            })
            .clone()
    }

    /// The token to post `message` with.
    pub(super) async fn ready(&self, drain: &Drain, message: &ClaimedMessage) -> TokenState {
        let margin = drain.shared.settings.refresh_margin;
        let slot = match self.existing(message.author.id) {
            Some(slot) => slot,
            None => match (&message.token_status, &message.credentials) {
                (TokenStatus::Active, Some(credentials))
                    if !needs_refresh(credentials.expires_at, drain.clock.now(), margin)
                        && drain
                            .shared
                            .refresher
                            .unsaved_pair(&owner(message))
                            .is_none() =>
                {
                    return TokenState::Ready(credentials.clone());
                }
                _ => self.slot(message),
            },
        };
        let mut slot = slot.lock().await;
        if let Some(state) = &slot.state {
            return state.clone();
        }
        let state = self.resolve(drain, message, &mut slot).await;
        slot.state = Some(state.clone());
        state
    }

    async fn resolve(
        &self,
        drain: &Drain,
        message: &ClaimedMessage,
        slot: &mut Slot,
    ) -> TokenState {
        let credentials = match (message.token_status, &message.credentials) {
            (TokenStatus::Invalid, _) => return TokenState::Held(CREDENTIALS_INVALID.into()),
            (TokenStatus::None, _) | (_, None) => return TokenState::Held(NOT_CONNECTED.into()),
            (TokenStatus::Active, Some(credentials)) => credentials,
        };
        let owner = owner(message);
        let refresher = &drain.shared.refresher;
        if let Some((generation, unsaved)) = refresher.unsaved_pair(&owner) {
            slot.generation = generation;
            return TokenState::Ready(unsaved);
        }
        let now = drain.clock.now();
        if !needs_refresh(
            credentials.expires_at,
            now,
            drain.shared.settings.refresh_margin,
        ) {
            return TokenState::Ready(credentials.clone());
        }
        let expired = credentials.expires_before(now + EXPIRY_SKEW);
        let Some(refresh_token) = credentials.refresh_token.clone() else {
            return if expired {
                TokenState::Held(TOKEN_EXPIRED.into())
            } else {
                TokenState::Ready(credentials.clone())
            };
        };
        slot.refreshed = true;
        let refreshed = if message.refresh_lock_held {
            let right = RefreshRight {
                generation: message.token_generation,
                refresh_token,
            };
            refresher.refresh_with(&owner, right).await
        } else if !expired {
            // Another runner holds the right: the current token still works.
            return TokenState::Ready(credentials.clone());
        } else {
            refresher
                .refresh(&owner, message.token_generation, OTHERS_REFRESH_WAIT)
                .await
        };
        self.settle(drain, slot, refreshed, (!expired).then_some(credentials))
    }

    /// What a refresh leaves the slot with.
    fn settle(
        &self,
        drain: &Drain,
        slot: &mut Slot,
        refreshed: Refreshed,
        still_good: Option<&UserCredentials>,
    ) -> TokenState {
        match refreshed {
            Refreshed::Fresh {
                credentials,
                generation,
            } => {
                if generation > slot.generation {
                    drain
                        .counters
                        .refreshed
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                slot.generation = generation;
                TokenState::Ready(credentials)
            }
            Refreshed::Refused(reason) => {
                slot.refused = true;
                TokenState::Held(reason)
            }
            Refreshed::Failed(reason) => match still_good {
                Some(credentials) => TokenState::Ready(credentials.clone()),
                None => TokenState::Unavailable(reason),
            },
        }
    }

    /// Slack answered `token_expired` to `used`: refresh once (re-reading
    /// the stored pair, which another process may have refreshed already)
    /// and hand out the new token; a second rejection is not retried.
    pub(super) async fn after_rejection(
        &self,
        drain: &Drain,
        message: &ClaimedMessage,
        used: &SecretString,
    ) -> TokenState {
        let slot = self.slot(message);
        let mut slot = slot.lock().await;
        if let Some(TokenState::Ready(credentials)) = &slot.state
            && credentials.access_token.expose_secret() != used.expose_secret()
        {
            return TokenState::Ready(credentials.clone());
        }
        if slot.refreshed {
            let state = TokenState::Held(TOKEN_EXPIRED.into());
            slot.state = Some(state.clone());
            return state;
        }
        slot.refreshed = true;
        let refreshed = drain
            .shared
            .refresher
            .refresh(&owner(message), slot.generation, OTHERS_REFRESH_WAIT)
            .await;
        let state = match refreshed {
            // The stored pair is the one Slack just refused, refreshed by
            // nobody: holding is all that is left.
            Refreshed::Fresh {
                ref credentials, ..
            } if credentials.access_token.expose_secret() == used.expose_secret() => {
                TokenState::Held(TOKEN_EXPIRED.into())
            }
            other => self.settle(drain, &mut slot, other, None),
        };
        slot.state = Some(state.clone());
        state
    }

    /// Slack refused the author's token outright: forget that pair (once;
    /// a newer one stored meanwhile stays) and hold.
    pub(super) async fn refused(&self, drain: &Drain, message: &ClaimedMessage, reason: &str) {
        let slot = self.slot(message);
        let mut slot = slot.lock().await;
        if !slot.refused {
            slot.refused = true;
            match drain
                .shared
                .store
                .refuse_pair(&owner(message), slot.generation, reason, drain.clock.now())
                .await
            {
                Ok(_) => tracing::warn!(
                    author_id = message.author.id,
                    reason,
                    "author's credentials refused; holding their messages"
                ),
                Err(err) => {
                    tracing::error!(author_id = message.author.id, error = %err,
                        "cannot record refused credentials");
                }
            }
        }
        slot.state = Some(TokenState::Held(reason.to_owned()));
    }
}
