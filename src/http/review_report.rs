//! `GET /reviews/{id}/report`: an access review as a self-contained HTML report for auditors
//! (no external assets; prints cleanly to PDF): the organization, the period, the snapshot the
//! review froze with its hashes and the mirror's age, summary counts, the changes since the
//! previous review's snapshot, one row per decision, and the chain of snapshot hashes.
//! Admin and auditor keys, as `Authorization: Bearer <key>` or `?access_token=<key>`.

mod render;

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use percent_encoding::percent_decode_str;

use super::mask::RequestId;
use super::{AppState, edge_error};
use crate::governance::snapshots::{self, Diff};
use crate::graphql::errors::Code;
use crate::store::{ItemFilter, ReviewItem, ReviewRow, SnapshotRow, Store, StoreError};

/// At most this many snapshots are shown in the chain of hashes.
const CHAIN_LIMIT: i64 = 100;
/// Items are read a page of this many at a time.
const ITEM_PAGE: i64 = 1_000;

/// Everything the report shows.
pub(crate) struct Report {
    pub review: ReviewRow,
    pub items: Vec<ReviewItem>,
    pub snapshot: Option<SnapshotRow>,
    /// The organization's review before this one, and its snapshot.
    pub previous: Option<(ReviewRow, Option<SnapshotRow>)>,
    /// From the previous review's snapshot to this one's (none for a first review).
    pub diff: Option<Diff>,
    /// Snapshots from the previous review's (or up to [`CHAIN_LIMIT`] before) to this one's,
    /// oldest first.
    pub chain: Vec<SnapshotRow>,
    pub generated_at_ms: i64,
    pub version: &'static str,
}

/// The key the query string carries, if any; an error naming what is wrong otherwise.
fn access_token(raw: Option<&str>) -> Result<Option<String>, &'static str> {
    let mut token = None;
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "access_token" {
            return Err(
                "this endpoint takes one parameter, `access_token` (or send the key as `Authorization: Bearer <key>`)",
            );
        }
        if token.is_some() {
            return Err("`access_token` is given more than once");
        }
        let value = percent_decode_str(value)
            .decode_utf8()
            .map(Cow::into_owned)
            .map_err(|_| "`access_token` is not UTF-8")?;
        token = Some(value);
    }
    Ok(token)
}

async fn gather(store: &Store, review: ReviewRow) -> Result<Report, StoreError> {
    let org = review.org.clone();
    let mut items = Vec::new();
    loop {
        let after = items.last().map_or(0, |i: &ReviewItem| i.seq);
        let page = store
            .review_items(&review.id, &ItemFilter::default(), after, ITEM_PAGE)
            .await?;
        let done = page.len() < usize::try_from(ITEM_PAGE).unwrap_or(usize::MAX);
        items.extend(page);
        if done {
            break;
        }
    }
    let snapshot = store.snapshot(&org, review.snapshot_seq).await?;
    let previous = match store.reviews_page(&org, Some(&review.id), 1).await?.pop() {
        Some(prev) => {
            let snap = store.snapshot(&org, prev.snapshot_seq).await?;
            Some((prev, snap))
        }
        None => None,
    };
    let diff = match &previous {
        Some((prev, Some(_))) if prev.snapshot_seq != review.snapshot_seq => {
            let from = snapshots::content_of(store, &org, prev.snapshot_seq).await?;
            let to = snapshots::content_of(store, &org, review.snapshot_seq).await?;
            match (from, to) {
                (Some(from), Some(to)) => Some(
                    tokio::task::spawn_blocking(move || snapshots::diff(&from, &to))
                        .await
                        .map_err(|_| StoreError::Corrupt("the snapshot diff failed".into()))?,
                ),
                _ => None,
            }
        }
        Some((_, Some(_))) => Some(Diff::default()),
        _ => None,
    };
    // From the previous review's snapshot (inclusive) to this one's, at most CHAIN_LIMIT.
    let above = previous
        .as_ref()
        .map(|(p, _)| p.snapshot_seq - 1)
        .filter(|s| *s < review.snapshot_seq);
    let mut chain = store
        .snapshots_page(
            &org,
            above,
            Some(review.snapshot_seq + 1),
            true,
            CHAIN_LIMIT,
        )
        .await?;
    chain.reverse();
    Ok(Report {
        review,
        items,
        snapshot,
        previous,
        diff,
        chain,
        generated_at_ms: now_ms(),
        version: env!("CARGO_PKG_VERSION"),
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) async fn report(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let rid = RequestId::from_headers(&headers);
    let fail = |status, code, message: &str| edge_error(status, code, message, Some(&rid));
    let token = match access_token(raw.as_deref()) {
        Ok(t) => t,
        Err(message) => return fail(StatusCode::BAD_REQUEST, Code::BadRequest, message),
    };
    let mut headers = headers;
    if let Some(token) = token {
        match HeaderValue::from_str(&format!("Bearer {token}")) {
            Ok(v) => {
                headers.insert(header::AUTHORIZATION, v);
            }
            Err(_) => {
                headers.remove(header::AUTHORIZATION);
            }
        }
    }
    let principal = match super::export::auditor(&state, &headers, &rid, "the access review report")
    {
        Ok(p) => p,
        Err(refused) => return *refused,
    };
    // An id that does not decode, or of an organization the key may not reach: all look like
    // a review that does not exist.
    let not_found = || {
        fail(
            StatusCode::NOT_FOUND,
            Code::NotFound,
            "no such access review for this API key",
        )
    };
    let Some(g) = super::review_page::review_key(&id) else {
        return not_found();
    };
    let org = g.org.to_string();
    if state.dirs.get(org.as_str()).is_none() || !principal.orgs.allows(&org) {
        return not_found();
    }
    let unavailable = || {
        fail(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::StoreUnavailable,
            "the report cannot be made now: the gateway's store is unavailable; try again later",
        )
    };
    let Some(store) = state.store.clone() else {
        return unavailable();
    };
    let review = match store.review(&g.key).await {
        Ok(Some(r)) if r.org == org => r,
        Ok(_) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "a review could not be read for its report");
            return unavailable();
        }
    };
    let report = match gather(&store, review).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "a review's report could not be gathered");
            return unavailable();
        }
    };
    let Ok(html) = tokio::task::spawn_blocking(move || render::html(&report)).await else {
        tracing::error!("rendering a review report failed");
        return fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::Internal,
            "internal error",
        );
    };
    let mut response = (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
                ),
            ),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
        Html(html),
    )
        .into_response();
    rid.stamp(&mut response);
    response
}

#[cfg(test)]
mod tests {
    use super::access_token;

    #[test]
    fn the_query_string_carries_only_the_key() {
        assert_eq!(access_token(None), Ok(None));
        assert_eq!(
            access_token(Some("access_token=a%2Bb")),
            Ok(Some("a+b".into()))
        );
        assert!(access_token(Some("format=pdf")).is_err());
        assert!(access_token(Some("access_token=a&access_token=b")).is_err());
    }
}
