//! The governance part of the configuration: time-bound grants (`[grants]`), the event log
//! (`[events]`), webhooks (`[[webhooks]]`) and each organization's access reviews
//! (`[orgs.reviews]`), with the human-duration list and table forms they use.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Time-bound group access (`grantGroupAccess`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrantsConfig {
    /// The longest a grant may last; a longer one is refused with `GRANT_TOO_LONG`.
    #[serde(with = "humantime_serde")]
    pub max_duration: Duration,
    /// Shorter maximums for some groups, by display name (matched without regard to case):
    /// `{ "Admins" = "4h" }`. The lower of a group's and `max_duration` applies.
    #[serde(with = "duration_map")]
    pub groups: BTreeMap<String, Duration>,
    /// How long before its end a grant emits a `grant.expiring` event, once per offset
    /// (default 24 h and 1 h; an empty list emits none).
    #[serde(with = "duration_list")]
    pub warn_before: Vec<Duration>,
}

/// The directory event log (`org { events }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// How long events are kept; a client resuming from an older one is told so.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            retention: Duration::from_secs(30 * 86_400),
        }
    }
}

/// One organization's access reviews (`[orgs.reviews]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewsConfig {
    /// How often a scheduled snapshot of the organization's access is taken (`"24h"`); none
    /// by default (snapshots on demand only, `takeSnapshot`).
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub snapshot_every: Option<Duration>,
    /// How long snapshots are kept (400 days: a year-long audit period with room).
    #[serde(with = "humantime_serde")]
    pub snapshot_retention: Duration,
}

impl Default for ReviewsConfig {
    fn default() -> Self {
        ReviewsConfig {
            snapshot_every: None,
            snapshot_retention: Duration::from_secs(400 * 86_400),
        }
    }
}

/// One webhook endpoint: an organization's events (all, or those `events` names; `grant.*`
/// for a family) POSTed to `url`, signed the Standard Webhooks way with the secret in the
/// environment variable `secret_env` (`whsec_` and base64, or any other text used as it is).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Unique; deliveries and their cursor are kept under it.
    pub name: String,
    /// The organization whose events it receives.
    pub org: String,
    pub url: String,
    /// Event kinds (`grant.expiring`) or families (`grant.*`); empty: every event.
    #[serde(default)]
    pub events: Vec<String>,
    /// The variable holding the signing secret; the secret itself is never in the file.
    pub secret_env: String,
    /// The secret, read from `secret_env` when the configuration loads.
    #[serde(skip)]
    pub secret: Option<SecretString>,
}

/// A list of human durations: `["24h", "1h"]`.
mod duration_list {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(list: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            list.iter()
                .map(|v| humantime::format_duration(*v).to_string()),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|v| {
                humantime::parse_duration(v.trim())
                    .map_err(|_| D::Error::custom("not a duration; write e.g. \"1h\""))
            })
            .collect()
    }
}

impl Default for GrantsConfig {
    fn default() -> Self {
        GrantsConfig {
            max_duration: Duration::from_secs(7 * 86_400),
            groups: BTreeMap::new(),
            warn_before: vec![Duration::from_secs(86_400), Duration::from_secs(3_600)],
        }
    }
}

/// A table of human durations: `{ "Admins" = "4h" }`.
mod duration_map {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(
            map.iter()
                .map(|(k, v)| (k, humantime::format_duration(*v).to_string())),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Duration>, D::Error> {
        BTreeMap::<String, String>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| {
                humantime::parse_duration(v.trim())
                    .map(|d| (k, d))
                    .map_err(|_| D::Error::custom("not a duration; write e.g. \"4h\""))
            })
            .collect()
    }
}
