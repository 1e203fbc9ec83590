//! Resource versions and times: weak ETags `W/"n"` (RFC 7644 §3.14), `If-Match` on writes (412
//! when stale), `If-None-Match` on reads (304), and RFC 3339 instants written and read.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::errors::ScimError;

/// The weak ETag of a version, as `meta.version` and the `ETag` header carry it.
pub(crate) fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// Whether a header listing entity tags (`*`, or comma-separated, weak or strong) names this
/// version. Compared weakly, as SCIM's versions are weak (RFC 7644 §3.14).
fn names(list: &str, version: u64) -> bool {
    let want = version.to_string();
    list.split(',').map(str::trim).any(|tag| {
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        tag == "*" || tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) == Some(&want)
    })
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A write's precondition: 412 Precondition Failed when `If-Match` names another version.
pub(crate) fn check_if_match(headers: &HeaderMap, version: u64) -> Result<(), ScimError> {
    match header_text(headers, header::IF_MATCH) {
        Some(list) if !names(list, version) => Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            format!(
                "If-Match {list} does not match the resource's version {}",
                etag(version)
            ),
        )),
        _ => Ok(()),
    }
}

/// A read's condition: `Some(304)` when `If-None-Match` names the current version.
pub(crate) fn not_modified(headers: &HeaderMap, version: u64) -> Option<Response> {
    let list = header_text(headers, header::IF_NONE_MATCH)?;
    names(list, version).then(|| with_etag(StatusCode::NOT_MODIFIED.into_response(), version))
}

/// Adds the `ETag` header of this version.
pub(crate) fn with_etag(mut response: Response, version: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// The current time as Amplitude writes it: `2022-02-03T20:40:22.000+00:00`.
pub(crate) fn now_iso() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    iso8601(d.as_secs(), d.subsec_millis())
}

/// Formats seconds since the Unix epoch (UTC) as ISO 8601 with milliseconds.
pub(crate) fn iso8601(secs: u64, millis: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}+00:00",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// Milliseconds since the Unix epoch of an RFC 3339 date-time (`2026-12-07T15:00:00Z`,
/// `…T15:00:00.123+01:00`); `None` when the text is not one.
pub(crate) fn rfc3339_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |a: usize, b: usize| -> Option<i64> {
        let part = s.get(a..b)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let first3: String = frac[..digits].chars().chain("00".chars()).take(3).collect();
        millis = first3.parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ => {
            let (sign, hm) = match rest.as_bytes().first()? {
                b'+' => (1, &rest[1..]),
                b'-' => (-1, &rest[1..]),
                _ => return None,
            };
            let (h, m) = hm.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?)
        }
    };
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_min * 60;
    Some(secs * 1_000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_compares_weakly_and_accepts_a_star() {
        assert!(names("W/\"3\"", 3));
        assert!(names("\"3\"", 3));
        assert!(names("W/\"1\", W/\"3\"", 3));
        assert!(names("*", 9));
        assert!(!names("W/\"2\"", 3));
        assert!(!names("3", 3));
        let mut h = HeaderMap::new();
        assert!(check_if_match(&h, 3).is_ok());
        h.insert(header::IF_MATCH, HeaderValue::from_static("W/\"2\""));
        let err = check_if_match(&h, 3).unwrap_err();
        assert_eq!(err.status, StatusCode::PRECONDITION_FAILED);
        assert!(check_if_match(&h, 2).is_ok());
    }

    #[test]
    fn if_none_match_answers_304_only_for_the_current_version() {
        let mut h = HeaderMap::new();
        assert!(not_modified(&h, 1).is_none());
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"1\""));
        let r = not_modified(&h, 1).expect("304");
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(r.headers()[header::ETAG], "W/\"1\"");
        assert!(not_modified(&h, 2).is_none());
    }

    #[test]
    fn iso8601_formats_known_instants() {
        assert_eq!(iso8601(0, 0), "1970-01-01T00:00:00.000+00:00");
        assert_eq!(iso8601(1_643_920_822, 0), "2022-02-03T20:40:22.000+00:00");
        assert_eq!(iso8601(951_782_400, 5), "2000-02-29T00:00:00.005+00:00");
    }

    #[test]
    fn rfc3339_reads_zones_and_fractions() {
        assert_eq!(rfc3339_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_millis("1970-01-01T00:00:01.5Z"), Some(1_500));
        assert_eq!(
            rfc3339_millis("2022-02-03T20:40:22.000+00:00"),
            Some(1_643_920_822_000)
        );
        assert_eq!(
            rfc3339_millis("2022-02-03T21:40:22+01:00"),
            Some(1_643_920_822_000)
        );
        assert_eq!(
            rfc3339_millis("2000-02-29T00:00:00.005Z"),
            Some(951_782_400_005)
        );
        for bad in [
            "",
            "2022-02-03",
            "2022-13-03T00:00:00Z",
            "yesterday",
            "2022-02-03T20:40:22",
        ] {
            assert_eq!(rfc3339_millis(bad), None, "{bad}");
        }
    }
}
