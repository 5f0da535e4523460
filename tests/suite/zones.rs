//! A user's time zone decides what "tomorrow 9am" means: when it cannot be
//! read from the database, that is an error, never a silent UTC.

use chrono::Utc;
use chrono_tz::Tz;
use slack_scheduler::bot::{Bot, BotError};
use slack_scheduler::tokens::Refresher;

use crate::common::Harness;
use crate::common::harness::{ALICE, TEAM};
use crate::on_both_backends;

on_both_backends! {
    async fn a_zone_the_database_cannot_give_is_an_error_not_utc(db: TestDb) {
        let h = Harness::start(&db).await;
        let (alice, _) = h.connect(ALICE).await;
        h.store.set_user_tz(alice.id, "Europe/Berlin", Utc::now()).await.expect("cached");
        let bot = Bot::new(h.store.clone(), h.slack.clone(), Refresher::new(h.store.clone(), h.oauth.clone(), h.settings.refresh_lock), "http://127.0.0.1:9".into());
        assert_eq!(bot.user_zone(TEAM, ALICE).await.expect("zone"), Tz::Europe__Berlin);

        // The database goes away.
        h.store.close().await;

        let zone = bot.user_zone(TEAM, ALICE).await;
        assert!(matches!(zone, Err(BotError::Store(_))), "{zone:?}");
    }
}
