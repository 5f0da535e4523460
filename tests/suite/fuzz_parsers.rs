//! Bad input below the router, generated: Slack's signature check and the
//! time phrases of `/schedule <when> <message>`. Bounded like `fuzz`
//! (`FUZZ_CASES` for a longer run).

use chrono::Utc;
use proptest::prelude::*;
use secrecy::SecretString;
use slack_scheduler::domain::when::parse_quick;
use slack_scheduler::slack::SignatureVerifier;

use crate::fuzz::runner;

#[test]
fn signatures_verify_only_for_the_exact_body_timestamp_and_secret() {
    let strategy = (
        "[ -~]{1,64}",
        ".{0,512}",
        -299i64..=299,
        any::<proptest::sample::Index>(),
        any::<u8>(),
    );
    runner(2000)
        .run(&strategy, |(secret, body, skew, at, byte)| {
            let verifier = SignatureVerifier::new(&SecretString::from(secret.clone()));
            let real = Utc::now().timestamp();
            let now = real + skew;
            let signature = slack_scheduler::sim::outbound::sign(&secret, now, &body);
            prop_assert!(verifier.verify(&signature, &now.to_string(), &body));
            // Any other signature of the same length fails, as does any other body.
            let mut forged = signature.clone().into_bytes();
            let i = 3 + at.index(forged.len() - 3);
            forged[i] = if forged[i] == b'0' { b'1' } else { b'0' };
            prop_assert!(!verifier.verify(
                &String::from_utf8_lossy(&forged),
                &now.to_string(),
                &body
            ));
            let longer = format!("{body}{}", byte as char);
            prop_assert!(!verifier.verify(&signature, &now.to_string(), &longer));
            prop_assert!(!verifier.verify(&signature, &(now + 1).to_string(), &body));
            // Beyond five minutes either way, even the right signature fails.
            let stale = real + if skew >= 0 { 301 + skew } else { -301 + skew };
            let stale_signature = slack_scheduler::sim::outbound::sign(&secret, stale, &body);
            prop_assert!(!verifier.verify(&stale_signature, &stale.to_string(), &body));
            Ok(())
        })
        .expect("no failing case");
}

#[test]
fn garbage_signatures_and_timestamps_are_refused_without_panicking() {
    let verifier = SignatureVerifier::new(&SecretString::from("sim-signing-secret".to_owned()));
    runner(2000)
        .run(
            &(".{0,100}", ".{0,30}", ".{0,200}"),
            |(signature, timestamp, body)| {
                prop_assert!(!verifier.verify(&signature, &timestamp, &body));
                Ok(())
            },
        )
        .expect("no failing case");
}

#[test]
fn time_phrases_never_panic() {
    let number = prop_oneof![
        "[0-9]{1,3}",
        "[0-9]{4,20}",
        Just("-1".to_owned()),
        Just("0".to_owned())
    ];
    let word = prop_oneof![
        Just("in"),
        Just("at"),
        Just("on"),
        Just("tomorrow"),
        Just("next"),
        Just("every"),
        Just("minutes"),
        Just("hours"),
        Just("days"),
        Just("weeks"),
        Just("months"),
        Just("years"),
        Just("am"),
        Just("pm"),
        Just("monday"),
        Just("noon"),
        Just("midnight"),
        Just(":"),
        Just("-"),
        Just("2026-02-30"),
        Just("25:61"),
    ];
    let phrase = proptest::collection::vec(
        prop_oneof![number, word.prop_map(str::to_owned), ".{0,8}"],
        0..8,
    )
    .prop_map(|parts| parts.join(" "));
    let zones = [
        chrono_tz::UTC,
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Pacific::Apia,
    ];
    runner(3000)
        .run(&(phrase, 0..zones.len()), |(text, zone)| {
            // Whatever it reads is checked by the input rules afterwards; here
            // it must only come back, for any words in any zone.
            let _ = parse_quick(&text, Utc::now(), zones[zone]);
            Ok(())
        })
        .expect("no failing case");
}
