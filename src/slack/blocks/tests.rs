//! The builders' output, checked against Slack's rules by the simulator's
//! Block Kit validator.

use super::home::HomeSection;
use super::*;
use crate::slack::rich_text::RichText;
use chrono::TimeZone;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 24, h, m, 0)
        .single()
        .expect("valid")
}

#[test]
fn next_full_hour_respects_half_hour_zones() {
    let kolkata: Tz = "Asia/Kolkata".parse().expect("zone");
    // 10:10 UTC is 15:40 in Kolkata: the next full hour there is 16:00 = 10:30 UTC.
    assert_eq!(next_full_hour(at(10, 10), kolkata), at(10, 30));
    assert_eq!(
        next_full_hour(at(10, 10), chrono_tz::Europe::Berlin),
        at(11, 0)
    );
}

#[test]
fn the_modal_has_its_three_fields_and_the_times_initial_value() {
    let spec = ModalSpec {
        message: Some(RichText::from_markup("draft for <@U1> &amp; co")),
        ..ModalSpec::new(at(17, 0))
    };
    let json = serde_json::to_value(schedule_modal(&spec)).expect("serialises");
    let blocks = json["blocks"].as_array().expect("blocks");
    let ids: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b["block_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            CHANNEL_BLOCK,
            ALSO_BLOCK,
            TEXT_BLOCK,
            WHEN_BLOCK,
            REPEAT_BLOCK,
            OPTIONS_BLOCK
        ]
    );
    assert_eq!(
        blocks[0]["element"]["default_to_current_conversation"],
        true
    );
    assert_eq!(blocks[1]["element"]["type"], "multi_conversations_select");
    assert_eq!(blocks[1]["element"]["max_selected_items"], 9);
    assert_eq!(
        blocks[4]["dispatch_action"], true,
        "the repeat choice updates the modal"
    );
    let message = &blocks[2]["element"];
    assert_eq!(message["type"], "rich_text_input");
    assert_eq!(message["action_id"], TEXT_ACTION);
    assert_eq!(
        message["initial_value"],
        serde_json::json!({"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
            {"type": "text", "text": "draft for "}, {"type": "user", "user_id": "U1"}, {"type": "text", "text": " & co"}]}]})
    );
    assert_eq!(
        blocks[3]["element"]["initial_date_time"],
        at(17, 0).timestamp()
    );
    assert_eq!(json["callback_id"], NEW_CALLBACK);
    assert_eq!(json["type"], "modal");
}

#[test]
fn an_edit_modal_names_the_message_and_preselects_its_channel() {
    let spec = ModalSpec {
        mode: ModalMode::EditMessage {
            id: 42,
            occurrence: false,
        },
        channel: Some("C9".into()),
        connect_url: Some("https://x.test/slack/install".into()),
        ..ModalSpec::new(at(9, 0))
    };
    let json = serde_json::to_value(schedule_modal(&spec)).expect("serialises");
    assert_eq!(json["private_metadata"], "42");
    assert_eq!(json["callback_id"], EDIT_CALLBACK);
    let text = json.to_string();
    assert!(text.contains("\"initial_conversation\":\"C9\""));
    assert!(
        text.contains("https://x.test/slack/install"),
        "connect link shown"
    );
    assert!(
        json["blocks"]
            .to_string()
            .contains("\"type\":\"rich_text_input\""),
        "an empty message field"
    );
    assert!(!json["blocks"].to_string().contains("initial_value"));
}

#[test]
fn user_text_is_escaped_and_shortened_in_previews() {
    assert_eq!(preview("a <b> & c"), "a &lt;b&gt; &amp; c");
    assert_eq!(
        preview("hi <@U1> see <https://x.test|x> &amp; &lt;b&gt;"),
        "hi <@U1> see <https://x.test|x> &amp; &lt;b&gt;",
        "markup stays as it is: mentions mention, links link"
    );
    let long = "word ".repeat(100);
    assert!(preview(&long).ends_with('…'));
    assert!(preview(&long).chars().count() <= PREVIEW_CHARS + 1);
}

#[test]
fn local_times_read_in_the_users_zone() {
    assert_eq!(
        local_time(at(16, 0), chrono_tz::Europe::Berlin),
        "Thu, Dec 24 at 5:00 PM CET"
    );
    assert!(
        slack_time(at(16, 0), chrono_tz::Europe::Berlin)
            .starts_with(&format!("<!date^{}^", at(16, 0).timestamp()))
    );
}

use crate::domain::MessageStatus;
use crate::sim::block_kit::{check_message_blocks, check_view};
use crate::store::{MessageCounts, MessageRecord, Notice};

fn record(id: i64, status: MessageStatus, text: &str) -> MessageRecord {
    MessageRecord {
        id,
        author_id: 1,
        team_id: "T1".into(),
        user_id: "U1".into(),
        channel_id: "C1".into(),
        text: text.into(),
        rich_text: None,
        due_at: at(9, 0) + chrono::Duration::minutes(id),
        status,
        attempts: 0,
        wake_at: None,
        slack_ts: None,
        sent_at: None,
        reason: (status == MessageStatus::Failed || status == MessageStatus::Held)
            .then(|| "channel_not_found".into()),
        verify_before_post: false,
        needs_notice: false,
        created_at: at(8, 0),
        updated_at: at(8, 0),
        text_erased_at: None,
        series_id: None,
        occurrence: None,
        options: Default::default(),
        permalink: None,
        warning: None,
    }
}

fn records(status: MessageStatus, count: i64, offset: i64) -> Vec<MessageRecord> {
    (0..count)
        .map(|i| {
            record(
                offset + i,
                status,
                &format!("message <{i}> & more {}", "x".repeat(200)),
            )
        })
        .collect()
}

fn view_json(view: &SlackView) -> serde_json::Value {
    serde_json::to_value(view).expect("serialises")
}

fn blocks_json(content: &SlackMessageContent) -> serde_json::Value {
    serde_json::to_value(&content.blocks).expect("serialises")
}

fn series_record(id: i64) -> crate::store::SeriesRecord {
    use crate::domain::recurrence::{Ends, Recurrence, Repeat};
    crate::store::SeriesRecord {
        id,
        author_id: 1,
        team_id: "T1".into(),
        user_id: "U1".into(),
        channel_id: "C1".into(),
        text: format!("standup <{id}> & notes {}", "y".repeat(300)),
        rich_text: None,
        options: Default::default(),
        recurrence: Recurrence {
            repeat: Repeat::Weekday {
                at: chrono::NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
            },
            ends: Ends::After { times: 100 },
        },
        tz: chrono_tz::Europe::Berlin,
        anchor: at(8, 0),
        skipped: Vec::new(),
        status: if id % 2 == 0 {
            crate::store::SeriesStatus::Active
        } else {
            crate::store::SeriesStatus::Paused
        },
        occurrences: 1,
        last_due_at: None,
        created_at: at(8, 0),
        updated_at: at(8, 0),
    }
}

fn home_of(held: i64, upcoming: i64, sent: i64, failed: i64, connect: bool) -> HomeSpec {
    HomeSpec {
        counts: MessageCounts {
            pending: upcoming,
            held,
            sent,
            failed,
            cancelled: 0,
            skipped: failed,
        },
        series: Vec::new(),
        skipped: records(MessageStatus::Skipped, failed.min(HOME_RECENT as i64), 4000),
        held: records(MessageStatus::Held, held.min(HOME_HELD as i64), 0),
        upcoming: records(
            MessageStatus::Pending,
            upcoming.min(HOME_UPCOMING as i64),
            1000,
        ),
        sent: records(MessageStatus::Sent, sent.min(HOME_RECENT as i64), 2000),
        failed: records(MessageStatus::Failed, failed.min(HOME_RECENT as i64), 3000),
        tz: chrono_tz::Europe::Berlin,
        now: at(12, 0),
        connect_url: connect.then(|| "https://x.test/slack/install?team=T1".into()),
        connect_problem: connect.then(|| "token_revoked".into()),
    }
}

#[test]
fn every_modal_the_app_opens_is_valid_block_kit() {
    let new = ModalSpec {
        message: Some(RichText::from_markup(&format!(
            "{} *bold* <@U1> <https://x.test|x> :tada:\n&gt; quote\n```code```",
            "a".repeat(4000)
        ))),
        due: at(17, 0),
        notice: Some(format!(
            ":thinking_face: I couldn't find a time in “{}”.",
            preview(&"<&>".repeat(500))
        )),
        connect_url: Some("https://x.test/slack/install?team=T1".into()),
        ..ModalSpec::new(at(17, 0))
    };
    let edit = ModalSpec {
        mode: ModalMode::EditMessage {
            id: 42,
            occurrence: true,
        },
        channel: Some("C9".into()),
        ..new.clone()
    };
    let every_choice = [
        RepeatChoice::Never,
        RepeatChoice::Daily,
        RepeatChoice::Weekdays,
        RepeatChoice::Weekly,
        RepeatChoice::MonthlyDay,
        RepeatChoice::MonthlyWeekday,
        RepeatChoice::Hourly,
    ];
    let mut views = vec![
        schedule_modal(&new),
        schedule_modal(&edit),
        notice_modal("Scheduler", "That message is not yours."),
    ];
    for (i, choice) in every_choice.into_iter().enumerate() {
        let ends = [EndsChoice::Never, EndsChoice::On, EndsChoice::After][i % 3];
        let repeat = RepeatSpec {
            choice,
            days: vec![chrono::Weekday::Mon, chrono::Weekday::Thu],
            hours: Some(2),
            ends,
            until: chrono::NaiveDate::from_ymd_opt(2027, 3, 1),
            times: Some(10),
        };
        let reply = ModalSpec {
            mode: ModalMode::Reply {
                channel_id: "C1".into(),
                thread_ts: "1700000000.000100".into(),
            },
            in_thread: true,
            repeat: repeat.clone(),
            ..new.clone()
        };
        let series = ModalSpec {
            mode: ModalMode::EditSeries(7),
            repeat,
            ..new.clone()
        };
        views.push(schedule_modal(&reply));
        views.push(schedule_modal(&series));
    }
    for view in views {
        let json = view_json(&view);
        assert_eq!(check_view(&json), Vec::<String>::new(), "{json}");
    }
}

#[test]
fn the_cancel_confirmation_is_plain_text() {
    let json = serde_json::to_value(cancel_button(7)).expect("serialises");
    for part in ["title", "text", "confirm", "deny"] {
        assert_eq!(json["confirm"][part]["type"], "plain_text", "{part}");
    }
}

#[test]
fn a_home_tab_with_hundreds_of_messages_stays_within_100_blocks() {
    for (held, upcoming, sent, failed, connect) in [
        (0, 0, 0, 0, false),
        (3, 2, 1, 1, false),
        (300, 300, 300, 300, true),
        (0, 300, 0, 0, false),
        (300, 0, 0, 0, true),
    ] {
        let json = view_json(&home_view(&home_of(held, upcoming, sent, failed, connect)));
        let problems = check_view(&json);
        assert_eq!(
            problems,
            Vec::<String>::new(),
            "{held}/{upcoming}/{sent}/{failed}"
        );
        let blocks = json["blocks"].as_array().expect("blocks").len();
        assert!(blocks <= 100, "{blocks} blocks");
    }
}

#[test]
fn a_full_home_tab_shows_the_most_relevant_and_says_how_many_more() {
    let json = view_json(&home_view(&home_of(300, 300, 300, 300, false))).to_string();
    assert!(json.contains("Waiting for you"), "held messages come first");
    assert!(json.contains("…and 290 more waiting for you."), "{json}");
    assert!(json.contains("…and 280 more."), "soonest 20 upcoming shown");
    assert!(json.contains("…and 295 more sent earlier."));
    assert!(json.contains("…and 295 more failed earlier."));
}

#[test]
fn a_home_tab_with_series_and_every_history_is_valid_and_fits() {
    let mut spec = home_of(300, 300, 300, 300, false);
    spec.series = (0..HOME_SERIES as i64)
        .map(|id| SeriesView::of(series_record(id), at(12, 0), 5))
        .collect();
    let json = view_json(&home_view(&spec));
    assert_eq!(check_view(&json), Vec::<String>::new(), "{json}");
    assert!(json["blocks"].as_array().expect("blocks").len() <= 100);
    let text = json.to_string();
    assert!(
        text.contains("*Repeating*") && text.contains("every weekday at 9:00 AM"),
        "{text}"
    );
    assert!(text.contains("_paused_"), "a paused series says so");
    assert!(
        text.contains(ACTION_SKIP)
            && text.contains(ACTION_PAUSE_SERIES)
            && text.contains(ACTION_RESUME_SERIES)
    );

    let mut light = home_of(0, 3, 2, 1, false);
    light.series = vec![SeriesView::of(series_record(2), at(12, 0), 5)];
    light.sent[0].permalink = Some("https://acme.slack.com/archives/C1/p1".into());
    light.sent[0].attempts = 2;
    let text = view_json(&home_view(&light)).to_string();
    assert!(text.contains("*Recently skipped*"), "{text}");
    assert!(
        text.contains("<https://acme.slack.com/archives/C1/p1|View>"),
        "the permalink"
    );
    assert!(text.contains("after 2 attempts"));
    assert!(
        text.contains("Skip Thu, Dec 24, 9:00 AM") || text.contains("Skip Fri, Dec 25, 9:00 AM"),
        "{text}"
    );
}

#[test]
fn sections_give_way_to_later_ones_when_the_budget_is_short() {
    let sections = [
        HomeSection {
            items: 80,
            per_message: 2,
            always: false,
        },
        HomeSection {
            items: 80,
            per_message: 2,
            always: true,
        },
    ];
    // 95 blocks: the first takes 3 + 44 × 2, leaving the second its 3.
    assert_eq!(home::fit_sections(95, &sections), [44, 0]);
    assert_eq!(home::fit_sections(101, &sections), [47, 0]);
    assert_eq!(home::fit_sections(200, &sections), [80, 17]);
}

#[test]
fn a_list_longer_than_a_message_allows_shows_what_fits_and_points_home() {
    let waiting = records(MessageStatus::Pending, 60, 0);
    let content = pending_list(&waiting, 60, chrono_tz::Europe::Berlin);
    let blocks = blocks_json(&content);
    assert_eq!(check_message_blocks(&blocks), Vec::<String>::new());
    assert!(blocks.as_array().expect("blocks").len() <= 50);
    let text = blocks.to_string();
    assert!(
        text.contains(&format!(
            "…and {} more in the Scheduler app's Home tab.",
            60 - LIST_FITS
        )),
        "{text}"
    );
}

#[test]
fn every_message_the_app_sends_is_valid_block_kit() {
    let notice = Notice {
        id: 1,
        author_id: 1,
        team_id: "T1".into(),
        user_id: "U1".into(),
        channel_id: "C1".into(),
        text: "x <y> & z".repeat(500),
        due_at: at(9, 0),
        status: MessageStatus::Failed,
        reason: Some("is_archived".into()),
        attempts: 1,
    };
    let tz = chrono_tz::Europe::Berlin;
    for content in [
        help_message(),
        text_message("Sorry, something went wrong."),
        scheduled_message(
            "C1",
            &"long <text> & ".repeat(400),
            at(9, 0),
            tz,
            Some("https://x.test/i"),
        ),
        notice_message(&notice, tz, Some("https://x.test/i")),
        pending_list(&[], 0, tz),
        pending_list(&records(MessageStatus::Held, 3, 0), 3, tz),
    ] {
        let blocks = blocks_json(&content);
        assert_eq!(
            check_message_blocks(&blocks),
            Vec::<String>::new(),
            "{blocks}"
        );
    }
}

#[test]
fn a_message_whose_text_retention_erased_shows_as_removed_in_the_history() {
    let mut spec = home_of(0, 0, 1, 1, false);
    for message in spec.sent.iter_mut().chain(spec.failed.iter_mut()) {
        message.text = String::new();
        message.text_erased_at = Some(message.updated_at + chrono::Duration::days(30));
    }
    let json = view_json(&home_view(&spec));
    assert_eq!(check_view(&json), Vec::<String>::new(), "{json}");
    let text = json.to_string();
    assert_eq!(
        text.matches("(text removed after 30 days)").count(),
        2,
        "{text}"
    );
}
