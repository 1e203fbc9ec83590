//! `[orgs.reviews]`: the snapshot schedule (off by default) and retention (400 days), from the
//! file or the environment, validated.

use super::*;

#[test]
fn snapshots_are_off_by_default_and_kept_400_days() {
    let config = load(MINIMAL, &[]).unwrap();
    let reviews = &config.org("acme").unwrap().reviews;
    assert_eq!(reviews.snapshot_every, None);
    assert_eq!(
        reviews.snapshot_retention,
        Duration::from_secs(400 * 86_400)
    );
    assert_eq!(*reviews, ReviewsConfig::default());
    let shown = config.to_redacted_toml();
    assert!(
        shown.contains("[orgs.reviews]\nsnapshot_retention = "),
        "{shown}"
    );
    assert!(!shown.contains("snapshot_every"), "{shown}");
}

#[test]
fn the_schedule_comes_from_the_file_or_the_environment() {
    let text = format!(
        "{MINIMAL}[orgs.reviews]\nsnapshot_every = \"24h\"\nsnapshot_retention = \"90d\"\n"
    );
    let config = load(&text, &[]).unwrap();
    let reviews = &config.org("acme").unwrap().reviews;
    assert_eq!(reviews.snapshot_every, Some(Duration::from_secs(86_400)));
    assert_eq!(reviews.snapshot_retention, Duration::from_secs(90 * 86_400));
    assert!(
        config
            .to_redacted_toml()
            .contains("snapshot_every = \"1day\"")
    );

    let config = load(
        MINIMAL,
        &[("SCIMGATE_ORGS__ACME__REVIEWS__SNAPSHOT_EVERY", "12h")],
    )
    .unwrap();
    assert_eq!(
        config.org("acme").unwrap().reviews.snapshot_every,
        Some(Duration::from_secs(12 * 3600))
    );
}

#[test]
fn a_schedule_too_short_a_retention_too_short_or_a_typo_is_refused() {
    let message = err(
        &format!("{MINIMAL}[orgs.reviews]\nsnapshot_every = \"30s\"\n"),
        &[],
    );
    assert!(
        message.contains("reviews.snapshot_every must be at least 1m"),
        "{message}"
    );
    let message = err(
        &format!("{MINIMAL}[orgs.reviews]\nsnapshot_retention = \"1h\"\n"),
        &[],
    );
    assert!(message.contains("reviews.snapshot_retention"), "{message}");
    let message = err(
        &format!("{MINIMAL}[orgs.reviews]\nsnapshot_evry = \"24h\"\n"),
        &[],
    );
    assert!(message.contains("snapshot_evry"), "{message}");
    let message = err(
        &format!("{MINIMAL}[orgs.reviews]\nsnapshot_every = \"daily\"\n"),
        &[],
    );
    assert!(
        message.contains("`orgs[acme].reviews.snapshot_every`"),
        "{message}"
    );
}
