//! The unified view's writes, each one of GraphQL's mutations (`graphql::mutation::outside`):
//! `POST /unified/users` (invite), `PATCH /unified/users/{id}` (names),
//! `POST /unified/users/{id}/deactivate`, `DELETE /unified/users/{id}`,
//! `POST /unified/groups/{id}/members` and `POST /unified/groups/{id}/members/remove`
//! (`{"users": [...]}`). An `Idempotency-Key` header makes a repeat send nothing again.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::params::Params;
use super::{Failure, answer, caller, group_of, org_dir, render, user_of};
use crate::auth::Role;
use crate::directory::Directory;
use crate::graphql::ids::GlobalId;
use crate::graphql::mutation::outside::{Writer, Written};
use crate::http::AppState;
use crate::http::mask::RequestId;

/// An invitation.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    org: Option<String>,
    email: String,
    first_name: String,
    last_name: String,
    #[serde(default)]
    groups: Vec<String>,
}

/// New names; a part left out stays.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Names {
    first_name: Option<String>,
    last_name: Option<String>,
}

/// Users by id (global), e-mail or upstream id.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Members {
    users: Vec<String>,
}

fn json_of<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| {
        // serde's message names the field and the expectation, never a value.
        let message = e.to_string();
        let shown: String = message.chars().take(200).collect();
        Failure::bad(format!("the body is not what this endpoint takes: {shown}"))
    })
}

fn writer<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    id: &'a RequestId,
) -> Result<Writer<'a>, Failure> {
    let principal = caller(state, headers, Role::Write)?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(Writer {
        schema: &state.schema,
        principal,
        request_id: &id.0,
        idempotency_key: key,
    })
}

/// A group id as a global id of `dir`'s organization.
fn global_group(dir: &Directory, id: &str) -> String {
    match GlobalId::decode(id) {
        Some(_) => id.to_owned(),
        None => render::group_id(dir, id),
    }
}

/// A user id (global, e-mail or upstream id) as a global id of `dir`'s organization.
fn global_user(dir: &Directory, id: &str) -> String {
    match GlobalId::decode(id) {
        Some(_) => id.to_owned(),
        None => render::user_id(dir, dir.user_key(id).as_str()),
    }
}

/// The write's answer: the object it left under `result` (201 for a creation), or its
/// first error's status with every error, coded as GraphQL's `userErrors` are.
fn written(result: Result<Written, String>, created: bool) -> Result<(StatusCode, Value), Failure> {
    let w = result
        .map_err(|m| Failure::bad(m.replace("`idempotencyKey`", "the Idempotency-Key header")))?;
    let errors: Vec<Value> = w
        .problems
        .iter()
        .map(
            |p| json!({ "message": p.message, "extensions": { "code": p.code, "field": p.field } }),
        )
        .collect();
    if !matches!(w.outcome.as_str(), "SUCCESS" | "PARTIAL") {
        let status = w
            .problems
            .first()
            .and_then(|p| StatusCode::from_u16(p.status_hint).ok())
            .unwrap_or(StatusCode::BAD_GATEWAY);
        return Ok((status, json!({ "outcome": w.outcome, "errors": errors })));
    }
    let result = if let Some((dir, rec)) = &w.user {
        render::user(dir, &dir.snapshot(), rec, false)
    } else if let Some((dir, rec)) = &w.group {
        render::group(dir, rec, false)
    } else {
        json!({ "id": w.deleted })
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        json!({ "result": result, "outcome": w.outcome, "errors": errors }),
    ))
}

/// `POST /unified/users`: `{ "org"?, "email", "first_name", "last_name", "groups"? }`.
#[utoipa::path(post, path = "/unified/users", tag = "unified",
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeating it with the same input within 24 hours returns the first answer and sends nothing")),
    request_body = NewUser,
    responses((status = 201, description = "Invited (status INVITED)", body = crate::http::openapi::WriteAnswer), crate::http::openapi::WriteFailures))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let result = async {
        let w = writer(&state, &headers, &id)?;
        let new: NewUser = json_of(&body)?;
        let dir = org_dir(&state, w.principal, new.org.as_deref())?;
        let groups = new.groups.iter().map(|g| global_group(dir, g)).collect();
        let org = dir.org_id().as_str().to_owned();
        written(
            w.invite_user(&org, new.email, (new.first_name, new.last_name), groups)
                .await,
            true,
        )
    }
    .await;
    answer(result, &id)
}

/// `PATCH /unified/users/{id}`: `{ "first_name"?, "last_name"? }`.
#[utoipa::path(patch, path = "/unified/users/{id}", tag = "unified",
    params(("id" = String, Path, description = "A user id (global), e-mail address or upstream id"), ("org" = Option<String>, Query, description = "The organization; may be left out when the key reaches one"), ("Idempotency-Key" = Option<String>, Header, description = "Repeating it with the same input within 24 hours returns the first answer and sends nothing")),
    request_body = Names,
    responses((status = 200, description = "The user as updated", body = crate::http::openapi::WriteAnswer), crate::http::openapi::WriteFailures))]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let result = async {
        let w = writer(&state, &headers, &id)?;
        let p = Params::parse(raw.as_deref(), &["org"])?;
        let (dir, key) = user_of(&state, w.principal, p.get("org"), &user)?;
        let names: Names = json_of(&body)?;
        let gid = global_user(dir, &key);
        written(
            w.update_user(gid, names.first_name, names.last_name).await,
            false,
        )
    }
    .await;
    answer(result, &id)
}

/// `POST /unified/users/{id}/deactivate`.
#[utoipa::path(post, path = "/unified/users/{id}/deactivate", tag = "unified",
    params(("id" = String, Path, description = "A user id (global), e-mail address or upstream id"), ("org" = Option<String>, Query, description = "The organization; may be left out when the key reaches one"), ("Idempotency-Key" = Option<String>, Header, description = "Repeating it with the same input within 24 hours returns the first answer and sends nothing")),
    responses((status = 200, description = "The user's final state (DEACTIVATED)", body = crate::http::openapi::WriteAnswer), crate::http::openapi::WriteFailures))]
pub(crate) async fn deactivate_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let result = async {
        let w = writer(&state, &headers, &id)?;
        let p = Params::parse(raw.as_deref(), &["org"])?;
        let (dir, key) = user_of(&state, w.principal, p.get("org"), &user)?;
        written(w.deactivate_user(global_user(dir, &key)).await, false)
    }
    .await;
    answer(result, &id)
}

/// `DELETE /unified/users/{id}`.
#[utoipa::path(delete, path = "/unified/users/{id}", tag = "unified",
    params(("id" = String, Path, description = "A user id (global), e-mail address or upstream id"), ("org" = Option<String>, Query, description = "The organization; may be left out when the key reaches one"), ("Idempotency-Key" = Option<String>, Header, description = "Repeating it with the same input within 24 hours returns the first answer and sends nothing")),
    responses((status = 200, description = "The id of the removed user", body = crate::http::openapi::WriteAnswer), crate::http::openapi::WriteFailures))]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let result = async {
        let w = writer(&state, &headers, &id)?;
        let p = Params::parse(raw.as_deref(), &["org"])?;
        let (dir, key) = user_of(&state, w.principal, p.get("org"), &user)?;
        written(w.delete_user(global_user(dir, &key)).await, false)
    }
    .await;
    answer(result, &id)
}

async fn members(
    state: &AppState,
    headers: &HeaderMap,
    group: &str,
    raw: Option<&str>,
    body: &Bytes,
    add: bool,
    id: &RequestId,
) -> Result<(StatusCode, Value), Failure> {
    let w = writer(state, headers, id)?;
    let p = Params::parse(raw, &["org"])?;
    let (dir, gid) = group_of(state, w.principal, p.get("org"), group)?;
    let m: Members = json_of(body)?;
    let users = m.users.iter().map(|u| global_user(dir, u)).collect();
    written(w.members(global_group(dir, &gid), users, add).await, false)
}

/// `POST /unified/groups/{id}/members`: `{ "users": [...] }` added.
#[utoipa::path(post, path = "/unified/groups/{id}/members", tag = "unified",
    params(("id" = String, Path, description = "A group id (global) or upstream id"), ("org" = Option<String>, Query, description = "The organization; may be left out when the key reaches one"), ("Idempotency-Key" = Option<String>, Header, description = "Repeating it with the same input within 24 hours returns the first answer and sends nothing")),
    request_body = Members,
    responses((status = 200, description = "The group with its members", body = crate::http::openapi::WriteAnswer), crate::http::openapi::WriteFailures))]
pub(crate) async fn add_members(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let result = members(&state, &headers, &group, raw.as_deref(), &body, true, &id).await;
    answer(result, &id)
}

/// `POST /unified/groups/{id}/members/remove`: `{ "users": [...] }` removed, in the critical lane.
#[utoipa::path(post, path = "/unified/groups/{id}/members/remove", tag = "unified",
    params(("id" = String, Path, description = "A group id (global) or upstream id"), ("org" = Option<String>, Query, description = "The organization; may be left out when the key reaches one"), ("Idempotency-Key" = Option<String>, Header, description = "Repeating it with the same input within 24 hours returns the first answer and sends nothing")),
    request_body = Members,
    responses((status = 200, description = "The group with its members", body = crate::http::openapi::WriteAnswer), crate::http::openapi::WriteFailures))]
pub(crate) async fn remove_members(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let result = members(&state, &headers, &group, raw.as_deref(), &body, false, &id).await;
    answer(result, &id)
}
