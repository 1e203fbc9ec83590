//! The `SCIMGATE_*` layer: each variable becomes one edit of the TOML table before the typed
//! tree is read, so the file and the environment share one validation path.

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::ConfigError;
use super::schema::{self, Kind, Provenance};

const PREFIX: &str = "SCIMGATE_";
/// Top-level tables of scalars settable as `SCIMGATE_<TABLE>__<FIELD>`.
const TABLES: [(&str, &str, schema::Fields); 5] = [
    ("SCIMGATE_SERVER__", "server", schema::SERVER),
    ("SCIMGATE_LIMITS__", "limits", schema::LIMITS),
    ("SCIMGATE_STORE__", "store", schema::STORE),
    ("SCIMGATE_GRANTS__", "grants", schema::GRANTS),
    ("SCIMGATE_EVENTS__", "events", schema::EVENTS),
];
const ORGS_PREFIX: &str = "SCIMGATE_ORGS__";

/// `SCIMGATE_*` variables read by other parts of scimgate, not by this layer.
pub(crate) const OTHER_VARS: &[&str] = &[
    "SCIMGATE_EMULATOR_TOKEN",
    "SCIMGATE_LOG",
    "SCIMGATE_LOG_FORMAT",
    "SCIMGATE_CONFIG",
    // The test suite's PostgreSQL, set by CI where the gateway's own processes run too.
    "SCIMGATE_TEST_POSTGRES_URL",
];

/// What the layer did: where each edited value came from, and the `SCIMGATE_*` names it did
/// not recognise (an error unless an org's `key_env` names them).
pub(super) struct Applied {
    pub(crate) provenance: Provenance,
    pub(crate) unrecognised: Vec<String>,
}

/// One org-scoped variable: `(section, field)` and its raw value.
struct OrgEdit<'a> {
    var: &'a str,
    section: Option<&'static str>,
    field: &'static str,
    kind: Kind,
    raw: &'a str,
}

/// The env form of an org id: upper-cased, `-` as `_`.
pub(super) fn env_id(id: &str) -> String {
    id.to_ascii_uppercase().replace('-', "_")
}

pub(super) fn apply(root: &mut Table, env: &[(String, String)]) -> Result<Applied, ConfigError> {
    let mut applied = Applied {
        provenance: Provenance::new(),
        unrecognised: Vec::new(),
    };
    // Sorted, and the last occurrence of a name wins, like a shell.
    let vars: BTreeMap<&str, &str> = env
        .iter()
        .filter(|(name, _)| name.starts_with(PREFIX) && !OTHER_VARS.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let mut by_org: BTreeMap<String, Vec<OrgEdit>> = BTreeMap::new();
    for (&var, &raw) in &vars {
        if let Some((prefix, table, fields)) =
            TABLES.iter().find(|(prefix, _, _)| var.starts_with(prefix))
        {
            let field = var[prefix.len()..].to_ascii_lowercase();
            if let Some((name, kind)) = fields.iter().find(|(name, _)| *name == field) {
                let section = subtable(root, table, table)?;
                section.insert(name.to_string(), convert(var, *kind, raw)?);
                applied
                    .provenance
                    .insert(format!("{table}.{name}"), var.to_string());
                continue;
            }
        } else if let Some(rest) = var.strip_prefix(ORGS_PREFIX)
            && let Some((id, section, field, kind)) = split_org_var(rest)
        {
            by_org.entry(id).or_default().push(OrgEdit {
                var,
                section,
                field,
                kind,
                raw,
            });
            continue;
        }
        applied.unrecognised.push(var.to_string());
    }
    for (id, edits) in by_org {
        apply_org(root, &id, &edits, &mut applied.provenance)?;
    }
    Ok(applied)
}

/// Splits `<ID>__<FIELD>` or `<ID>__<SECTION>__<FIELD>`, reading from the end so an id may
/// itself contain `__`. `ID` is not settable: the id is the variable's name.
fn split_org_var(rest: &str) -> Option<(String, Option<&'static str>, &'static str, Kind)> {
    let parts: Vec<&str> = rest.split("__").collect();
    let lower = |s: &str| s.to_ascii_lowercase();
    if parts.len() >= 3 {
        let (section, field) = (lower(parts[parts.len() - 2]), lower(parts[parts.len() - 1]));
        if let Some((name, fields)) = schema::ORG_SECTIONS
            .iter()
            .find(|(name, _)| *name == section)
            && let Some((fname, kind)) = fields.iter().find(|(n, _)| *n == field)
        {
            return Some((
                parts[..parts.len() - 2].join("__"),
                Some(*name),
                *fname,
                *kind,
            ));
        }
    }
    if parts.len() >= 2 {
        let field = lower(parts[parts.len() - 1]);
        if let Some((fname, kind)) = schema::ORG.iter().find(|(n, _)| *n == field && *n != "id") {
            return Some((parts[..parts.len() - 1].join("__"), None, *fname, *kind));
        }
    }
    None
}

fn apply_org(
    root: &mut Table,
    id: &str,
    edits: &[OrgEdit],
    provenance: &mut Provenance,
) -> Result<(), ConfigError> {
    let first = edits[0].var;
    let Value::Array(orgs) = root
        .entry("orgs")
        .or_insert_with(|| Value::Array(Vec::new()))
    else {
        return Err(not_a_table(first, "orgs"));
    };
    let matches: Vec<usize> = (0..orgs.len())
        .filter(|&i| {
            let org_id = orgs[i].get("id").and_then(Value::as_str);
            org_id.is_some_and(|org_id| env_id(org_id).eq_ignore_ascii_case(id))
        })
        .collect();
    let index = match matches.as_slice() {
        [index] => *index,
        [] => {
            let org = id.to_ascii_lowercase();
            if !edits.iter().any(|e| e.field == "base_url") {
                return Err(ConfigError::EnvOrgWithoutBaseUrl {
                    var: first.to_string(),
                    org,
                    prefix: format!("{ORGS_PREFIX}{id}__"),
                });
            }
            orgs.push(Value::Table(Table::from_iter([(
                "id".to_string(),
                Value::String(org),
            )])));
            orgs.len() - 1
        }
        many => {
            let orgs = many
                .iter()
                .filter_map(|&i| orgs[i].get("id").and_then(Value::as_str))
                .map(String::from)
                .collect();
            return Err(ConfigError::EnvAmbiguousOrg {
                var: first.to_string(),
                orgs,
            });
        }
    };
    let label = match orgs[index].as_table() {
        Some(table) => schema::org_label(table, index),
        None => return Err(not_a_table(first, "orgs")),
    };
    let org = orgs[index].as_table_mut().expect("checked above");
    // A key source set here replaces the one from an earlier layer, unless both are set here.
    let sets = |field: &str| {
        edits
            .iter()
            .any(|e| e.section.is_none() && e.field == field)
    };
    if sets("key_env") && !sets("key_file") {
        org.remove("key_file");
    }
    if sets("key_file") && !sets("key_env") {
        org.remove("key_env");
    }
    for edit in edits {
        let value = convert(edit.var, edit.kind, edit.raw)?;
        let (table, path) = match edit.section {
            None => (&mut *org, format!("{label}.{}", edit.field)),
            Some(section) => (
                subtable(org, section, &format!("{label}.{section}"))?,
                format!("{label}.{section}.{}", edit.field),
            ),
        };
        table.insert(edit.field.to_string(), value);
        provenance.insert(path, edit.var.to_string());
    }
    Ok(())
}

/// The table under `key`, created when absent.
fn subtable<'t>(
    parent: &'t mut Table,
    key: &str,
    path: &str,
) -> Result<&'t mut Table, ConfigError> {
    match parent
        .entry(key)
        .or_insert_with(|| Value::Table(Table::new()))
    {
        Value::Table(table) => Ok(table),
        _ => Err(ConfigError::Value {
            at: format!("key `{path}`"),
            message: "expected a table".into(),
        }),
    }
}

fn not_a_table(var: &str, path: &str) -> ConfigError {
    ConfigError::EnvValue {
        var: var.to_string(),
        message: format!("cannot apply it: `{path}` in the config file is not an array of tables"),
    }
}

/// Reads a variable's text as the field's kind: numbers and booleans are parsed, everything
/// else stays a string for the schema check and serde to judge.
fn convert(var: &str, kind: Kind, raw: &str) -> Result<Value, ConfigError> {
    let trimmed = raw.trim();
    let bad = |what: &str| ConfigError::EnvValue {
        var: var.to_string(),
        // The value is not repeated: it may be a secret set on the wrong variable.
        message: format!("expected {what}"),
    };
    Ok(match kind {
        Kind::Int => Value::Integer(trimmed.parse().map_err(|_| bad("a whole number"))?),
        Kind::Float => Value::Float(trimmed.parse().map_err(|_| bad("a number"))?),
        Kind::Bool => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Value::Boolean(true),
            "false" | "0" | "no" => Value::Boolean(false),
            _ => return Err(bad("true or false")),
        },
        Kind::Str | Kind::Duration | Kind::Addr | Kind::Profile | Kind::Role => {
            Value::String(trimmed.to_string())
        }
        // A comma-separated list: `https://a.example,https://b.example`, `24h,1h`.
        Kind::StrList | Kind::DurationList => Value::Array(
            trimmed
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        // Comma-separated `name=duration` pairs: `Admins=4h,Billing=1h`.
        Kind::DurationMap => {
            let mut table = Table::new();
            for pair in trimmed.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (name, duration) = pair
                    .split_once('=')
                    .ok_or_else(|| bad("comma-separated name=duration pairs"))?;
                table.insert(
                    name.trim().to_string(),
                    Value::String(duration.trim().to_string()),
                );
            }
            Value::Table(table)
        }
    })
}
