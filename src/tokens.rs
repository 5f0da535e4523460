//! Refreshing rotating token pairs, users' and bots' alike.
//!
//! Slack's refresh tokens work once, and its answer to a refresh is the only
//! copy of the new pair. So a refresh, once sent, runs to the end on a task
//! of its own and stores what it got, whoever stops waiting for it (a
//! slash command's short budget, a cycle shutting down); a pair that cannot
//! be stored is kept in memory, used, and stored again until it sticks, and
//! never traded for a second refresh with the spent token. Across
//! processes, the right to refresh is a lease on the row ([`Store::take_refresh_right`]),
//! renewed while the call to Slack lasts; in this process, one refresh per
//! pair at a time, shared by everyone who needs it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::{BoxFuture, FutureExt, Shared};

use crate::clock::Clock;
use crate::slack::SlackOAuth;
use crate::store::{
    RefreshRight, RefreshTake, Store, TokenGrant, TokenOwner, TokenStatus, UserCredentials,
};
use crate::telemetry;

/// How a refresh ended.
#[derive(Debug, Clone)]
pub enum Refreshed {
    /// A usable pair: the new one, or one someone else stored meanwhile.
    Fresh {
        credentials: UserCredentials,
        generation: i64,
    },
    /// Slack refused: the owner must connect again (`reason` says why).
    Refused(String),
    /// Not now (Slack or the database failing, another refresh still
    /// running): try again later.
    Failed(String),
}

/// Why waiting for someone else's refresh gave up.
pub const REFRESH_PENDING: &str = "token_refresh_pending";
/// The database failed while a refresh was prepared or awaited.
pub const DATABASE_ERROR: &str = "database_error";

type Inflight = Shared<BoxFuture<'static, Refreshed>>;

/// Refreshes token pairs; cheap to clone, one per process.
#[derive(Clone)]
pub struct Refresher {
    inner: Arc<Inner>,
    /// The handle this refresher's statements run through (the delivery
    /// cycle counts its own).
    store: Store,
}

struct Inner {
    oauth: SlackOAuth,
    /// Leases are reckoned in the database's time.
    clock: Arc<Clock>,
    /// How long a refresh right lasts without renewal.
    lease: Duration,
    inflight: Mutex<HashMap<TokenOwner, Inflight>>,
    /// Pairs Slack handed out that the database has not taken yet.
    unsaved: Mutex<HashMap<TokenOwner, (i64, TokenGrant)>>,
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher")
            .field("lease", &self.inner.lease)
            .finish_non_exhaustive()
    }
}

/// Retries of a failed store of a new pair before it is left to the
/// background; the background tries again every [`STORE_RETRY_PAUSE`].
const STORE_TRIES: usize = 5;
const STORE_RETRY_PAUSE: Duration = Duration::from_secs(2);

impl Refresher {
    pub fn new(store: Store, oauth: SlackOAuth, lease: Duration) -> Self {
        Self::with_clock(store, oauth, lease, Clock::system())
    }

    /// A refresher reckoning its leases with `clock` (shared with the
    /// delivery cycle, which keeps it in step with the database).
    pub fn with_clock(store: Store, oauth: SlackOAuth, lease: Duration, clock: Arc<Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                oauth,
                clock,
                lease,
                inflight: Mutex::default(),
                unsaved: Mutex::default(),
            }),
            store,
        }
    }

    pub fn clock(&self) -> Arc<Clock> {
        self.inner.clock.clone()
    }

    /// The same refresher (one refresh per pair, one memory of unsaved
    /// pairs), its statements run through `store`.
    pub fn through(&self, store: &Store) -> Self {
        Self {
            inner: self.inner.clone(),
            store: store.clone(),
        }
    }

    /// A pair refreshed by this process that the database has not stored
    /// yet: use it rather than the stored one, whose refresh token is spent.
    pub fn unsaved_pair(&self, owner: &TokenOwner) -> Option<(i64, UserCredentials)> {
        let unsaved = self.inner.unsaved.lock().ok()?;
        unsaved
            .get(owner)
            .map(|(generation, grant)| (*generation + 1, credentials(grant)))
    }

    /// Refreshes `owner`'s pair with a right already taken (the claim takes
    /// it on PostgreSQL). Joins a refresh of the same pair already running.
    pub async fn refresh_with(&self, owner: &TokenOwner, right: RefreshRight) -> Refreshed {
        self.start(owner, Plan::Holding(right)).await
    }

    /// Refreshes `owner`'s pair of `generation` if nobody else is, else
    /// waits up to `wait` for theirs. The pair is re-read when the right is
    /// taken, so a pair refreshed meanwhile is used, not refreshed again.
    /// The work runs on its own task: a caller may stop waiting at any time.
    pub async fn refresh(&self, owner: &TokenOwner, generation: i64, wait: Duration) -> Refreshed {
        if let Some((generation, credentials)) = self.unsaved_pair(owner) {
            return Refreshed::Fresh {
                credentials,
                generation,
            };
        }
        self.start(owner, Plan::Take { generation, wait }).await
    }

    /// Starts the work on its own task, or joins the one running.
    fn start(&self, owner: &TokenOwner, plan: Plan) -> Inflight {
        let Ok(mut inflight) = self.inner.inflight.lock() else {
            return async { Refreshed::Failed("internal_error".into()) }
                .boxed()
                .shared();
        };
        if let Some(running) = inflight.get(owner) {
            return running.clone();
        }
        let inner = self.inner.clone();
        let store = self.store.clone();
        let task_owner = owner.clone();
        let handle = tokio::spawn(async move {
            let result = match plan {
                Plan::Holding(right) => inner.run(&store, &task_owner, right).await,
                Plan::Take { generation, wait } => {
                    inner
                        .take_and_run(&store, &task_owner, generation, wait)
                        .await
                }
            };
            if let Ok(mut inflight) = inner.inflight.lock() {
                inflight.remove(&task_owner);
            }
            result
        });
        let shared = async move {
            handle
                .await
                .unwrap_or_else(|_| Refreshed::Failed("internal_error".into()))
        }
        .boxed()
        .shared();
        inflight.insert(owner.clone(), shared.clone());
        shared
    }
}

/// What a refresh task starts from.
enum Plan {
    /// The right is already ours.
    Holding(RefreshRight),
    /// Take the right for this generation, or wait this long for whoever has it.
    Take { generation: i64, wait: Duration },
}

impl Inner {
    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.lease).unwrap_or_default()
    }

    async fn take_and_run(
        self: &Arc<Self>,
        store: &Store,
        owner: &TokenOwner,
        generation: i64,
        wait: Duration,
    ) -> Refreshed {
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = Duration::from_millis(50);
        loop {
            let now = self.clock.now();
            let take = store
                .take_refresh_right(owner, Some(generation), now, now + self.lease())
                .await;
            match take {
                Ok(RefreshTake::Taken(right)) => return self.run(store, owner, right).await,
                Ok(RefreshTake::Gone) => return current(store, owner).await,
                Ok(RefreshTake::Busy { generation: stored }) if stored != generation => {
                    // Someone stored a newer pair: that is the one to use.
                    return current(store, owner).await;
                }
                Ok(RefreshTake::Busy { .. }) => {}
                Err(err) => {
                    tracing::warn!(owner = owner.kind(), error = %err, "cannot take a refresh right");
                    return Refreshed::Failed(DATABASE_ERROR.into());
                }
            }
            // Another process is refreshing it: its pair will appear.
            if tokio::time::Instant::now() + pause > deadline {
                return Refreshed::Failed(REFRESH_PENDING.into());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    async fn run(
        self: &Arc<Self>,
        store: &Store,
        owner: &TokenOwner,
        right: RefreshRight,
    ) -> Refreshed {
        let kind = owner.kind();
        let asked_at = self.clock.now();
        let refresh = self.oauth.refresh(&right.refresh_token, asked_at);
        let answer = tokio::select! {
            answer = refresh => answer,
            () = self.keep_right(store, owner, right.generation) => unreachable_heartbeat(),
        };
        match answer {
            Ok(grant) => {
                telemetry::record_token_refresh(kind, "ok");
                self.save(store, owner, right.generation, grant.clone())
                    .await;
                Refreshed::Fresh {
                    credentials: credentials(&grant),
                    generation: right.generation + 1,
                }
            }
            Err(err) if err.is_refusal() => {
                telemetry::record_token_refresh(kind, "refused");
                let reason = err.reason();
                match store
                    .refuse_pair(owner, right.generation, &reason, self.clock.now())
                    .await
                {
                    Ok(true) => {
                        tracing::warn!(owner = kind, reason = %reason, "token refresh refused; the owner must reconnect")
                    }
                    Ok(false) => {
                        tracing::info!(owner = kind, reason = %reason, "token refresh refused for a pair already replaced")
                    }
                    Err(db) => {
                        tracing::error!(owner = kind, error = %db, "cannot record a refused refresh")
                    }
                }
                Refreshed::Refused(reason)
            }
            Err(err) => {
                telemetry::record_token_refresh(kind, "error");
                tracing::warn!(owner = kind, error = %err, "token refresh failed; will retry");
                if let Err(db) = store.release_refresh_right(owner, right.generation).await {
                    tracing::warn!(owner = kind, error = %db, "cannot release a refresh right");
                }
                Refreshed::Failed(err.reason())
            }
        }
    }

    /// Renews the refresh right while the call to Slack lasts. Never returns.
    async fn keep_right(&self, store: &Store, owner: &TokenOwner, generation: i64) {
        let every = self.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let until =
                self.clock.now() + chrono::Duration::from_std(self.lease).unwrap_or_default();
            match store.renew_refresh_right(owner, generation, until).await {
                Ok(true) => {}
                // SQLite's single process takes no right in the database.
                Ok(false) => tracing::debug!(owner = owner.kind(), "no refresh right to renew"),
                Err(err) => {
                    tracing::warn!(owner = owner.kind(), error = %err, "cannot renew a refresh right")
                }
            }
        }
    }

    /// Stores a new pair; on failure keeps it in memory and keeps trying.
    async fn save(
        self: &Arc<Self>,
        store: &Store,
        owner: &TokenOwner,
        generation: i64,
        grant: TokenGrant,
    ) {
        let mut pause = Duration::from_millis(100);
        for _ in 0..STORE_TRIES {
            match try_save(store, owner, generation, &grant).await {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(owner = owner.kind(), error = %err, "cannot store a refreshed token pair; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
        tracing::error!(
            owner = owner.kind(),
            "a refreshed token pair is not stored yet; it is kept and stored again until the database takes it"
        );
        if let Ok(mut unsaved) = self.unsaved.lock() {
            unsaved.insert(owner.clone(), (generation, grant.clone()));
        }
        let inner = self.clone();
        let (store, owner) = (store.clone(), owner.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(STORE_RETRY_PAUSE).await;
                if try_save(&store, &owner, generation, &grant).await.is_ok() {
                    if let Ok(mut unsaved) = inner.unsaved.lock() {
                        unsaved.remove(&owner);
                    }
                    tracing::info!(
                        owner = owner.kind(),
                        "a refreshed token pair is stored at last"
                    );
                    return;
                }
            }
        });
    }
}

/// The stored pair, as it is now.
async fn current(store: &Store, owner: &TokenOwner) -> Refreshed {
    let read = match owner {
        TokenOwner::User { id, .. } => store.user_by_id(*id).await.map(|user| {
            user.map(|u| match (u.token_status, u.credentials) {
                (TokenStatus::Active, Some(c)) => Refreshed::Fresh {
                    credentials: c,
                    generation: u.token_generation,
                },
                _ => Refreshed::Refused(
                    u.token_problem
                        .unwrap_or_else(|| "credentials_invalid".into()),
                ),
            })
        }),
        TokenOwner::Bot { team_id } => store.workspace(team_id).await.map(|workspace| {
            workspace.map(|w| match w.bot {
                Some(c) => Refreshed::Fresh {
                    credentials: c,
                    generation: w.bot_token_generation,
                },
                None => Refreshed::Refused("app_uninstalled".into()),
            })
        }),
    };
    match read {
        Ok(Some(refreshed)) => refreshed,
        Ok(None) => Refreshed::Refused("not_connected".into()),
        Err(err) => {
            tracing::warn!(owner = owner.kind(), error = %err, "cannot read a token pair");
            Refreshed::Failed(DATABASE_ERROR.into())
        }
    }
}

async fn try_save(
    store: &Store,
    owner: &TokenOwner,
    generation: i64,
    grant: &TokenGrant,
) -> Result<(), crate::store::StoreError> {
    let stored = store
        .store_refreshed_pair(owner, generation, grant, Utc::now())
        .await?;
    if !stored {
        tracing::info!(
            owner = owner.kind(),
            "the pair was replaced while it was refreshed; keeping the newer one"
        );
    }
    Ok(())
}

fn unreachable_heartbeat() -> Result<TokenGrant, crate::slack::OAuthError> {
    Err(crate::slack::OAuthError::Transport(
        "the refresh right's renewal stopped".into(),
    ))
}

fn credentials(grant: &TokenGrant) -> UserCredentials {
    UserCredentials {
        access_token: grant.access_token.clone(),
        refresh_token: grant.refresh_token.clone(),
        expires_at: grant.expires_at,
    }
}

/// Whether a pair that expires at `expires_at` should be refreshed before
/// use at `now`: Slack's SDKs refresh when under `margin` remains.
pub fn needs_refresh(
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    margin: Duration,
) -> bool {
    let margin = chrono::Duration::from_std(margin).unwrap_or_default();
    expires_at.is_some_and(|at| at <= now + margin)
}
