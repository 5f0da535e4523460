//! Each author's usable token for one batch.
//!
//! Slack rotates refresh tokens: using one twice can lose the user. So a
//! token is refreshed at most once per author per batch (the author's slot
//! is a mutex: whoever comes second finds the new token), and across
//! processes only by the runner holding the author's refresh right (taken
//! in the claim on PostgreSQL). The new pair is stored before it is used.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use super::Scheduler;
use crate::store::{Author, ClaimedMessage, TokenGrant, TokenStatus, UserCredentials};
use crate::telemetry;

/// Reasons a message is held because of its author's credentials.
pub(super) const NOT_CONNECTED: &str = "not_connected";
pub(super) const CREDENTIALS_INVALID: &str = "credentials_invalid";
pub(super) const TOKEN_EXPIRED: &str = "token_expired";

/// A token this close to expiry is treated as expired: the post would race it.
const EXPIRY_SKEW: chrono::Duration = chrono::Duration::seconds(30);

#[derive(Clone)]
pub(super) enum TokenState {
    Ready(UserCredentials),
    /// The author must reconnect; the reason is kept with the message.
    Held(String),
    /// No usable token right now (a refresh failed transiently): retry later.
    Unavailable(String),
}

pub(super) struct Slot {
    author: Author,
    state: TokenState,
    /// Set once this batch has refreshed (or tried to refresh) the token.
    refreshed: bool,
    /// Set once the author's credentials were found dead and recorded so.
    invalidated: bool,
}

/// An author's slot, with the first claimed message that names them.
pub(super) type FirstOfAuthor = (Arc<Mutex<Slot>>, ClaimedMessage);

/// One slot per author in the batch.
pub(super) struct AuthorTokens {
    slots: HashMap<i64, Arc<Mutex<Slot>>>,
}

impl AuthorTokens {
    pub(super) fn for_batch(batch: &[ClaimedMessage]) -> (Self, Vec<FirstOfAuthor>) {
        let mut slots: HashMap<i64, Arc<Mutex<Slot>>> = HashMap::new();
        let mut firsts = Vec::new();
        for message in batch {
            slots.entry(message.author.id).or_insert_with(|| {
                let slot = Arc::new(Mutex::new(Slot {
                    author: message.author.clone(),
                    state: TokenState::Unavailable("unresolved".into()),
                    refreshed: false,
                    invalidated: false,
                }));
                firsts.push((slot.clone(), message.clone()));
                slot
            });
        }
        (Self { slots }, firsts)
    }

    pub(super) fn slot(&self, author_id: i64) -> Option<Arc<Mutex<Slot>>> {
        self.slots.get(&author_id).cloned()
    }
}

impl Slot {
    pub(super) fn state(&self) -> &TokenState {
        &self.state
    }
}

fn same_token(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}

impl Scheduler {
    /// Resolves an author's token before their first post of the batch:
    /// refreshes it ahead of expiry when this runner may.
    pub(super) async fn prepare_token(
        &self,
        slot: &Mutex<Slot>,
        claimed: &ClaimedMessage,
        now: DateTime<Utc>,
    ) {
        let mut slot = slot.lock().await;
        slot.state = match (claimed.token_status, &claimed.credentials) {
            (TokenStatus::Invalid, _) => TokenState::Held(CREDENTIALS_INVALID.into()),
            (TokenStatus::None, _) | (_, None) => TokenState::Held(NOT_CONNECTED.into()),
            (TokenStatus::Active, Some(creds)) => {
                let margin =
                    chrono::Duration::from_std(self.settings.refresh_margin).unwrap_or_default();
                let expired = creds.expires_before(now + EXPIRY_SKEW);
                if !creds.expires_before(now + margin) {
                    TokenState::Ready(creds.clone())
                } else if let Some(refresh) = creds
                    .refresh_token
                    .clone()
                    .filter(|_| claimed.refresh_lock_held)
                {
                    slot.refreshed = true;
                    match self.refresh_and_store(&slot.author, &refresh, now).await {
                        TokenState::Unavailable(_) if !expired => TokenState::Ready(creds.clone()),
                        state => state,
                    }
                } else if !expired {
                    // Another runner is refreshing it (or it cannot be
                    // refreshed): the current token still works for now.
                    TokenState::Ready(creds.clone())
                } else if creds.refresh_token.is_none() {
                    TokenState::Held(TOKEN_EXPIRED.into())
                } else {
                    slot.refreshed = true;
                    self.await_other_refresh(&slot.author).await
                }
            }
        };
    }

    /// Slack answered `token_expired` to `used`: refresh once and hand out
    /// the new token; a second rejection in the same batch is not retried.
    pub(super) async fn token_after_rejection(
        &self,
        slot: &Mutex<Slot>,
        used: &SecretString,
    ) -> TokenState {
        let mut slot = slot.lock().await;
        if let TokenState::Ready(creds) = &slot.state
            && !same_token(&creds.access_token, used)
        {
            return slot.state.clone();
        }
        if slot.refreshed {
            return TokenState::Held(TOKEN_EXPIRED.into());
        }
        slot.refreshed = true;
        let refresh = match &slot.state {
            TokenState::Ready(UserCredentials {
                refresh_token: Some(r),
                ..
            }) => r.clone(),
            _ => {
                slot.state = TokenState::Held(TOKEN_EXPIRED.into());
                return slot.state.clone();
            }
        };
        let now = Utc::now();
        let lock_until =
            now + chrono::Duration::from_std(self.settings.refresh_lock).unwrap_or_default();
        let anytime = now + chrono::Duration::days(3650);
        slot.state = match self
            .store
            .lock_user_refresh(slot.author.id, now, lock_until, anytime)
            .await
        {
            Ok(true) => self.refresh_and_store(&slot.author, &refresh, now).await,
            Ok(false) => self.await_other_refresh(&slot.author).await,
            Err(err) => TokenState::Unavailable(format!("database: {err}")),
        };
        slot.state.clone()
    }

    /// Slack refused the author's token outright: forget it (once) and hold.
    pub(super) async fn credentials_refused(&self, slot: &Mutex<Slot>, reason: &str) -> TokenState {
        let mut slot = slot.lock().await;
        if !slot.invalidated {
            slot.invalidated = true;
            if let Err(err) = self
                .store
                .invalidate_user_credentials(slot.author.id, reason, Utc::now())
                .await
            {
                tracing::error!(author_id = slot.author.id, error = %err, "cannot record refused credentials");
            }
            tracing::warn!(
                author_id = slot.author.id,
                reason,
                "author's credentials refused; holding their messages"
            );
        }
        slot.state = TokenState::Held(reason.to_owned());
        slot.state.clone()
    }

    async fn refresh_and_store(
        &self,
        author: &Author,
        refresh: &SecretString,
        now: DateTime<Utc>,
    ) -> TokenState {
        match self.oauth.refresh(refresh, now).await {
            Ok(grant) => {
                telemetry::record_token_refresh("user", "ok");
                let save = || self.store.store_user_tokens(author, &grant, now);
                let saved = save
                    .retry(
                        ExponentialBuilder::default()
                            .with_min_delay(Duration::from_millis(100))
                            .with_max_times(3),
                    )
                    .sleep(tokio::time::sleep)
                    .await;
                if let Err(err) = saved {
                    // Slack has already retired the old refresh token: this
                    // batch still posts with the new pair, but unless a later
                    // write succeeds the author will have to reconnect.
                    tracing::error!(author_id = author.id, error = %err, "cannot save a refreshed token pair");
                }
                TokenState::Ready(credentials(grant))
            }
            Err(err) if err.is_refusal() => {
                telemetry::record_token_refresh("user", "refused");
                let reason = err.reason();
                if let Err(db) = self
                    .store
                    .invalidate_user_credentials(author.id, &reason, now)
                    .await
                {
                    tracing::error!(author_id = author.id, error = %db, "cannot record a refused refresh");
                }
                tracing::warn!(author_id = author.id, reason = %reason, "token refresh refused; holding the author's messages");
                TokenState::Held(reason)
            }
            Err(err) => {
                telemetry::record_token_refresh("user", "error");
                tracing::warn!(author_id = author.id, error = %err, "token refresh failed; will retry");
                TokenState::Unavailable(err.reason())
            }
        }
    }

    /// Another runner holds the refresh right: wait for its new token, or,
    /// if its right runs out (it died), take over.
    async fn await_other_refresh(&self, author: &Author) -> TokenState {
        let deadline =
            tokio::time::Instant::now() + self.settings.refresh_lock + Duration::from_secs(1);
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = Utc::now();
            match self.store.user_by_id(author.id).await {
                Ok(Some(user)) => match (user.token_status, user.credentials) {
                    (TokenStatus::Active, Some(creds))
                        if !creds.expires_before(now + EXPIRY_SKEW) =>
                    {
                        return TokenState::Ready(creds);
                    }
                    (TokenStatus::Invalid, _) => {
                        return TokenState::Held(
                            user.token_problem
                                .unwrap_or_else(|| CREDENTIALS_INVALID.into()),
                        );
                    }
                    (TokenStatus::None, _) => return TokenState::Held(NOT_CONNECTED.into()),
                    (TokenStatus::Active, creds) => {
                        if tokio::time::Instant::now() < deadline {
                            continue;
                        }
                        let lock_until = now
                            + chrono::Duration::from_std(self.settings.refresh_lock)
                                .unwrap_or_default();
                        let refresh = creds.and_then(|c| c.refresh_token);
                        return match (
                            refresh,
                            self.store
                                .lock_user_refresh(author.id, now, lock_until, now + EXPIRY_SKEW)
                                .await,
                        ) {
                            (Some(refresh), Ok(true)) => {
                                self.refresh_and_store(author, &refresh, now).await
                            }
                            _ => TokenState::Unavailable("token_refresh_pending".into()),
                        };
                    }
                },
                Ok(None) => return TokenState::Held(NOT_CONNECTED.into()),
                Err(err) => return TokenState::Unavailable(format!("database: {err}")),
            }
        }
    }
}

fn credentials(grant: TokenGrant) -> UserCredentials {
    UserCredentials {
        access_token: grant.access_token,
        refresh_token: grant.refresh_token,
        expires_at: grant.expires_at,
    }
}
