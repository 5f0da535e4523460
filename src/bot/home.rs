//! What a user's Home tab shows, read from the store: their series with
//! their next occurrences, the messages waiting (for their time, or for
//! them), and the delivery record of recent ones, each sent message with
//! its permalink (asked of Slack once, then kept).

use chrono::Utc;

use super::{Bot, BotError};
use crate::domain::MessageStatus;
use crate::slack::blocks::{self, HomeSpec, SeriesView};
use crate::store::{MessageRecord, TokenStatus};

/// Next occurrences previewed per series.
pub const PREVIEWED: usize = 5;

impl Bot {
    /// Everything the Home tab shows `user_id`.
    pub(super) async fn home_spec(
        &self,
        team_id: &str,
        user_id: &str,
    ) -> Result<HomeSpec, BotError> {
        let now = Utc::now();
        let store = &self.store;
        let author = store.ensure_user(team_id, user_id, now).await?;
        let user = store.user_by_id(author.id).await?;
        let tz = self.user_zone(team_id, user_id).await?;
        let (connect_url, connect_problem) = match user
            .as_ref()
            .map(|u| (u.token_status, u.token_problem.clone()))
        {
            Some((TokenStatus::Active, _)) => (None, None),
            Some((_, problem)) => (Some(self.connect_url(team_id)), problem),
            None => (Some(self.connect_url(team_id)), None),
        };
        let recent = async |status: MessageStatus| {
            store
                .author_messages(author.id, &[status], blocks::HOME_RECENT as i64, true)
                .await
        };
        let mut sent = recent(MessageStatus::Sent).await?;
        self.fill_permalinks(team_id, &mut sent).await;
        let series = store
            .author_series(author.id, blocks::HOME_SERIES as i64)
            .await?
            .into_iter()
            .map(|record| SeriesView::of(record, now, PREVIEWED))
            .collect();
        Ok(HomeSpec {
            counts: store.author_counts(author.id).await?,
            series,
            upcoming: store
                .author_messages(
                    author.id,
                    &[MessageStatus::Pending, MessageStatus::Sending],
                    blocks::HOME_UPCOMING as i64,
                    false,
                )
                .await?,
            held: store
                .author_messages(
                    author.id,
                    &[MessageStatus::Held],
                    blocks::HOME_HELD as i64,
                    false,
                )
                .await?,
            sent,
            failed: recent(MessageStatus::Failed).await?,
            skipped: recent(MessageStatus::Skipped).await?,
            tz,
            now,
            connect_url,
            connect_problem,
        })
    }

    /// Asks Slack where sent messages are (`chat.getPermalink`, with the
    /// bot's token, which needs no scope) for those not asked yet, and keeps
    /// the answers. Best effort: a message without one is shown without a link.
    pub(crate) async fn fill_permalinks(&self, team_id: &str, messages: &mut [MessageRecord]) {
        if messages
            .iter()
            .all(|m| m.permalink.is_some() || m.slack_ts.is_none())
        {
            return;
        }
        let token = match self.token(team_id).await {
            Ok(token) => token,
            Err(err) => {
                tracing::debug!(error = %err, "no bot token to ask for permalinks");
                return;
            }
        };
        for message in messages.iter_mut().filter(|m| m.permalink.is_none()) {
            let Some(ts) = message.slack_ts.as_deref() else {
                continue;
            };
            match self
                .slack
                .permalink(&token, team_id, &message.channel_id, ts)
                .await
            {
                Ok(link) => {
                    if let Err(err) = self.store.set_permalink(message.id, &link).await {
                        tracing::warn!(error = %err, "cannot keep a permalink");
                    }
                    message.permalink = Some(link);
                }
                Err(err) => {
                    tracing::debug!(message_id = message.id, error = %err, "no permalink for a sent message");
                }
            }
        }
    }
}
