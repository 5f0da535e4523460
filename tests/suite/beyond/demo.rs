//! `slack-scheduler demo`, the real binary: it shows a recurring message
//! and a thread reply going out, besides the one-off ones.

use std::time::Duration;

use crate::common::bin::binary;

#[tokio::test]
async fn the_demo_shows_a_series_and_a_thread_reply() {
    let output = tokio::time::timeout(Duration::from_secs(120), binary().arg("demo").output())
        .await
        .expect("the demo ends within two minutes")
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("/schedule every weekday at 9am"),
        "a series from the quick form:\n{stdout}"
    );
    assert!(
        stdout.contains("Daily digest"),
        "the modal's series, posted:\n{stdout}"
    );
    assert!(
        stdout.contains("↳ in thread"),
        "a reply posted in its thread:\n{stdout}"
    );
    assert!(
        stdout.contains("\"failedCount\": 1"),
        "the archived channel's failure, counted:\n{stdout}"
    );
    assert!(stdout.contains("Done."), "{stdout}");
}
