//! The emulator's configuration: seed sizes, token, rate limit, and the switches that pick an
//! answer wherever Amplitude's behaviour is undocumented; plus the fault and stats records.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::scim::Profile;

/// Everything `spawn` needs. `Default` is Amplitude with 100 users, 10 groups, 100 requests/60 s.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub profile: Profile,
    pub users: usize,
    pub groups: usize,
    pub seed: u64,
    pub token: String,
    pub limit: u32,
    pub window: Duration,
    pub bind: SocketAddr,
    pub switches: Switches,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            profile: Profile::Amplitude,
            users: 100,
            groups: 10,
            seed: 42,
            token: "demo-token".to_owned(),
            limit: 100,
            window: Duration::from_secs(60),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            switches: Switches::default(),
        }
    }
}

impl EmulatorConfig {
    /// The default configuration for a profile, with that profile's switch defaults.
    pub fn for_profile(profile: Profile) -> Self {
        EmulatorConfig {
            profile,
            switches: Switches::for_profile(profile),
            ..EmulatorConfig::default()
        }
    }
}

/// How group ids are written in responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum GroupIdFormat {
    /// As Amplitude's examples: a number in lists and `POST`, a string in get-by-id and `PATCH`.
    #[default]
    Mixed,
    Number,
    String,
}

/// How error bodies are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ErrorBodyFormat {
    /// A SCIM Error message (`schemas`, `status` as a string, `scimType`, `detail`).
    #[default]
    Scim,
    /// Plain text, to test a client's leniency.
    Text,
}

/// Answers to the behaviours Amplitude does not document (UNK in the reference page).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Switches {
    /// Pending invitees show `NO_GIVEN_NAME`/`NO_FAMILY_NAME` and `"undefined undefined"`.
    pub placeholder_names_for_pending: bool,
    /// Status of `POST /Users` for an existing or invited e-mail.
    pub duplicate_user_status: u16,
    /// A PatchOp body on `/Users/{id}` is understood (else 400 `invalidSyntax`).
    pub user_patchop: bool,
    /// A user set `active: false` stays listed (out of every group).
    pub list_deactivated: bool,
    /// `/Groups` honours `startIndex` and the page size (else one page with every group).
    pub group_paging: bool,
    pub group_id_format: GroupIdFormat,
    /// `remove` with the RFC filter path `members[value eq "x"]`.
    pub filter_path_remove: bool,
    /// PatchOp `replace` on groups (rename, replace members).
    pub group_replace: bool,
    /// `PUT /Groups/{id}` (else 405).
    pub group_put: bool,
    /// `co`, `sw`, `ew`, `ne`, `pr`, `and`, `or`, parentheses and other attributes in filters.
    pub rich_filters: bool,
    pub retry_after_on_429: bool,
    pub error_body: ErrorBodyFormat,
}

impl Default for Switches {
    fn default() -> Self {
        Switches::for_profile(Profile::Amplitude)
    }
}

impl Switches {
    /// The defaults for a profile: RFC 7644 turns on PatchOp on users, filter-path removal, rich
    /// filters, and keeps deactivated users listed (`active: false`).
    pub(crate) fn for_profile(profile: Profile) -> Self {
        let rfc = profile == Profile::Rfc7644;
        Switches {
            placeholder_names_for_pending: true,
            duplicate_user_status: 409,
            user_patchop: rfc,
            list_deactivated: rfc,
            group_paging: true,
            group_id_format: GroupIdFormat::Mixed,
            filter_path_remove: rfc,
            group_replace: true,
            group_put: true,
            rich_filters: rfc,
            retry_after_on_429: true,
            error_body: ErrorBodyFormat::Scim,
        }
    }
}

/// Injected failures; each `POST /_emulator/faults` replaces the whole set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Fraction of admitted SCIM requests answered 500 without being applied.
    pub error_rate: f64,
    /// Fraction of admitted SCIM requests that hang for `timeout_ms` (writes: half applied).
    pub timeout_rate: f64,
    pub timeout_ms: u64,
    /// Added to every SCIM request before it is handled.
    pub latency_ms: u64,
    /// From the moment the faults are set, every SCIM request answers 429 for this long.
    pub force_429_secs: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            error_rate: 0.0,
            timeout_rate: 0.0,
            timeout_ms: 30_000,
            latency_ms: 0,
            force_429_secs: 0.0,
        }
    }
}

/// Counters over SCIM requests since start or the last reset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Stats {
    pub total: u64,
    /// Final status as a string (`"200"`, `"429"`); `"0"` for requests hung by a timeout fault.
    pub by_status: BTreeMap<String, u64>,
    /// Most requests (admitted or not) that arrived within any sliding window of `window_secs`.
    pub max_in_any_window: u64,
    pub(crate) window_secs: f64,
    pub(crate) limit: u32,
}

/// One SCIM request as received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// Milliseconds since the emulator started.
    pub t_ms: u64,
    pub method: String,
    /// Path and query as received (still percent-encoded).
    pub path: String,
    /// 0 while the request hangs, or when a timeout fault dropped it.
    pub status: u16,
}

/// One member added to or removed from a group by a PATCH, as applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberChange {
    /// Milliseconds since the emulator started (the request log's clock).
    pub t_ms: u64,
    pub group: String,
    /// The user's e-mail address, lower-cased.
    pub member: String,
    /// True for an addition, false for a removal.
    pub added: bool,
}

/// Parses a rate limit written `COUNT/DURATION`: `100/60s`, `20/2s`, `90/1m`.
pub(crate) fn parse_limit(s: &str) -> Result<(u32, Duration), String> {
    let (count, window) = s
        .split_once('/')
        .ok_or_else(|| format!("rate limit {s:?} is not COUNT/DURATION (e.g. 100/60s)"))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("rate limit count {count:?} is not a whole number"))?;
    let window = humantime::parse_duration(window.trim())
        .map_err(|e| format!("rate limit window {window:?}: {e}"))?;
    if count == 0 || window.is_zero() {
        return Err(format!(
            "rate limit {s:?} must have a count and a window above zero"
        ));
    }
    Ok((count, window))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_limit_reads_count_and_human_duration() {
        assert_eq!(parse_limit("100/60s"), Ok((100, Duration::from_secs(60))));
        assert_eq!(parse_limit("20/2s"), Ok((20, Duration::from_secs(2))));
        assert_eq!(parse_limit("90/1m"), Ok((90, Duration::from_secs(60))));
        assert_eq!(parse_limit("5/500ms"), Ok((5, Duration::from_millis(500))));
        assert!(parse_limit("100").is_err());
        assert!(parse_limit("x/1m").is_err());
        assert!(parse_limit("0/1m").is_err());
        assert!(parse_limit("10/soon").is_err());
    }

    #[test]
    fn switches_default_by_profile_and_fill_missing_fields() {
        assert!(!Switches::default().user_patchop);
        assert!(Switches::for_profile(Profile::Rfc7644).rich_filters);
        let s: Switches = serde_json::from_str(r#"{"group_id_format":"string"}"#).unwrap();
        assert_eq!(s.group_id_format, GroupIdFormat::String);
        assert_eq!(s.duplicate_user_status, 409);
    }
}
