//! The audit log's export formats (CSV with a header row, JSON Lines), written a page of rows
//! at a time, and the time bounds an export takes; shared by `/export/audit` and the CLI.
//!
//! Every stored value is written as stored (`at_ms`, and `targets` and `calls` as their JSON
//! text), so a row of an export can be checked against its hash.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::AuditEntry;
use super::audit::CHUNK;

/// Rows an export reads per round trip to the store (and writes per chunk of output).
pub const EXPORT_CHUNK: i64 = CHUNK;

/// The columns of a CSV export, in order; a JSON Lines export has the same keys.
pub const EXPORT_COLUMNS: [&str; 15] = [
    "seq",
    "at",
    "at_ms",
    "request_id",
    "actor",
    "role",
    "org",
    "action",
    "targets",
    "input",
    "outcome",
    "error_code",
    "calls",
    "prev_hash",
    "hash",
];

/// An export's format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExportFormat {
    /// A header row, then one row per audit row; `targets` and `calls` as JSON text.
    #[default]
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Jsonl => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
        }
    }

    /// What comes before the first row: the CSV header, or nothing.
    pub fn header(self) -> Vec<u8> {
        match self {
            ExportFormat::Csv => csv_bytes(|w| w.write_record(EXPORT_COLUMNS)),
            ExportFormat::Jsonl => Vec::new(),
        }
    }

    /// `rows` in this format, one line (CSV row or JSON object) each.
    pub fn rows(self, rows: &[AuditEntry]) -> Vec<u8> {
        match self {
            ExportFormat::Csv => csv_bytes(|w| {
                for row in rows {
                    w.write_record(cells(row))?;
                }
                Ok(())
            }),
            ExportFormat::Jsonl => {
                let mut out = Vec::new();
                for row in rows {
                    let object: serde_json::Map<String, serde_json::Value> = EXPORT_COLUMNS
                        .iter()
                        .zip(values(row))
                        .map(|(k, v)| ((*k).to_owned(), v))
                        .collect();
                    // Writing JSON into a Vec cannot fail.
                    let _ = serde_json::to_writer(&mut out, &object);
                    out.push(b'\n');
                }
                out
            }
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "jsonl" | "ndjson" => Ok(ExportFormat::Jsonl),
            other => Err(format!(
                "unknown format {:?} (expected csv or jsonl)",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

fn csv_bytes(write: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> csv::Result<()>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing into a Vec cannot fail, and every record has the same width.
    let _ = write(&mut w);
    w.into_inner().unwrap_or_default()
}

fn at_text(at_ms: i64) -> String {
    let ms = u64::try_from(at_ms).unwrap_or(0);
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// A row's values in column order, as JSON (`targets` and `calls` as arrays).
fn values(row: &AuditEntry) -> [serde_json::Value; 15] {
    let r = &row.record;
    [
        row.seq.into(),
        at_text(r.at_ms).into(),
        r.at_ms.into(),
        r.request_id.clone().into(),
        r.actor.clone().into(),
        r.role.clone().into(),
        r.org.clone().into(),
        r.action.clone().into(),
        serde_json::to_value(&r.targets).unwrap_or_default(),
        r.input.clone().into(),
        r.outcome.clone().into(),
        r.error_code.clone().into(),
        serde_json::to_value(&r.calls).unwrap_or_default(),
        row.prev_hash.clone().into(),
        row.hash.clone().into(),
    ]
}

/// A row's CSV cells in column order (`targets` and `calls` as their stored JSON text).
fn cells(row: &AuditEntry) -> [String; 15] {
    let r = &row.record;
    [
        row.seq.to_string(),
        at_text(r.at_ms),
        r.at_ms.to_string(),
        r.request_id.clone(),
        r.actor.clone(),
        r.role.clone(),
        r.org.clone(),
        r.action.clone(),
        serde_json::to_string(&r.targets).unwrap_or_default(),
        r.input.clone(),
        r.outcome.clone(),
        r.error_code.clone(),
        serde_json::to_string(&r.calls).unwrap_or_default(),
        row.prev_hash.clone(),
        row.hash.clone(),
    ]
}

/// A time bound of an export in Unix milliseconds: an RFC 3339 date-time
/// (`2026-11-29T15:04:05Z`), or an age before `now` such as `90d` or `12h`.
pub fn parse_time_bound(text: &str, now: SystemTime) -> Result<i64, String> {
    let text = text.trim();
    let at = match humantime::parse_rfc3339_weak(text) {
        Ok(at) => at,
        Err(_) => {
            let age = humantime::parse_duration(text).map_err(|_| {
                "expected an RFC 3339 date-time such as 2026-11-29T15:04:05Z, or an age such as 90d or 12h".to_owned()
            })?;
            now.checked_sub(age).unwrap_or(UNIX_EPOCH)
        }
    };
    Ok(at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditRecord, Target, UpstreamCall};

    fn row() -> AuditEntry {
        AuditEntry {
            seq: 7,
            record: AuditRecord {
                at_ms: 1_700_000_000_123,
                request_id: "req-1".into(),
                actor: "ci".into(),
                role: "write".into(),
                org: "acme".into(),
                action: "inviteUser".into(),
                targets: vec![Target {
                    kind: "User".into(),
                    id: "ada@example.com".into(),
                    email: Some("ada@example.com".into()),
                }],
                input: r#"{"email":"ada@example.com","note":"a, \"quoted\"\nline"}"#.into(),
                outcome: "SUCCESS".into(),
                error_code: String::new(),
                calls: vec![UpstreamCall {
                    method: "POST".into(),
                    path: "/scim/1/Users".into(),
                    status: Some(201),
                    ms: 12,
                }],
            },
            prev_hash: "aa".into(),
            hash: "bb".into(),
        }
    }

    #[test]
    fn csv_rows_read_back_with_their_header_and_json_cells() {
        let mut bytes = ExportFormat::Csv.header();
        bytes.extend(ExportFormat::Csv.rows(&[row(), row()]));
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, EXPORT_COLUMNS);
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(&records[0][0], "7");
        assert_eq!(&records[0][1], "2023-11-14T22:13:20.123Z");
        assert_eq!(&records[0][9], row().record.input);
        let calls: serde_json::Value = serde_json::from_str(&records[0][12]).unwrap();
        assert_eq!(calls[0]["status"], 201);
    }

    #[test]
    fn jsonl_is_one_object_a_line_with_the_csv_columns() {
        let bytes = ExportFormat::Jsonl.rows(&[row(), row()]);
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        let keys: Vec<&String> = lines[0].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), EXPORT_COLUMNS.len());
        assert_eq!(lines[0]["targets"][0]["email"], "ada@example.com");
        assert_eq!(lines[0]["at_ms"], 1_700_000_000_123_i64);
        assert!(ExportFormat::Jsonl.header().is_empty());
    }

    #[test]
    fn time_bounds_are_dates_or_ages_and_nothing_else() {
        let now = UNIX_EPOCH + Duration::from_secs(100 * 86_400);
        assert_eq!(
            parse_time_bound("1970-01-02T00:00:00Z", now),
            Ok(86_400_000)
        );
        assert_eq!(parse_time_bound("90d", now), Ok(10 * 86_400_000));
        assert_eq!(
            parse_time_bound("12h", now),
            Ok(100 * 86_400_000 - 12 * 3_600_000)
        );
        assert!(parse_time_bound("yesterday", now).is_err());
        assert!(parse_time_bound("", now).is_err());
        assert_eq!("JSONL".parse(), Ok(ExportFormat::Jsonl));
        assert!("xml".parse::<ExportFormat>().is_err());
    }
}
