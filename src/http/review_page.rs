//! `GET /reviews/{id}`: the access review page for people (reviewers who will not use
//! GraphiQL), and `GET /assets/review/{file}`, its script and style (`assets/review/`, no CDN,
//! no build step). The page carries no review data and no key: its script asks for the
//! reviewer's API key once, keeps it in the tab's `sessionStorage`, and reads and decides the
//! review through `/graphql` with it as `Authorization: Bearer`.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::edge_error;
use super::mask::RequestId;
use crate::graphql::errors::Code;
use crate::graphql::ids::{GlobalId, Kind};

const PAGE: &str = include_str!("../../assets/review/index.html");

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "review.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/review/review.js"),
    ),
    (
        "review.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/review/review.css"),
    ),
];

/// Scripts and styles from this gateway only, calls to it only; no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
    img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// `value` escaped for HTML text and quoted attribute values.
pub(super) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether `id` is an access review's global id (it need not exist: that takes a key).
pub(super) fn review_key(id: &str) -> Option<GlobalId> {
    GlobalId::decode(id).filter(|g| g.kind == Kind::AccessReview)
}

fn page(id: &str) -> String {
    PAGE.replace("__SCIMGATE_REVIEW_ID__", &escape(id))
}

pub(crate) async fn review(Path(id): Path<String>, headers: HeaderMap) -> Response {
    if review_key(&id).is_none() {
        return edge_error(
            StatusCode::NOT_FOUND,
            Code::NotFound,
            "no such access review: the address must end in an AccessReview id (its `pagePath`)",
            Some(&RequestId::from_headers(&headers)),
        );
    }
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        Html(page(&id)),
    )
        .into_response()
}

/// `GET /assets/review/{file}`.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, text)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            *text,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_nothing_from_elsewhere_and_carries_no_key() {
        let html = page("QWNjZXNzUmV2aWV3\"><script>x</script>");
        assert!(!html.contains("__SCIMGATE_"));
        assert!(!html.contains("<script>x"), "the id is escaped");
        assert!(!html.contains("https://") && !html.contains("http://"));
        for (_, _, text) in ASSETS {
            assert!(!text.contains("https://") && !text.contains("http://"));
            assert!(!text.contains("innerHTML"), "data goes in as text only");
        }
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
