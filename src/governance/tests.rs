//! The grant rules' pure parts; the rest is tested end to end in `tests/it/governance_grants.rs`.

use super::backoff_ms;

#[test]
fn grant_removal_backoff_doubles_from_one_second_to_five_minutes() {
    let table: Vec<i64> = (1..=11).map(backoff_ms).collect();
    assert_eq!(
        table,
        [
            1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000
        ]
    );
    assert_eq!(backoff_ms(0), 1_000);
    assert_eq!(backoff_ms(i64::MAX), 300_000);
}
