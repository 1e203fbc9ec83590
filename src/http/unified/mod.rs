//! `/unified/*`: the directory as a plain REST view for scripts that do not speak GraphQL.
//! Every list answers `{ "result": [...], "next_cursor": ..., "prev_cursor": ... }` with the
//! GraphQL API's key-based cursors (a page boundary survives a refresh: no skips, no repeats);
//! one object answers `{ "result": {...} }`. Reads come from the mirror like GraphQL's; writes
//! (`writes.rs`) are GraphQL's mutations, with their idempotency keys, journal and audit.

mod params;
mod render;
pub(super) mod writes;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::mask::RequestId;
use super::{AppState, edge_error};
use crate::auth::{Principal, Role};
use crate::directory::{
    Directory, DirectoryError, DirectoryReads, GroupQuery, PageArgs, SortKey, UserFilter, UserQuery,
};
use crate::graphql::errors::Code;
use crate::graphql::ids::{GlobalId, Kind, decode_cursor, encode_cursor};
use crate::keys::GroupId;
use params::Params;

pub(crate) use writes::{
    add_members, create_user, deactivate_user, delete_user, remove_members, update_user,
};

const USERS_ORDER: &str = "users:DIRECTORY";
const GROUPS_ORDER: &str = "groups:DIRECTORY";

/// A refusal or failure, as every other HTTP edge error: a JSON body with a stable code.
pub(crate) struct Failure {
    status: StatusCode,
    code: Code,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Failure {
        Failure {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, Code::BadRequest, message)
    }

    fn not_found(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, Code::NotFound, message)
    }

    fn directory(e: &DirectoryError) -> Failure {
        match e {
            DirectoryError::RateLimited { .. } => Failure::new(
                StatusCode::TOO_MANY_REQUESTS,
                Code::RateLimited,
                "the organization's upstream budget is taken; try again shortly",
            ),
            DirectoryError::CredentialRevoked => Failure::new(
                StatusCode::BAD_GATEWAY,
                Code::CredentialRevoked,
                "the upstream rejected the organization's SCIM key",
            ),
            _ => Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::UpstreamUnavailable,
                "the upstream directory is unavailable; try again shortly",
            ),
        }
    }
}

/// The answer: `body` with 200, or the failure's coded error, with the request's id.
pub(crate) fn answer(result: Result<(StatusCode, Value), Failure>, id: &RequestId) -> Response {
    match result {
        Ok((status, body)) => {
            let mut response = (status, axum::Json(body)).into_response();
            id.stamp(&mut response);
            response
        }
        Err(f) => edge_error(f.status, f.code, &f.message, Some(id)),
    }
}

/// The caller, when its key has at least `role`.
fn caller<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    role: Role,
) -> Result<&'a Principal, Failure> {
    let Some(p) = super::graphql::authenticate(state, headers) else {
        return Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            Code::Unauthenticated,
            "send a valid API key as `Authorization: Bearer <key>`",
        ));
    };
    if p.role < role {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            Code::Forbidden,
            format!(
                "this API key ({}) has the {} role; this needs {role}",
                p.name, p.role
            ),
        ));
    }
    Ok(p)
}

/// The organization: `?org=` (or the one a global id names), else the only one the key sees.
fn org_dir<'a>(
    state: &'a AppState,
    principal: &Principal,
    named: Option<&str>,
) -> Result<&'a Directory, Failure> {
    let visible: Vec<&Directory> = state
        .dirs
        .all()
        .iter()
        .filter(|d| principal.orgs.allows(d.org_id().as_str()))
        .collect();
    match named {
        Some(org) => visible
            .into_iter()
            .find(|d| d.org_id().as_str() == org)
            .ok_or_else(|| {
                let shown: String = org.chars().take(100).collect();
                Failure::not_found(format!("no organization {shown:?} for this API key"))
            }),
        None => match visible.as_slice() {
            [only] => Ok(only),
            _ => Err(Failure::bad(
                "`org` is required: this API key reaches several organizations",
            )),
        },
    }
}

/// A window from `page_size` and `cursor` (`n.…` pages forwards, `p.…` backwards).
fn page_args(p: &Params, order: &str) -> Result<PageArgs, Failure> {
    let size = match p.get("page_size") {
        None => 50,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| Failure::bad("`page_size` must be a whole number from 1 to 100"))?,
    };
    let bad_cursor = || {
        Failure::bad(
            "`cursor` is not one this endpoint gave (use next_cursor or prev_cursor as given)",
        )
    };
    let key = |c: &str| decode_cursor(c, order).map_err(|_| bad_cursor());
    Ok(match p.get("cursor") {
        None => PageArgs {
            first: Some(size),
            ..PageArgs::default()
        },
        Some(c) => match c.split_once('.') {
            Some(("n", rest)) => PageArgs {
                first: Some(size),
                after: Some(key(rest)?),
                ..PageArgs::default()
            },
            Some(("p", rest)) => PageArgs {
                last: Some(size),
                before: Some(key(rest)?),
                ..PageArgs::default()
            },
            _ => return Err(bad_cursor()),
        },
    })
}

fn cursors(
    order: &str,
    first: Option<SortKey>,
    last: Option<SortKey>,
    has_prev: bool,
    has_next: bool,
) -> (Value, Value) {
    let next = last
        .filter(|_| has_next)
        .map(|k| format!("n.{}", encode_cursor(order, &k)));
    let prev = first
        .filter(|_| has_prev)
        .map(|k| format!("p.{}", encode_cursor(order, &k)));
    (json!(next), json!(prev))
}

/// `GET /unified/users?org=&page_size=&cursor=&search=&status=&member_of=&in_no_group=&remote_data=`
#[utoipa::path(get, path = "/unified/users", tag = "unified",
    params(("org" = Option<String>, Query, description = "The organization; may be left out when the key reaches one"), ("page_size" = Option<u32>, Query, description = "1 to 100, default 50"),
        ("cursor" = Option<String>, Query, description = "A `next_cursor` or `prev_cursor` as given"),
        ("search" = Option<String>, Query, description = "A substring of the e-mail, given or family name"),
        ("status" = Option<String>, Query, description = "ACTIVE, INVITED or DEACTIVATED"),
        ("member_of" = Option<String>, Query, description = "Only members of this group"),
        ("in_no_group" = Option<bool>, Query, description = "Only users in no group (true) or in some (false)"),
        ("remote_data" = Option<bool>, Query, description = "Adds the SCIM resource as `remote_data`")),
    responses((status = 200, description = "A page of users", body = crate::http::openapi::UserPage),
        (status = 400, description = "Bad input: a coded error, nothing sent", body = crate::http::openapi::Errors),
        (status = 401, description = "No valid API key", body = crate::http::openapi::Errors),
        (status = 404, description = "No such organization, user or group for this key", body = crate::http::openapi::Errors),
        (status = 429, description = "The organization's upstream budget is taken", body = crate::http::openapi::Errors),
        (status = 503, description = "The upstream is unavailable", body = crate::http::openapi::Errors),))]
pub(crate) async fn users(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let id = RequestId::from_headers(&headers);
    answer(list_users(&state, &headers, raw.as_deref()).await, &id)
}

async fn list_users(
    state: &AppState,
    headers: &HeaderMap,
    raw: Option<&str>,
) -> Result<(StatusCode, Value), Failure> {
    let principal = caller(state, headers, Role::Read)?;
    let p = Params::parse(
        raw,
        &[
            "org",
            "page_size",
            "cursor",
            "search",
            "status",
            "member_of",
            "in_no_group",
            "remote_data",
        ],
    )?;
    let dir = org_dir(state, principal, p.get("org"))?;
    let status = match p.get("status") {
        None => None,
        Some("ACTIVE") => Some(crate::directory::Status::Active),
        Some("INVITED") => Some(crate::directory::Status::Invited),
        Some("DEACTIVATED") => Some(crate::directory::Status::Deactivated),
        Some(_) => return Err(Failure::bad("`status` is ACTIVE, INVITED or DEACTIVATED")),
    };
    let member_of = p.get("member_of").map(|g| group_key(dir, g)).transpose()?;
    let filter = UserFilter::new(
        p.get("search").map(str::to_owned),
        status,
        member_of,
        p.flag("in_no_group")?,
    );
    let query = UserQuery {
        filter,
        page: page_args(&p, USERS_ORDER)?,
        ..UserQuery::default()
    };
    let remote = p.flag("remote_data")?.unwrap_or(false);
    let read = dir
        .page_users(&query)
        .await
        .map_err(|e| Failure::directory(&e))?;
    let snapshot = &read.snapshot;
    let recs: Vec<_> = read
        .page
        .items
        .iter()
        .map(|&pos| &snapshot.users()[pos as usize])
        .collect();
    let key_of = |i: Option<&&std::sync::Arc<crate::directory::UserRec>>| {
        i.map(|r| crate::directory::user_sort_key(query.order, r))
    };
    let (next, prev) = cursors(
        USERS_ORDER,
        key_of(recs.first()),
        key_of(recs.last()),
        read.page.has_previous_page,
        read.page.has_next_page,
    );
    let result: Vec<Value> = recs
        .iter()
        .map(|r| render::user(dir, snapshot, r, remote))
        .collect();
    Ok((
        StatusCode::OK,
        json!({ "result": result, "next_cursor": next, "prev_cursor": prev, "total": read.page.total }),
    ))
}

/// `GET /unified/groups?org=&page_size=&cursor=&search=&remote_data=`
#[utoipa::path(get, path = "/unified/groups", tag = "unified",
    params(("org" = Option<String>, Query, description = "The organization; may be left out when the key reaches one"), ("page_size" = Option<u32>, Query, description = "1 to 100, default 50"),
        ("cursor" = Option<String>, Query, description = "A `next_cursor` or `prev_cursor` as given"),
        ("search" = Option<String>, Query, description = "A substring of the name"),
        ("remote_data" = Option<bool>, Query, description = "Adds the SCIM resource as `remote_data`")),
    responses((status = 200, description = "A page of groups", body = crate::http::openapi::GroupPage),
        (status = 400, description = "Bad input: a coded error, nothing sent", body = crate::http::openapi::Errors),
        (status = 401, description = "No valid API key", body = crate::http::openapi::Errors),
        (status = 404, description = "No such organization, user or group for this key", body = crate::http::openapi::Errors),
        (status = 429, description = "The organization's upstream budget is taken", body = crate::http::openapi::Errors),
        (status = 503, description = "The upstream is unavailable", body = crate::http::openapi::Errors),))]
pub(crate) async fn groups(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let id = RequestId::from_headers(&headers);
    answer(list_groups(&state, &headers, raw.as_deref()).await, &id)
}

async fn list_groups(
    state: &AppState,
    headers: &HeaderMap,
    raw: Option<&str>,
) -> Result<(StatusCode, Value), Failure> {
    let principal = caller(state, headers, Role::Read)?;
    let p = Params::parse(
        raw,
        &["org", "page_size", "cursor", "search", "remote_data"],
    )?;
    let dir = org_dir(state, principal, p.get("org"))?;
    let query = GroupQuery::new(
        p.get("search").map(str::to_owned),
        crate::directory::GroupOrderField::Directory,
        false,
        page_args(&p, GROUPS_ORDER)?,
    );
    let remote = p.flag("remote_data")?.unwrap_or(false);
    let read = dir
        .page_groups(&query)
        .await
        .map_err(|e| Failure::directory(&e))?;
    let items = &read.page.items;
    let key_of = |g: Option<&std::sync::Arc<crate::directory::GroupRec>>| {
        g.map(|g| crate::directory::group_sort_key(query.order, g))
    };
    let (next, prev) = cursors(
        GROUPS_ORDER,
        key_of(items.first()),
        key_of(items.last()),
        read.page.has_previous_page,
        read.page.has_next_page,
    );
    let result: Vec<Value> = items
        .iter()
        .map(|g| render::group(dir, g, remote))
        .collect();
    Ok((
        StatusCode::OK,
        json!({ "result": result, "next_cursor": next, "prev_cursor": prev, "total": read.page.total }),
    ))
}

/// `GET /unified/users/{id}`: a global id, or an e-mail or upstream id with `?org=`.
#[utoipa::path(get, path = "/unified/users/{id}", tag = "unified",
    params(("id" = String, Path, description = "A user id (global), e-mail address or upstream id"), ("org" = Option<String>, Query, description = "The organization; may be left out when the key reaches one"), ("remote_data" = Option<bool>, Query, description = "Adds the SCIM resource as `remote_data`")),
    responses((status = 200, description = "The user", body = crate::http::openapi::OneUser),
        (status = 400, description = "Bad input: a coded error, nothing sent", body = crate::http::openapi::Errors),
        (status = 401, description = "No valid API key", body = crate::http::openapi::Errors),
        (status = 404, description = "No such organization, user or group for this key", body = crate::http::openapi::Errors),
        (status = 429, description = "The organization's upstream budget is taken", body = crate::http::openapi::Errors),
        (status = 503, description = "The upstream is unavailable", body = crate::http::openapi::Errors),))]
pub(crate) async fn user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(user): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let result = async {
        let principal = caller(&state, &headers, Role::Read)?;
        let p = Params::parse(raw.as_deref(), &["org", "remote_data"])?;
        let (dir, key) = user_of(&state, principal, p.get("org"), &user)?;
        let rec = dir
            .user(&dir.user_key(&key))
            .await
            .map_err(|e| Failure::directory(&e))?
            .ok_or_else(|| Failure::not_found("no such user"))?;
        let remote = p.flag("remote_data")?.unwrap_or(false);
        let body = render::user(dir, &dir.snapshot(), &rec, remote);
        Ok((StatusCode::OK, json!({ "result": body })))
    }
    .await;
    answer(result, &id)
}

/// `GET /unified/groups/{id}`: a global id, or an upstream id with `?org=`.
#[utoipa::path(get, path = "/unified/groups/{id}", tag = "unified",
    params(("id" = String, Path, description = "A group id (global) or upstream id"), ("org" = Option<String>, Query, description = "The organization; may be left out when the key reaches one"), ("remote_data" = Option<bool>, Query, description = "Adds the SCIM resource as `remote_data`")),
    responses((status = 200, description = "The group", body = crate::http::openapi::OneGroup),
        (status = 400, description = "Bad input: a coded error, nothing sent", body = crate::http::openapi::Errors),
        (status = 401, description = "No valid API key", body = crate::http::openapi::Errors),
        (status = 404, description = "No such organization, user or group for this key", body = crate::http::openapi::Errors),
        (status = 429, description = "The organization's upstream budget is taken", body = crate::http::openapi::Errors),
        (status = 503, description = "The upstream is unavailable", body = crate::http::openapi::Errors),))]
pub(crate) async fn group(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let id = RequestId::from_headers(&headers);
    let result = async {
        let principal = caller(&state, &headers, Role::Read)?;
        let p = Params::parse(raw.as_deref(), &["org", "remote_data"])?;
        let (dir, gid) = group_of(&state, principal, p.get("org"), &group)?;
        let rec = DirectoryReads::group(dir, &GroupId::new(gid))
            .await
            .map_err(|e| Failure::directory(&e))?
            .ok_or_else(|| Failure::not_found("no such group"))?;
        let remote = p.flag("remote_data")?.unwrap_or(false);
        Ok((
            StatusCode::OK,
            json!({ "result": render::group(dir, &rec, remote) }),
        ))
    }
    .await;
    answer(result, &id)
}

/// The directory and user key an id names: a User global id, else an e-mail or upstream id in
/// `org`.
fn user_of<'a>(
    state: &'a AppState,
    principal: &Principal,
    org: Option<&str>,
    id: &str,
) -> Result<(&'a Directory, String), Failure> {
    match GlobalId::decode(id) {
        Some(g) if g.kind == Kind::User => {
            Ok((org_dir(state, principal, Some(g.org.as_str()))?, g.key))
        }
        Some(_) => Err(Failure::bad("the id is not a user's")),
        None => Ok((org_dir(state, principal, org)?, id.to_owned())),
    }
}

fn group_of<'a>(
    state: &'a AppState,
    principal: &Principal,
    org: Option<&str>,
    id: &str,
) -> Result<(&'a Directory, String), Failure> {
    match GlobalId::decode(id) {
        Some(g) if g.kind == Kind::Group => {
            Ok((org_dir(state, principal, Some(g.org.as_str()))?, g.key))
        }
        Some(_) => Err(Failure::bad("the id is not a group's")),
        None => Ok((org_dir(state, principal, org)?, id.to_owned())),
    }
}

/// A group id for a filter: a Group global id of `dir`'s organization, or an upstream id.
fn group_key(dir: &Directory, id: &str) -> Result<String, Failure> {
    match GlobalId::decode(id) {
        Some(g) if g.kind == Kind::Group && g.org == *dir.org_id() => Ok(g.key),
        Some(_) => Err(Failure::bad(
            "`member_of` is not a group of this organization",
        )),
        None => Ok(id.to_owned()),
    }
}
