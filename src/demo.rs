//! `slack-scheduler demo`: filled in with the Slack surface.

use crate::config::Config;

pub async fn run(_config: &Config) -> anyhow::Result<()> {
    anyhow::bail!("the demo needs the Slack surface, which this build does not have yet")
}
