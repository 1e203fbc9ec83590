//! GraphiQL, served by the binary itself: the page and its vendored assets (see
//! `assets/graphiql/VERSIONS.txt`; refreshed by `scripts/vendor-graphiql.sh`), no CDN.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

const PAGE: &str = include_str!("../../assets/graphiql/index.html");

const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "LICENSE-graphiql.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/graphiql/LICENSE-graphiql.txt"),
    ),
    (
        "LICENSE-react.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../../assets/graphiql/LICENSE-react.txt"),
    ),
];

/// The GraphiQL page, with the headers it sends by default (e.g. the demo's API key) and the
/// query it opens with.
#[derive(Clone, Debug)]
pub(crate) struct GraphiqlPage {
    html: String,
}

impl GraphiqlPage {
    pub(crate) fn new(default_headers: Option<&str>, default_query: &str) -> GraphiqlPage {
        let html = PAGE
            .replace(
                "__SCIMGATE_DEFAULT_HEADERS__",
                &script_string(default_headers.unwrap_or("")),
            )
            .replace("__SCIMGATE_DEFAULT_QUERY__", &script_string(default_query));
        GraphiqlPage { html }
    }

    /// Never stored: the demo's page carries its admin key in the default headers.
    pub(crate) fn response(&self) -> Response {
        (
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            Html(self.html.clone()),
        )
            .into_response()
    }
}

/// A JSON string literal that is safe inside `<script>`: no `<`, `>` or `&` survive.
fn script_string(s: &str) -> String {
    serde_json::to_string(s)
        .expect("a string serializes")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// `GET /graphiql/{file}`.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=86400"),
                ),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_with_script_safe_strings() {
        let page = GraphiqlPage::new(
            Some(r#"{"Authorization":"Bearer x"}"#),
            "{ orgs { name } } </script><script>alert(1)</script>",
        );
        assert!(!page.html.contains("__SCIMGATE_"));
        assert!(!page.html.contains("</script><script>alert"));
        assert!(page.html.contains(r#"\"Authorization\":\"Bearer x\""#));
        assert!(
            !page.html.contains("https://"),
            "the page loads nothing from the network"
        );
    }
}
