//! What an organization's SCIM service supports, as its `/ServiceProviderConfig` says (RFC 7643
//! §5): filtering, which makes incremental refreshes possible, and ETags, which make `If-Match`
//! writes possible. Read once per process, in the lane of whoever first needs it; Amplitude has
//! no such document and supports neither, so it is never asked.

use reqwest::Method;
use serde_json::Value;

use super::client::ScimClient;
use super::error::ScimError;
use super::profile::Profile;
use crate::budget::Lane;

/// The features of a SCIM service the gateway uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Capabilities {
    /// `filter.supported`: lists take `filter=` (here: `meta.lastModified ge "…"`).
    pub(crate) filter: bool,
    /// `etag.supported`: resources carry `meta.version` and writes honour `If-Match`.
    pub(crate) etag: bool,
}

impl Capabilities {
    /// Reads a `ServiceProviderConfig` document; a feature counts only when it says
    /// `"supported": true`.
    pub(crate) fn parse(body: &str) -> Capabilities {
        let doc: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let supported = |feature: &str| doc[feature]["supported"].as_bool() == Some(true);
        Capabilities {
            filter: supported("filter"),
            etag: supported("etag"),
        }
    }
}

impl ScimClient {
    /// The service's capabilities, reading `/ServiceProviderConfig` in `lane` the first time.
    /// A service without the document (404 or another refusal) supports nothing optional, and
    /// that is remembered; a failure that may pass (a timeout, a 5xx) is returned and the
    /// document is asked for again next time.
    pub(crate) async fn discover(&self, lane: Lane) -> Result<Capabilities, ScimError> {
        if let Some(known) = self.known_capabilities() {
            return Ok(known);
        }
        let found = match self.profile() {
            Profile::Amplitude => Capabilities::default(),
            Profile::Rfc7644 => {
                match self
                    .call(
                        lane,
                        Method::GET,
                        "/ServiceProviderConfig",
                        &[],
                        None::<&()>,
                    )
                    .await
                {
                    Ok(answer) => Capabilities::parse(&answer.body),
                    Err(ScimError::NotFound | ScimError::Rejected { .. }) => {
                        Capabilities::default()
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        tracing::info!(org = %self.org(), filter = found.filter, etag = found.etag, "read the SCIM service's capabilities");
        Ok(*self.capability_cell().get_or_init(|| found))
    }

    /// The capabilities if they have been read (always known on Amplitude: none).
    pub(crate) fn known_capabilities(&self) -> Option<Capabilities> {
        match self.profile() {
            Profile::Amplitude => Some(Capabilities::default()),
            Profile::Rfc7644 => self.capability_cell().get().copied(),
        }
    }

    /// The `If-Match` value to send with a write of a resource at `version`: the version
    /// itself when the service is known to honour ETags, else none.
    pub(super) fn precondition<'v>(&self, version: Option<&'v str>) -> Option<&'v str> {
        version.filter(|_| self.known_capabilities().is_some_and(|c| c.etag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_counts_only_when_it_says_supported() {
        let all = r#"{"filter":{"supported":true,"maxResults":100},"etag":{"supported":true}}"#;
        assert_eq!(
            Capabilities::parse(all),
            Capabilities {
                filter: true,
                etag: true
            }
        );
        let some = r#"{"filter":{"supported":"yes"},"etag":{"supported":false}}"#;
        assert_eq!(Capabilities::parse(some), Capabilities::default());
        assert_eq!(Capabilities::parse("not json"), Capabilities::default());
        assert_eq!(Capabilities::parse("{}"), Capabilities::default());
    }
}
