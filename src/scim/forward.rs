//! The SCIM proxy's raw call: a request forwarded as its client sent it (method, path below
//! the SCIM root, query, JSON body, `If-Match`), through the budget, the retry policy and the
//! write trace like every other call, with the success answer kept as received.

use reqwest::Method;
use serde_json::Value;

use super::client::ScimClient;
use super::error::ScimError;
use crate::budget::Lane;

/// A success answer to a forwarded request, as the upstream sent it.
#[derive(Clone, Debug, PartialEq)]
pub struct Forwarded {
    pub status: u16,
    /// The body text (empty for a `204`).
    pub body: String,
    pub etag: Option<String>,
    pub location: Option<String>,
}

/// The first path segments the proxy forwards below the SCIM root (RFC 7644 §3.2; `/Bulk`
/// and `/Me` are not forwarded: see [`check_path`]).
const RESOURCES: [&str; 6] = [
    "Users",
    "Groups",
    "ServiceProviderConfig",
    "ResourceTypes",
    "Schemas",
    ".search",
];

/// Why a path below the SCIM root is not forwarded, when it is not: only the SCIM endpoints,
/// never a segment that would climb out of the root (`..`, `.`, or one hiding a `/` or `\` in
/// percent-encoding), at most 3 segments, each at most 512 characters.
pub fn check_path(path: &str) -> Result<(), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("the path must start with `/`".to_owned());
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let first = segments[0];
    if first == "Bulk" || first == "Me" {
        return Err(format!(
            "/{first} is not forwarded: the gateway forwards one operation per request, so each takes its own budget lane and audit row"
        ));
    }
    if !RESOURCES.contains(&first) {
        return Err(format!(
            "no SCIM endpoint /{}; the proxy forwards /Users, /Groups, /ServiceProviderConfig, /ResourceTypes, /Schemas and /.search",
            first.chars().take(60).collect::<String>()
        ));
    }
    if segments.len() > 3 {
        return Err("too many path segments for a SCIM endpoint".to_owned());
    }
    for segment in &segments[1..] {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        if segment.is_empty()
            || segment.len() > 512
            || decoded == "."
            || decoded == ".."
            || decoded.contains(['/', '\\'])
            || decoded.chars().any(char::is_control)
        {
            return Err("a path segment is empty, too long or not a resource id".to_owned());
        }
    }
    Ok(())
}

impl ScimClient {
    /// Sends one request below the SCIM root as given, in `lane`. Retries follow the policy
    /// (a POST or PATCH is never sent twice), and a failure is the same [`ScimError`] as any
    /// other call's, its outcome unknown where the write may have been applied.
    pub(crate) async fn forward(
        &self,
        lane: Lane,
        method: Method,
        path_and_query: (&str, &[(String, String)]),
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Forwarded, ScimError> {
        let (path, query) = path_and_query;
        if let Err(reason) = check_path(path) {
            // The layers above check first; this one never sends outside the root anyway.
            tracing::warn!(org = %self.org(), reason, "a forwarded path was refused");
            return Err(ScimError::NotFound);
        }
        let query: Vec<(&str, String)> =
            query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let answer = self
            .call_if_match(lane, method, path, &query, body, if_match)
            .await?;
        Ok(Forwarded {
            status: answer.status.as_u16(),
            body: answer.body,
            etag: answer.etag,
            location: answer.location,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn only_scim_endpoints_inside_the_root_are_forwarded() {
        for ok in [
            "/Users",
            "/Users/alice@example.com",
            "/Groups/42",
            "/Users/.search",
            "/ServiceProviderConfig",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            "/.search",
        ] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "Users",
            "/",
            "/_emulator/requests",
            "/Users/..",
            "/Users/%2e%2E",
            "/Users/a%2Fb",
            "/Users/a%5Cb",
            "/Users//x",
            "/Users/a/b/c",
            "/Bulk",
            "/Me",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        assert!(check_path("/Bulk").unwrap_err().contains("not forwarded"));
    }
}
