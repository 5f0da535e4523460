//! A series' buttons: skip an occurrence, edit the whole series, pause,
//! resume, cancel. Each is checked in the store: only the author's own
//! series, in their own workspace.

use chrono::{DateTime, Utc};

use super::SharedState;
use super::buttons::{Refusal, refusal, written_as};
use super::scheduling::author;
use crate::slack::blocks::{self, ModalMode, ModalSpec, RepeatSpec};
use crate::store::ChangeError;

/// An occurrence as a button names it: `<series id>:<due, Unix seconds>`.
pub(super) fn occurrence_ref(value: &str) -> Option<(i64, DateTime<Utc>)> {
    let (series, at) = value.split_once(':')?;
    let series = series.parse().ok()?;
    let at = DateTime::from_timestamp(at.parse().ok()?, 0)?;
    Some((series, at))
}

pub(super) async fn skip(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
    series_id: i64,
    at: DateTime<Utc>,
) -> Result<(), Refusal> {
    let (author, _) = author(app, team_id, user_id).await?;
    app.store
        .skip_occurrence(series_id, author.id, at, Utc::now())
        .await
        .map_err(refusal)?;
    tracing::info!(series_id, at = %at, "occurrence skipped by its author");
    Ok(())
}

pub(super) async fn pause(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
    id: i64,
) -> Result<(), Refusal> {
    let (author, _) = author(app, team_id, user_id).await?;
    app.store
        .pause_series(id, author.id, Utc::now())
        .await
        .map_err(refusal)?;
    tracing::info!(series_id = id, "series paused by its author");
    Ok(())
}

pub(super) async fn resume(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
    id: i64,
) -> Result<(), Refusal> {
    let (author, _) = author(app, team_id, user_id).await?;
    app.store
        .resume_series(id, author.id, Utc::now())
        .await
        .map_err(refusal)?;
    tracing::info!(series_id = id, "series resumed by its author");
    Ok(())
}

pub(super) async fn cancel(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
    id: i64,
) -> Result<(), Refusal> {
    let (author, _) = author(app, team_id, user_id).await?;
    app.store
        .cancel_series(id, author.id, Utc::now())
        .await
        .map_err(refusal)?;
    tracing::info!(series_id = id, "series cancelled by its author");
    Ok(())
}

/// Opens the modal on the whole series: its message, destination, next
/// time and rule.
pub(super) async fn open_edit(
    app: &SharedState,
    team_id: &str,
    user_id: &str,
    id: i64,
    trigger: Option<&str>,
) -> Result<(), Refusal> {
    let (author, connect_url) = author(app, team_id, user_id).await?;
    let Some(series) = app
        .store
        .series(id)
        .await?
        .filter(|s| s.author_id == author.id)
    else {
        return Err(Refusal::Change(ChangeError::NotFound));
    };
    let Some(trigger) = trigger else {
        return Ok(());
    };
    let now = Utc::now();
    let after = series
        .last_due_at
        .map_or(now, |last| (last - chrono::Duration::seconds(1)).max(now));
    let due = series
        .schedule()
        .next_after(after)
        .unwrap_or_else(|| blocks::next_full_hour(now, series.tz));
    let mut spec = ModalSpec::new(due);
    spec.mode = ModalMode::EditSeries(id);
    spec.channel = Some(series.channel_id.clone());
    spec.message = Some(written_as(id, &series.text, series.rich_text.as_deref()));
    spec.repeat = RepeatSpec::of(&series.recurrence);
    spec.conditions = series.options.conditions;
    spec.in_thread = series.options.thread_ts.is_some();
    spec.reply_broadcast = series.options.reply_broadcast;
    spec.connect_url = connect_url;
    app.bot
        .open_view(team_id, trigger, blocks::schedule_modal(&spec))
        .await?;
    Ok(())
}
