//! `GET /export/snapshots/{id}?format=csv|json`: one access snapshot as evidence (see
//! `governance::snapshots::export`), for auditor and admin keys within their organizations.
//! `{id}` is the snapshot's global id (`Snapshot.id`).

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::mask::RequestId;
use super::{AppState, edge_error};
use crate::governance::snapshots::{self, export};
use crate::graphql::errors::Code;
use crate::graphql::ids::Kind;

pub(crate) async fn snapshot(
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
            "no such snapshot for this API key",
        )
    };
    let what = ("snapshot", Kind::Snapshot, "json");
    let (g, csv) = match super::export::evidence(&state, &headers, &rid, raw.as_deref(), what, &id)
    {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    let org = g.org.to_string();
    let Ok(seq) = g.key.parse::<i64>() else {
        return not_found();
    };
    let unavailable = || {
        fail(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::StoreUnavailable,
            "snapshots cannot be read now: the gateway's store is unavailable; try again later",
        )
    };
    let Some(store) = state.store.clone() else {
        return unavailable();
    };
    let read = async {
        let row = store.snapshot(&org, seq).await?;
        let content = snapshots::content_of(&store, &org, seq).await?;
        Ok::<_, crate::store::StoreError>(row.zip(content))
    };
    let (row, content) = match read.await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "a snapshot could not be read for an export");
            return unavailable();
        }
    };
    let hash = row.hash.clone();
    let filename = format!(
        "attachment; filename=\"snapshot-{}-{seq}.{}\"",
        row.org,
        if csv { "csv" } else { "json" }
    );
    let rendered = tokio::task::spawn_blocking(move || {
        if csv {
            export::csv(&content)
        } else {
            export::json(&row, &content)
        }
    })
    .await;
    let Ok(bytes) = rendered else {
        tracing::error!("rendering a snapshot export failed");
        return fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::Internal,
            "internal error",
        );
    };
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    let kind = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/json"
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
