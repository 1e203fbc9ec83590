//! `GET /export/reviews/{id}?format=csv|jsonl`: one access review as evidence (see
//! `governance::reviews::export`), streamed a page of items at a time, for auditor and admin
//! keys within their organizations. `{id}` is the review's global id (`AccessReview.id`).
//! Evidence is kept as long as the review: its items and its snapshot (which retention never
//! prunes while a review names it).

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::{StreamExt, stream};

use super::mask::RequestId;
use super::{AppState, edge_error};
use crate::governance::reviews::export;
use crate::graphql::errors::Code;
use crate::graphql::ids::Kind;
use crate::store::{ItemFilter, ReviewItem, ReviewRow, Store, StoreError, now_ms};

/// Items read per page of the body.
const PAGE: i64 = 1_000;

/// The next page of items after `after`, and where the one after starts.
async fn page(
    store: &Store,
    review: &str,
    after: i64,
) -> Result<(Vec<ReviewItem>, Option<i64>), StoreError> {
    let items = store
        .review_items(review, &ItemFilter::default(), after, PAGE)
        .await?;
    let next = (items.len() as i64 == PAGE).then(|| items.last().map_or(after, |i| i.seq));
    Ok((items, next))
}

fn render(csv: bool, review: &ReviewRow, items: &[ReviewItem]) -> Vec<u8> {
    if csv {
        export::csv_rows(review, items)
    } else {
        export::json_rows(review, items)
    }
}

pub(crate) async fn review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let rid = RequestId::from_headers(&headers);
    let fail = |status, code, message: &str| edge_error(status, code, message, Some(&rid));
    let not_found = || {
        fail(
            StatusCode::NOT_FOUND,
            Code::NotFound,
            "no such access review for this API key",
        )
    };
    let what = ("access review", Kind::AccessReview, "jsonl");
    let (g, csv) = match super::export::evidence(&state, &headers, &rid, raw.as_deref(), what, &id)
    {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    let org = g.org.to_string();
    let unavailable = || {
        fail(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::StoreUnavailable,
            "access reviews cannot be read now: the gateway's store is unavailable; try again later",
        )
    };
    let Some(store) = state.store.clone() else {
        return unavailable();
    };
    let read = async {
        let Some(review) = store.review(&g.key).await?.filter(|r| r.org == org) else {
            return Ok(None);
        };
        let snapshot = store.snapshot(&org, review.snapshot_seq).await?;
        let first = page(&store, &review.id, 0).await?;
        Ok::<_, StoreError>(Some((review, snapshot, first)))
    };
    let (review, snapshot, (items, next)) = match read.await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "an access review could not be read for an export");
            return unavailable();
        }
    };
    let header_fields = export::header(&review, snapshot.as_ref(), now_ms());
    let mut head = if csv {
        export::csv_head(&header_fields)
    } else {
        export::json_head(&header_fields)
    };
    head.extend(render(csv, &review, &items));
    let filename = format!(
        "attachment; filename=\"review-{}-{}.{}\"",
        review
            .org
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
        review.id,
        if csv { "csv" } else { "jsonl" }
    );
    let hash = snapshot.map(|s| s.hash).unwrap_or_default();
    let rest = stream::unfold(
        (store, review, next),
        move |(store, review, next)| async move {
            let after = next?;
            match page(&store, &review.id, after).await {
                Ok((items, next)) if !items.is_empty() => {
                    let bytes = Bytes::from(render(csv, &review, &items));
                    Some((Ok(bytes), (store, review, next)))
                }
                Ok(_) => None,
                Err(e) => {
                    // The status is sent: ending the body early is all that is left to say.
                    tracing::error!(error = %e, "a review export stopped: the store could not be read");
                    Some((Err(e), (store, review, None)))
                }
            }
        },
    );
    let body = stream::once(async { Ok::<_, StoreError>(Bytes::from(head)) }).chain(rest);
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    let kind = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/jsonl"
    };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&filename) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&hash) {
        h.insert("x-snapshot-hash", v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    rid.stamp(&mut response);
    response
}
