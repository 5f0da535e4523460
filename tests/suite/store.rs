//! The store on both backends: every function, sealed tokens, the claim's index.

use chrono::{Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use slack_scheduler::domain::{MessageStatus, Outcome, OutcomeKind};
use slack_scheduler::store::{
    Backend, ClaimRequest, InsertError, Installation, OutcomeRecord, RefreshTake, TokenGrant,
    TokenOwner, TokenStatus,
};

use crate::common::harness::new_message;
use crate::{on_both_backends, on_postgres};

fn grant(access: &str, refresh: &str, expires_in_minutes: i64) -> TokenGrant {
    TokenGrant {
        access_token: SecretString::from(access.to_owned()),
        refresh_token: Some(SecretString::from(refresh.to_owned())),
        expires_at: Some(Utc::now() + Duration::minutes(expires_in_minutes)),
    }
}

fn claim(now: chrono::DateTime<Utc>, limit: u32) -> ClaimRequest {
    ClaimRequest {
        now,
        limit,
        lease_until: now + Duration::minutes(5),
        claim_token: format!("claim-{}", rand::random::<u32>()),
        refresh_before: now + Duration::hours(2),
        refresh_lock_until: now + Duration::seconds(30),
        pace_interval: chrono::Duration::seconds(1),
        pace_tolerance: chrono::Duration::zero(),
        pace_budget: chrono::Duration::seconds(20),
    }
}

on_both_backends! {
    /// One story through every store function the cycle and the surface use.
    async fn every_store_function_works(db: TestDb) {
        let store = db.store().await;
        let now = Utc::now();

        // Workspaces and their sealed bot token.
        let install = Installation {
            team_id: "T1".into(),
            team_name: "Acme".into(),
            bot_user_id: Some("UB1".into()),
            bot: grant("xoxb-secret-bot", "xoxe-bot-refresh", 720),
            installed_by: "U1".into(),
        };
        store.upsert_installation(&install, now).await.expect("install");
        let workspace = store.workspace("T1").await.expect("read").expect("present");
        assert_eq!(workspace.team_name, "Acme");
        assert_eq!(workspace.bot.expect("bot token").access_token.expose_secret(), "xoxb-secret-bot");
        let bot = TokenOwner::Bot { team_id: "T1".into() };
        let lease = now + Duration::seconds(30);
        let RefreshTake::Taken(right) = store.take_refresh_right(&bot, Some(1), now, lease).await.expect("take") else {
            panic!("the bot's refresh right is free");
        };
        assert_eq!((right.generation, right.refresh_token.expose_secret()), (1, "xoxe-bot-refresh"));
        assert!(matches!(store.take_refresh_right(&bot, Some(1), now, lease).await.expect("again"), RefreshTake::Busy { generation: 1 }));
        assert!(store.renew_refresh_right(&bot, 1, lease + Duration::seconds(30)).await.expect("renew"));
        assert!(store.store_refreshed_pair(&bot, 1, &grant("xoxb-rotated", "xoxe-bot-2", 720), now).await.expect("rotate bot"));
        assert!(!store.store_refreshed_pair(&bot, 1, &grant("xoxb-stale", "xoxe-bot-x", 720), now).await.expect("stale"),
            "a second result for the same generation is refused");
        assert_eq!(
            store.workspace("T1").await.expect("read").and_then(|w| w.bot).expect("bot").access_token.expose_secret(),
            "xoxb-rotated"
        );

        // Users: created on sight, connected, refreshed, invalidated.
        let plain = store.ensure_user("T1", "U2", now).await.expect("ensure");
        assert_eq!(store.ensure_user("T1", "U2", now).await.expect("again").id, plain.id);
        assert_eq!(store.user("T1", "U2").await.expect("read").expect("row").token_status, TokenStatus::None);
        let author = store.connect_user("T1", "U1", &grant("xoxp-secret-user", "xoxe-user-1", 720), now).await.expect("connect");
        store.set_user_tz(author.id, "Europe/Berlin", now).await.expect("tz");
        let user = store.user_by_id(author.id).await.expect("read").expect("row");
        assert_eq!(user.tz.as_deref(), Some("Europe/Berlin"));
        assert_eq!(user.token_status, TokenStatus::Active);
        assert_eq!(user.credentials.expect("creds").access_token.expose_secret(), "xoxp-secret-user");

        // Tokens never sit in the database in the clear.
        let raw = store.query_text_raw(match db.backend {
            Backend::Sqlite => "SELECT hex(access_token) || hex(refresh_token) FROM users WHERE user_id = 'U1'",
            Backend::Postgres => "SELECT encode(access_token, 'hex') || encode(refresh_token, 'hex') FROM users WHERE user_id = 'U1'",
        }).await.expect("raw read");
        let sealed = raw[0][0].to_lowercase();
        assert!(!sealed.contains(&hex::encode("xoxp-secret-user")), "access token stored in the clear");
        assert!(!sealed.contains(&hex::encode("xoxe-user-1")), "refresh token stored in the clear");

        // Messages: insert, limit, read back, next wake-up.
        let due = now + Duration::minutes(10);
        let id = store.insert_message(&new_message(&author, "C1", "hello", due), now).await.expect("insert");
        let message = store.message(id).await.expect("read").expect("row");
        assert_eq!((message.status, message.text.as_str(), message.channel_id.as_str()), (MessageStatus::Pending, "hello", "C1"));
        assert_eq!(message.due_at, new_message(&author, "C1", "hello", due).due.at());
        assert_eq!(store.next_wake_at().await.expect("wake"), Some(message.due_at));

        // The claim takes only what is due, with the author's token data.
        assert!(store.claim_due(&claim(now, 10)).await.expect("nothing due").is_empty());
        let request = claim(due + Duration::seconds(1), 10);
        let claimed = store.claim_due(&request).await.expect("claim");
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].id, id);
        assert_eq!(claimed[0].credentials.as_ref().expect("creds").access_token.expose_secret(), "xoxp-secret-user");
        assert!(!claimed[0].verify_before_post);
        assert!(store.claim_due(&claim(due + Duration::seconds(2), 10)).await.expect("claimed already").is_empty());

        // Outcomes are written back.
        let sent = Outcome { id, attempts: 1, kind: OutcomeKind::Sent { ts: "1.000200".into(), at: due } };
        let stale = OutcomeRecord { outcome: sent.clone(), claim_token: "another claim".into() };
        store.record_outcomes(&[stale], due).await;
        assert_eq!(store.message(id).await.expect("read").expect("row").status, MessageStatus::Sending,
            "a claim that lost the row writes nothing");
        let sent = OutcomeRecord { outcome: sent, claim_token: claimed[0].claim_token.clone() };
        let report = store.record_outcomes(&[sent], due).await;
        assert_eq!((report.statements, report.fallback_rows, report.unwritten.len()), (1, 0, 0));
        let message = store.message(id).await.expect("read").expect("row");
        assert_eq!((message.status, message.slack_ts.as_deref(), message.wake_at), (MessageStatus::Sent, Some("1.000200"), None));

        // Refresh rights and rotation, guarded by the pair's generation.
        let owner = TokenOwner::User { id: author.id, team_id: "T1".into(), user_id: "U1".into() };
        let generation = store.user_by_id(author.id).await.expect("read").expect("row").token_generation;
        let RefreshTake::Taken(right) = store.take_refresh_right(&owner, Some(generation), now, lease).await.expect("take") else {
            panic!("the user's refresh right is free");
        };
        assert_eq!(right.refresh_token.expose_secret(), "xoxe-user-1");
        assert!(matches!(store.take_refresh_right(&owner, Some(generation), now, lease).await.expect("held"), RefreshTake::Busy { .. }));
        assert!(store.store_refreshed_pair(&owner, generation, &grant("xoxp-2", "xoxe-user-2", 720), now).await.expect("rotate"));
        let user = store.user_by_id(author.id).await.expect("read").expect("row");
        assert_eq!(user.token_generation, generation + 1);
        assert_eq!(user.credentials.expect("creds").refresh_token.expect("refresh").expose_secret(), "xoxe-user-2");
        assert!(!store.refuse_pair(&owner, generation, "invalid_refresh_token", now).await.expect("stale refusal"),
            "a refusal of the replaced pair leaves the new one alone");
        assert!(store.refuse_pair(&owner, generation + 1, "token_revoked", now).await.expect("refuse"));
        let user = store.user_by_id(author.id).await.expect("read").expect("row");
        assert_eq!((user.token_status, user.token_problem.as_deref()), (TokenStatus::Invalid, Some("token_revoked")));
        assert!(user.credentials.is_none());
        // A revocation sent before the user reconnected leaves the new pair alone.
        let sent_before = Utc::now();
        store.connect_user("T1", "U1", &grant("xoxp-3", "xoxe-user-3", 720), sent_before + Duration::seconds(1)).await.expect("reconnect");
        assert!(!store.revoke_user_tokens(author.id, "tokens_revoked", sent_before, Utc::now()).await.expect("late event"));
        assert_eq!(store.user_by_id(author.id).await.expect("read").expect("row").token_status, TokenStatus::Active);
        store.ping().await.expect("ping");
    }
}

on_both_backends! {
    /// A user may have at most 1,000 messages waiting; the 1,001st is refused.
    async fn the_pending_limit_is_enforced_in_the_insert(db: TestDb) {
        let store = db.store().await;
        let now = Utc::now();
        let author = store.connect_user("T1", "U1", &grant("a", "r", 720), now).await.expect("connect");
        let due = now + Duration::hours(1);
        let batch: Vec<_> = (0..1_000).map(|i| new_message(&author, "C1", &format!("m{i}"), due)).collect();
        assert_eq!(store.insert_messages(&batch, now).await.expect("bulk"), 1_000);
        let refused = store.insert_message(&new_message(&author, "C1", "one too many", due), now).await;
        assert!(matches!(refused, Err(InsertError::PendingLimit)), "{refused:?}");
        let other = store.connect_user("T1", "U2", &grant("b", "r2", 720), now).await.expect("connect");
        store.insert_message(&new_message(&other, "C1", "someone else", due), now).await.expect("others unaffected");
    }
}

on_both_backends! {
    /// The due-messages claim reads an index, not the table, with many rows.
    async fn the_claim_reads_the_wake_index(db: TestDb) {
        let store = db.store().await;
        let now = Utc::now();
        let author = store.connect_user("T1", "U1", &grant("a", "r", 720), now).await.expect("connect");
        for chunk in 0..20 {
            let batch: Vec<_> = (0..1_000)
                .map(|i| new_message(&author, "C1", "x", now + Duration::minutes(chunk * 1_000 + i + 1)))
                .collect();
            store.insert_messages(&batch, now).await.expect("bulk");
        }
        if db.backend == Backend::Postgres {
            store.execute_raw("ANALYZE scheduled_messages").await.expect("analyze");
        }
        let plan = store.explain_claim(now + Duration::minutes(30), 1000).await.expect("explain");
        println!("{plan}");
        assert!(plan.contains("scheduled_messages_wake"), "the claim must use the wake index:\n{plan}");
        assert!(!plan.contains("SCAN scheduled_messages\n") && !plan.contains("Seq Scan"), "no table scan:\n{plan}");
    }
}

on_postgres! {
    /// Two claims at once never take the same row (SKIP LOCKED).
    async fn concurrent_claims_split_the_rows(db: TestDb) {
        let store = db.store().await;
        let now = Utc::now();
        let author = store.connect_user("T1", "U1", &grant("a", "r", 720), now).await.expect("connect");
        let batch: Vec<_> = (0..500).map(|i| new_message(&author, "C1", &format!("m{i}"), now)).collect();
        store.insert_messages(&batch, now).await.expect("bulk");
        let later = now + Duration::seconds(5);
        let claims = futures_util::future::join_all((0..5).map(|_| {
            let store = store.clone();
            async move { store.claim_due(&claim(later, 150)).await.expect("claim") }
        }))
        .await;
        let mut ids: Vec<i64> = claims.iter().flatten().map(|m| m.id).collect();
        let total = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), total, "a row was claimed twice");
        assert_eq!(total, 500);
    }
}

on_postgres! {
    /// The successes' write finds its rows by id even when the statistics
    /// say nothing is `sending` (taken while everything was pending), as
    /// they do in the first minutes of every burst: a plan that starts from
    /// the `sending` rows compares each with every outcome of the group.
    async fn the_outcome_write_finds_its_rows_by_id(db: TestDb) {
        let store = db.store().await;
        let now = Utc::now();
        let author = store.connect_user("T1", "U1", &grant("a", "r", 720), now).await.expect("connect");
        let other = store.connect_user("T1", "U2", &grant("b", "r2", 720), now).await.expect("connect");
        for author in [&author, &other] {
            let batch: Vec<_> = (0..900).map(|i| new_message(author, &format!("C{i}"), "x", now)).collect();
            store.insert_messages(&batch, now).await.expect("bulk");
        }
        store.execute_raw("ANALYZE scheduled_messages").await.expect("analyze");
        let request = claim(now + Duration::seconds(1), 1_800);
        let claimed = store.claim_due(&request).await.expect("claim");
        assert_eq!(claimed.len(), 1_800);
        let ids: Vec<i64> = claimed.iter().take(1_000).map(|m| m.id).collect();
        let plan = store.explain_sent_write(&ids, &request.claim_token).await.expect("explain");
        println!("{plan}");
        assert!(!plan.contains("Join Filter"), "each row must be found by its id, not compared with every outcome:\n{plan}");
        assert!(!plan.contains("Index Cond: (status"), "the write must not start from the status:\n{plan}");
    }
}

on_postgres! {
    /// A conversation's shared pace is forgotten once it has been idle for
    /// an hour, and kept while it still paces anything.
    async fn idle_paces_are_forgotten(db: TestDb) {
        let store = db.store().await;
        let now = Utc::now();
        let author = store.connect_user("T1", "U1", &grant("a", "r", 720), now).await.expect("connect");
        let batch: Vec<_> = (0..3).map(|i| new_message(&author, &format!("C{i}"), "x", now)).collect();
        store.insert_messages(&batch, now).await.expect("bulk");
        assert_eq!(store.claim_due(&claim(now + Duration::seconds(1), 10)).await.expect("claim").len(), 3);
        assert_eq!(store.forget_idle_paces(now).await.expect("forget"), 0, "paced just now");
        assert_eq!(store.forget_idle_paces(now + Duration::minutes(59)).await.expect("forget"), 0);
        assert_eq!(store.forget_idle_paces(now + Duration::minutes(61)).await.expect("forget"), 3);
        assert_eq!(store.forget_idle_paces(now + Duration::minutes(61)).await.expect("again"), 0);
    }
}
