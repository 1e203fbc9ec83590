//! `GET /openapi.json`: the OpenAPI 3.1 document of the unified REST view and the SCIM proxy,
//! derived from the handlers' `#[utoipa::path]` annotations and the schemas below (the shapes
//! `unified/render.rs` writes). Committed as `openapi.json`; a test fails when it drifts.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// A user of the unified view.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct UnifiedUser {
    /// The GraphQL API's global id.
    id: String,
    /// The upstream's id.
    remote_id: String,
    email: String,
    emails: Vec<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    /// `ACTIVE`, `INVITED` or `DEACTIVATED`.
    status: String,
    /// Ids of the user's groups.
    groups: Vec<String>,
    /// The SCIM resource as the mirror holds it (with `remote_data=true`).
    remote_data: Option<serde_json::Value>,
}

/// A group of the unified view.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct UnifiedGroup {
    id: String,
    remote_id: String,
    name: String,
    /// Ids of the members.
    members: Vec<String>,
    remote_data: Option<serde_json::Value>,
}

/// A page of users.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct UserPage {
    result: Vec<UnifiedUser>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
    /// Pass as `cursor` for the previous page; null on the first.
    prev_cursor: Option<String>,
    /// Users matching the filter.
    total: u64,
}

/// A page of groups.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct GroupPage {
    result: Vec<UnifiedGroup>,
    next_cursor: Option<String>,
    prev_cursor: Option<String>,
    total: u64,
}

/// One user.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct OneUser {
    result: UnifiedUser,
}

/// One group.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct OneGroup {
    result: UnifiedGroup,
}

/// What a write did: the object it left (a user, a group, or `{ "id" }` of what was
/// removed), its outcome (`SUCCESS`, `PARTIAL`), and the errors of a partial write.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct WriteAnswer {
    result: serde_json::Value,
    outcome: String,
    errors: Vec<ErrorItem>,
}

/// A coded error.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ErrorItem {
    message: String,
    /// `code` (stable; GraphQL's error codes, or for writes its user error codes) and, for a
    /// write's input, `field`.
    extensions: serde_json::Value,
}

/// Every error of the unified view; a failed write also says its `outcome`
/// (`FAILED`, `UNKNOWN`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct Errors {
    errors: Vec<ErrorItem>,
    outcome: Option<String>,
}

/// The failures every unified write may answer with, beside its success.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub(crate) enum WriteFailures {
    /// Invalid input (GraphQL user error codes such as INVALID_EMAIL)
    #[response(status = 400)]
    Invalid(Errors),
    /// No valid API key
    #[response(status = 401)]
    Unauthenticated(Errors),
    /// The key's role cannot write
    #[response(status = 403)]
    Forbidden(Errors),
    /// No such user or group
    #[response(status = 404)]
    NotFound(Errors),
    /// Already exists, changed meanwhile, or the idempotency key is in use
    #[response(status = 409)]
    Conflict(Errors),
    /// The upstream refused it, or the idempotency key was used with another input
    #[response(status = 422)]
    Refused(Errors),
    /// The organization's upstream budget is taken
    #[response(status = 429)]
    RateLimited(Errors),
    /// The outcome is unknown (not sent again) or the SCIM key was rejected
    #[response(status = 502)]
    Unknown(Errors),
    /// The upstream or the store is unavailable; nothing was changed
    #[response(status = 503)]
    Unavailable(Errors),
}

/// The SCIM error message (RFC 7644 §3.12), for the proxy's every failure.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct ScimError {
    /// `["urn:ietf:params:scim:api:messages:2.0:Error"]`
    schemas: Vec<String>,
    /// The HTTP status, as a string.
    status: String,
    #[schema(rename = "scimType")]
    scim_type: Option<String>,
    detail: String,
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A gateway API key (`sgk_…`), never a SCIM token"))
                    .build(),
            ),
        );
    }
}

/// One handler serves every method of the proxy; each operation gets an id of its own.
struct ProxyOperationIds;

impl Modify for ProxyOperationIds {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let Some(item) = doc.paths.paths.get_mut("/{org}/scim/v2/{path}") else {
            return;
        };
        for (method, operation) in [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ] {
            if let Some(op) = operation {
                op.operation_id = Some(format!("scim_proxy_{method}"));
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "scimgate REST view and SCIM proxy",
        description = "The unified REST view of each organization's directory, and the raw SCIM proxy; GraphQL is at /graphql.",
        license(name = "MIT")
    ),
    paths(
        super::unified::users,
        super::unified::user,
        super::unified::groups,
        super::unified::group,
        super::unified::writes::create_user,
        super::unified::writes::update_user,
        super::unified::writes::deactivate_user,
        super::unified::writes::delete_user,
        super::unified::writes::add_members,
        super::unified::writes::remove_members,
        super::proxy::handle,
    ),
    components(schemas(
        UnifiedUser, UnifiedGroup, UserPage, GroupPage, OneUser, OneGroup, WriteAnswer,
        ErrorItem, Errors, ScimError,
        super::unified::writes::NewUser, super::unified::writes::Names, super::unified::writes::Members,
    )),
    modifiers(&Bearer, &ProxyOperationIds),
    security(("api_key" = []))
)]
struct ApiDoc;

/// The document, as served and committed (`openapi.json`).
pub fn document() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the document serializes");
    text.push('\n');
    text
}

pub(crate) async fn serve() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}
