//! The keys each table may hold and the kind of value each takes: the env layer maps variable
//! names through it, and the file is checked against it so errors can name the exact key.

use std::collections::HashMap;
use std::net::SocketAddr;

use toml::{Table, Value};

use super::ConfigError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Str,
    Int,
    Float,
    Bool,
    Duration,
    Addr,
    Profile,
    Role,
    StrList,
    /// A table of durations by name: `{ "Admins" = "4h" }`.
    DurationMap,
    /// A list of durations: `["24h", "1h"]`.
    DurationList,
}

pub(super) type Fields = &'static [(&'static str, Kind)];

pub(super) const SERVER: Fields = &[
    ("listen", Kind::Addr),
    ("graphiql", Kind::Bool),
    ("shutdown_grace", Kind::Duration),
    ("cors_origins", Kind::StrList),
    ("metrics_key_env", Kind::Str),
    ("response_cache_bytes", Kind::Int),
];
pub(super) const LIMITS: Fields = &[
    ("max_depth", Kind::Int),
    ("max_aliases", Kind::Int),
    ("max_tokens", Kind::Int),
    ("max_complexity", Kind::Int),
    ("max_body_bytes", Kind::Int),
    ("batching", Kind::Bool),
    ("max_batch", Kind::Int),
    ("introspection", Kind::Bool),
    ("max_subscriptions", Kind::Int),
    ("field_suggestions", Kind::Bool),
];
pub(super) const STORE: Fields = &[
    ("url", Kind::Str),
    ("audit_retention", Kind::Duration),
    ("idempotency_ttl", Kind::Duration),
    ("replica", Kind::Str),
];
pub(super) const GRANTS: Fields = &[
    ("max_duration", Kind::Duration),
    ("groups", Kind::DurationMap),
    ("warn_before", Kind::DurationList),
];
pub(super) const EVENTS: Fields = &[("retention", Kind::Duration)];
pub(super) const WEBHOOK: Fields = &[
    ("name", Kind::Str),
    ("org", Kind::Str),
    ("url", Kind::Str),
    ("events", Kind::StrList),
    ("secret_env", Kind::Str),
];
pub(super) const API_KEY: Fields = &[
    ("name", Kind::Str),
    ("hash", Kind::Str),
    ("role", Kind::Role),
    ("orgs", Kind::StrList),
];
pub(super) const ORG: Fields = &[
    ("id", Kind::Str),
    ("name", Kind::Str),
    ("base_url", Kind::Str),
    ("profile", Kind::Profile),
    ("key_env", Kind::Str),
    ("key_file", Kind::Str),
];
/// Keys every org must have (the rest have defaults).
const REQUIRED: [&str; 2] = ["id", "base_url"];
/// The tables nested in an org, in the order they are printed.
pub(super) const ORG_SECTIONS: &[(&str, Fields)] = &[
    (
        "budget",
        &[
            ("limit", Kind::Int),
            ("window", Kind::Duration),
            ("burst", Kind::Int),
            ("background_share", Kind::Float),
            ("guard", Kind::Duration),
            ("max_queue_wait", Kind::Duration),
            ("max_queued", Kind::Int),
            ("interactive_share", Kind::Float),
        ],
    ),
    (
        "mirror",
        &[
            ("max_age", Kind::Duration),
            ("not_found_ttl", Kind::Duration),
            ("full_refresh_every", Kind::Duration),
        ],
    ),
    (
        "upstream",
        &[
            ("attempt_timeout", Kind::Duration),
            ("max_tries", Kind::Int),
        ],
    ),
    (
        "reviews",
        &[
            ("snapshot_every", Kind::Duration),
            ("snapshot_retention", Kind::Duration),
        ],
    ),
];

pub(super) fn kind_of(fields: Fields, key: &str) -> Option<Kind> {
    fields
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, kind)| *kind)
}

/// How an org is named in error paths: `orgs[acme]`, or `orgs[#2]` when it has no usable id.
pub(super) fn org_label(org: &Table, index: usize) -> String {
    match org.get("id").and_then(Value::as_str) {
        Some(id) => format!("orgs[{id}]"),
        None => format!("orgs[#{}]", index + 1),
    }
}

/// Where each value came from, for messages: key path → environment variable that set it.
pub(super) type Provenance = HashMap<String, String>;

/// Checks the merged table against the schema: unknown keys, inline keys, and each known
/// value's kind. Serde remains the authority; this only makes its refusals precise.
pub(super) fn check(
    root: &Table,
    origin: &str,
    provenance: &Provenance,
) -> Result<(), ConfigError> {
    let checker = Checker { origin, provenance };
    for (key, value) in root {
        match key.as_str() {
            "server" => checker.table(value, "server", SERVER, &[])?,
            "limits" => checker.table(value, "limits", LIMITS, &[])?,
            "store" => checker.table(value, "store", STORE, &[])?,
            "grants" => checker.table(value, "grants", GRANTS, &[])?,
            "events" => checker.table(value, "events", EVENTS, &[])?,
            "webhooks" => {
                let Some(hooks) = value.as_array() else {
                    return Err(
                        checker.value_error("webhooks", "expected an array of [[webhooks]] tables")
                    );
                };
                for (i, hook) in hooks.iter().enumerate() {
                    let label = match hook.get("name").and_then(Value::as_str) {
                        Some(name) => format!("webhooks[{name}]"),
                        None => format!("webhooks[#{}]", i + 1),
                    };
                    if hook.as_table().is_some_and(|t| t.contains_key("secret")) {
                        return Err(checker.value_error(
                            &label,
                            "a webhook's secret comes from the environment (`secret_env = \"VAR\"`), never the file",
                        ));
                    }
                    checker.table(hook, &label, WEBHOOK, &[])?;
                    for required in ["name", "org", "url", "secret_env"] {
                        if hook.get(required).is_none() {
                            return Err(checker.value_error(
                                &label,
                                &format!("missing required key `{required}`"),
                            ));
                        }
                    }
                }
            }
            "api_keys" => {
                let Some(keys) = value.as_array() else {
                    return Err(
                        checker.value_error("api_keys", "expected an array of [[api_keys]] tables")
                    );
                };
                for (i, key) in keys.iter().enumerate() {
                    let label = match key.get("name").and_then(Value::as_str) {
                        Some(name) => format!("api_keys[{name}]"),
                        None => format!("api_keys[#{}]", i + 1),
                    };
                    if key.as_table().is_some_and(|t| t.contains_key("key")) {
                        return Err(checker.value_error(
                            &label,
                            "an API key is configured by its hash only (`hash = \"sha256:...\"`, from `scimgate hash-key`), never the key itself",
                        ));
                    }
                    checker.table(key, &label, API_KEY, &[])?;
                    for required in ["name", "hash", "role"] {
                        if key.get(required).is_none() {
                            return Err(checker.value_error(
                                &label,
                                &format!("missing required key `{required}`"),
                            ));
                        }
                    }
                }
            }
            "orgs" => {
                let Some(orgs) = value.as_array() else {
                    return Err(checker.value_error("orgs", "expected an array of [[orgs]] tables"));
                };
                for (i, org) in orgs.iter().enumerate() {
                    let label = org
                        .as_table()
                        .map_or_else(|| format!("orgs[#{}]", i + 1), |t| org_label(t, i));
                    if let Some(table) = org.as_table()
                        && table.contains_key("key")
                    {
                        let org = table.get("id").and_then(Value::as_str).unwrap_or(&label);
                        return Err(ConfigError::InlineKey {
                            origin: origin.to_string(),
                            org: org.to_string(),
                        });
                    }
                    checker.table(org, &label, ORG, ORG_SECTIONS)?;
                    for required in REQUIRED {
                        if org.get(required).is_none() {
                            let message = format!("missing required key `{required}`");
                            return Err(checker.value_error(&label, &message));
                        }
                    }
                }
            }
            _ => {
                return Err(checker.unknown(
                    key,
                    &[
                        "server", "limits", "store", "grants", "events", "webhooks", "api_keys",
                        "orgs",
                    ],
                ));
            }
        }
    }
    Ok(())
}

struct Checker<'a> {
    origin: &'a str,
    provenance: &'a Provenance,
}

impl Checker<'_> {
    fn table(
        &self,
        value: &Value,
        path: &str,
        fields: Fields,
        sections: &[(&str, Fields)],
    ) -> Result<(), ConfigError> {
        let Some(table) = value.as_table() else {
            return Err(self.value_error(path, "expected a table"));
        };
        for (key, value) in table {
            let at = format!("{path}.{key}");
            if let Some(kind) = kind_of(fields, key) {
                if let Err(message) = check_value(kind, value) {
                    return Err(self.value_error(&at, &message));
                }
            } else if let Some((_, inner)) = sections.iter().find(|(name, _)| name == key) {
                self.table(value, &at, inner, &[])?;
            } else {
                let expected: Vec<&str> = fields
                    .iter()
                    .map(|(n, _)| *n)
                    .chain(sections.iter().map(|(n, _)| *n))
                    .collect();
                return Err(self.unknown(&at, &expected));
            }
        }
        Ok(())
    }

    fn unknown(&self, key: &str, expected: &[&str]) -> ConfigError {
        ConfigError::UnknownKey {
            origin: self.origin.to_string(),
            key: key.to_string(),
            expected: expected.join(", "),
        }
    }

    fn value_error(&self, path: &str, message: &str) -> ConfigError {
        let at = match self.provenance.get(path) {
            Some(var) => format!("environment variable {var}"),
            None => format!("{}, key `{path}`", self.origin),
        };
        ConfigError::Value {
            at,
            message: message.to_string(),
        }
    }
}

fn check_value(kind: Kind, value: &Value) -> Result<(), String> {
    let found = value.type_str();
    match kind {
        Kind::Str => value
            .as_str()
            .map(drop)
            .ok_or(format!("expected a string, found {found}")),
        Kind::Int => match value.as_integer() {
            Some(n) if u32::try_from(n).is_ok() => Ok(()),
            _ => Err(format!("expected a whole number from 0 to {}", u32::MAX)),
        },
        Kind::Float => match value {
            Value::Float(_) | Value::Integer(_) => Ok(()),
            _ => Err(format!("expected a number, found {found}")),
        },
        Kind::Bool => value
            .as_bool()
            .map(drop)
            .ok_or(format!("expected true or false, found {found}")),
        Kind::Duration => {
            let text = value.as_str().ok_or(format!(
                "expected a duration string such as \"5m\", found {found}"
            ))?;
            // Neither the text nor the parser's message (which quotes it) is repeated: it
            // may be a secret typed into the wrong field.
            humantime::parse_duration(text)
                .map(drop)
                .map_err(|_| "not a duration; write e.g. \"500ms\", \"60s\", \"5m\"".to_string())
        }
        Kind::DurationMap => {
            let table = value.as_table().ok_or(format!(
                "expected a table of durations such as {{ \"Admins\" = \"4h\" }}, found {found}"
            ))?;
            for (name, duration) in table {
                check_value(Kind::Duration, duration)
                    .map_err(|message| format!("{name:?}: {message}"))?;
            }
            Ok(())
        }
        Kind::Addr => {
            let text = value
                .as_str()
                .ok_or(format!("expected an address string, found {found}"))?;
            text.parse::<SocketAddr>()
                .map(drop)
                .map_err(|_| "not an address; write e.g. \"127.0.0.1:8080\"".to_string())
        }
        Kind::Profile => match value.as_str() {
            Some("amplitude" | "rfc7644") => Ok(()),
            _ => Err("expected \"amplitude\" or \"rfc7644\"".to_string()),
        },
        Kind::Role => match value.as_str() {
            Some("read" | "write" | "admin" | "auditor") => Ok(()),
            _ => Err("expected \"read\", \"write\", \"admin\" or \"auditor\"".to_string()),
        },
        Kind::DurationList => {
            let items = value.as_array().ok_or(format!(
                "expected a list of durations such as [\"24h\", \"1h\"], found {found}"
            ))?;
            for (i, duration) in items.iter().enumerate() {
                check_value(Kind::Duration, duration)
                    .map_err(|message| format!("item {}: {message}", i + 1))?;
            }
            Ok(())
        }
        Kind::StrList => match value.as_array() {
            Some(items) if items.iter().all(Value::is_str) => Ok(()),
            _ => Err(format!("expected a list of strings, found {found}")),
        },
    }
}
