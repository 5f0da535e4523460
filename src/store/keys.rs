//! The sealed tokens as a whole, for the key's start-up check and for
//! `rotate-key`: read them a page at a time, tell which open and which are
//! sealed with an older key, and re-seal one row without overwriting a
//! value another process wrote meanwhile.

use super::tokens::TokenOwner;
use super::users::token_context;
use super::workspaces::bot_context;
use super::{Store, StoreError, on_db};

/// A user's or a workspace's sealed pair, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedPair {
    pub owner: TokenOwner,
    pub access: Option<Vec<u8>>,
    pub refresh: Option<Vec<u8>>,
}

/// The associated data a sealed value of `owner` is bound to.
fn context(owner: &TokenOwner, kind: &str) -> String {
    match owner {
        TokenOwner::User {
            team_id, user_id, ..
        } => token_context(team_id, user_id, kind),
        TokenOwner::Bot { team_id } => bot_context(team_id, kind),
    }
}

/// `user U1 of T1` or `bot of T1`, for the operator.
fn describe(owner: &TokenOwner) -> String {
    match owner {
        TokenOwner::User {
            team_id, user_id, ..
        } => format!("user {user_id} of {team_id}"),
        TokenOwner::Bot { team_id } => format!("bot of {team_id}"),
    }
}

/// What the key can do with the stored tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenAudit {
    /// Sealed values (each access and each refresh token counts once).
    pub total: u64,
    pub unreadable: u64,
    /// Readable, but not sealed with the first key (what `rotate-key` re-seals).
    pub stale: u64,
    /// The first few unreadable ones, e.g. `user U1 of T1: refresh`.
    pub examples: Vec<String>,
}

/// What one re-sealing pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Values now sealed with the first key.
    pub resealed: u64,
    pub already_current: u64,
    /// Rows refreshed or reconnected between the read and the write: left as
    /// the other writer left them, for the next pass to look at.
    pub changed_meanwhile: u64,
    pub unreadable: u64,
}

/// What re-sealing one pair found.
enum Resealed {
    Current,
    Written(u64),
    Changed,
    Unreadable,
}

const EXAMPLES: usize = 3;

/// Where a walk over every sealed token has got to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCursor {
    /// Users with a row id above this one are next.
    Users(i64),
    /// Then workspaces with a team id above this one.
    Bots(String),
    Done,
}

impl Default for TokenCursor {
    fn default() -> Self {
        Self::Users(0)
    }
}

#[derive(sqlx::FromRow)]
struct UserPairRow {
    id: i64,
    team_id: String,
    user_id: String,
    access_token: Option<Vec<u8>>,
    refresh_token: Option<Vec<u8>>,
}

#[derive(sqlx::FromRow)]
struct BotPairRow {
    team_id: String,
    bot_access_token: Option<Vec<u8>>,
    bot_refresh_token: Option<Vec<u8>>,
}

impl Store {
    /// Users' pairs with a row id above `after`, in id order.
    pub async fn user_token_page(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<SealedPair>, StoreError> {
        let rows: Vec<UserPairRow> = on_db!(self, |pool| sqlx::query_as(
            "SELECT id, team_id, user_id, access_token, refresh_token FROM users
             WHERE id > $1 AND (access_token IS NOT NULL OR refresh_token IS NOT NULL)
             ORDER BY id LIMIT $2"
        )
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|r| SealedPair {
                owner: TokenOwner::User {
                    id: r.id,
                    team_id: r.team_id,
                    user_id: r.user_id,
                },
                access: r.access_token,
                refresh: r.refresh_token,
            })
            .collect())
    }

    /// Workspaces' bot pairs with a team id above `after`, in team id order.
    pub async fn bot_token_page(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<SealedPair>, StoreError> {
        let rows: Vec<BotPairRow> = on_db!(self, |pool| sqlx::query_as(
            "SELECT team_id, bot_access_token, bot_refresh_token FROM workspaces
             WHERE team_id > $1 AND (bot_access_token IS NOT NULL OR bot_refresh_token IS NOT NULL)
             ORDER BY team_id LIMIT $2"
        )
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|r| SealedPair {
                owner: TokenOwner::Bot { team_id: r.team_id },
                access: r.bot_access_token,
                refresh: r.bot_refresh_token,
            })
            .collect())
    }

    /// The next page of pairs after `cursor` (users first, then bots), or
    /// `None` when every row has been read.
    pub async fn next_token_page(
        &self,
        cursor: &mut TokenCursor,
        page: i64,
    ) -> Result<Option<Vec<SealedPair>>, StoreError> {
        loop {
            let pairs = match cursor {
                TokenCursor::Done => return Ok(None),
                TokenCursor::Users(after) => {
                    let pairs = self.user_token_page(*after, page).await?;
                    *cursor = match pairs.last() {
                        Some(SealedPair {
                            owner: TokenOwner::User { id, .. },
                            ..
                        }) if pairs.len() as i64 == page => TokenCursor::Users(*id),
                        _ => TokenCursor::Bots(String::new()),
                    };
                    pairs
                }
                TokenCursor::Bots(after) => {
                    let pairs = self.bot_token_page(after, page).await?;
                    *cursor = match pairs.last() {
                        Some(SealedPair {
                            owner: TokenOwner::Bot { team_id },
                            ..
                        }) if pairs.len() as i64 == page => TokenCursor::Bots(team_id.clone()),
                        _ => TokenCursor::Done,
                    };
                    pairs
                }
            };
            if !pairs.is_empty() {
                return Ok(Some(pairs));
            }
        }
    }

    /// Tries every stored token with this store's key, `page` rows a read.
    pub async fn audit_tokens(&self, page: i64) -> Result<TokenAudit, StoreError> {
        let mut audit = TokenAudit::default();
        let mut cursor = TokenCursor::default();
        while let Some(pairs) = self.next_token_page(&mut cursor, page).await? {
            for pair in &pairs {
                for (kind, sealed) in [("access", &pair.access), ("refresh", &pair.refresh)] {
                    let Some(sealed) = sealed else { continue };
                    audit.total += 1;
                    if self
                        .cipher
                        .open(sealed, &context(&pair.owner, kind))
                        .is_err()
                    {
                        audit.unreadable += 1;
                        if audit.examples.len() < EXAMPLES {
                            audit
                                .examples
                                .push(format!("{}: {kind}", describe(&pair.owner)));
                        }
                    } else if !self.cipher.is_current(sealed) {
                        audit.stale += 1;
                    }
                }
            }
        }
        Ok(audit)
    }

    /// One pass over every token: re-seals with the first key whatever is
    /// sealed with another, `page` rows a read, one statement per row.
    pub async fn reseal_tokens(&self, page: i64) -> Result<ResealReport, StoreError> {
        let mut report = ResealReport::default();
        let mut cursor = TokenCursor::default();
        while let Some(pairs) = self.next_token_page(&mut cursor, page).await? {
            for pair in &pairs {
                let values = u64::from(pair.access.is_some()) + u64::from(pair.refresh.is_some());
                match self.reseal_pair(pair).await? {
                    Resealed::Current => report.already_current += values,
                    Resealed::Written(n) => {
                        report.resealed += n;
                        report.already_current += values - n;
                    }
                    Resealed::Changed => report.changed_meanwhile += 1,
                    Resealed::Unreadable => report.unreadable += 1,
                }
            }
        }
        Ok(report)
    }

    /// Re-seals one pair, written only if the row still holds exactly the
    /// bytes that were read: a refresh that landed meanwhile stored a newer
    /// token, and must not be overwritten with the old one re-sealed.
    async fn reseal_pair(&self, pair: &SealedPair) -> Result<Resealed, StoreError> {
        let mut written = 0;
        let mut reseal = |kind: &str, sealed: &Option<Vec<u8>>| -> Option<Option<Vec<u8>>> {
            let Some(sealed) = sealed else {
                return Some(None);
            };
            if self.cipher.is_current(sealed) {
                return Some(Some(sealed.clone()));
            }
            let context = context(&pair.owner, kind);
            let secret = self.cipher.open(sealed, &context).ok()?;
            written += 1;
            Some(Some(self.cipher.seal(&secret, &context)))
        };
        let (Some(access), Some(refresh)) = (
            reseal("access", &pair.access),
            reseal("refresh", &pair.refresh),
        ) else {
            return Ok(Resealed::Unreadable);
        };
        if written == 0 {
            return Ok(Resealed::Current);
        }
        let changed = match &pair.owner {
            TokenOwner::User { id, .. } => on_db!(self, |pool| sqlx::query(
                "UPDATE users SET access_token = $2, refresh_token = $3
                 WHERE id = $1
                   AND (access_token = $4 OR (access_token IS NULL AND $4 IS NULL))
                   AND (refresh_token = $5 OR (refresh_token IS NULL AND $5 IS NULL))"
            )
            .bind(id)
            .bind(&access)
            .bind(&refresh)
            .bind(&pair.access)
            .bind(&pair.refresh)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?,
            TokenOwner::Bot { team_id } => on_db!(self, |pool| sqlx::query(
                "UPDATE workspaces SET bot_access_token = $2, bot_refresh_token = $3
                 WHERE team_id = $1
                   AND (bot_access_token = $4 OR (bot_access_token IS NULL AND $4 IS NULL))
                   AND (bot_refresh_token = $5 OR (bot_refresh_token IS NULL AND $5 IS NULL))"
            )
            .bind(team_id)
            .bind(&access)
            .bind(&refresh)
            .bind(&pair.access)
            .bind(&pair.refresh)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?,
        };
        Ok(if changed == 1 {
            Resealed::Written(written)
        } else {
            Resealed::Changed
        })
    }

    /// Re-seals one pair read earlier with [`Store::user_token_page`] or
    /// [`Store::bot_token_page`]; `false` when the row changed since, and
    /// nothing was written. Lets tests interleave another writer.
    pub async fn reseal_one(&self, pair: &SealedPair) -> Result<bool, StoreError> {
        Ok(matches!(
            self.reseal_pair(pair).await?,
            Resealed::Written(_) | Resealed::Current
        ))
    }
}
