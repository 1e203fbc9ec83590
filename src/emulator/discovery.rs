//! RFC 7644 discovery documents (`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`),
//! minimal but valid; served on the rfc7644 profile only (Amplitude has none).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::ScimError;
use super::query::MAX_PAGE;
use super::state::EmulatorState;
use super::users::path_id;
use crate::scim::wire::{GROUP_SCHEMA, ListResponse, USER_SCHEMA};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub(crate) async fn service_provider_config(State(s): State<EmulatorState>) -> Response {
    let body = json!({
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_PAGE},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token in the Authorization header",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig"}
    });
    s.respond(StatusCode::OK, &body)
}

pub(crate) async fn resource_types(State(s): State<EmulatorState>) -> Response {
    s.respond(StatusCode::OK, &list(resource_type_list(&s)))
}

/// `GET /ResourceTypes/{id}`: one of them, or a SCIM 404.
pub(crate) async fn resource_type(
    State(s): State<EmulatorState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ScimError> {
    let id = path_id(id)?;
    let found = resource_type_list(&s)
        .into_iter()
        .find(|t| {
            t["id"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(&id))
        })
        .ok_or_else(|| ScimError::not_found(format!("ResourceType {id} not found")))?;
    Ok(s.respond(StatusCode::OK, &found))
}

fn resource_type_list(s: &EmulatorState) -> Vec<Value> {
    let base = s.profile().base_path();
    vec![
        json!({"schemas": [RESOURCE_TYPE_SCHEMA], "id": "User", "name": "User", "endpoint": "/Users",
               "schema": USER_SCHEMA, "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}}),
        json!({"schemas": [RESOURCE_TYPE_SCHEMA], "id": "Group", "name": "Group", "endpoint": "/Groups",
               "schema": GROUP_SCHEMA, "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}}),
    ]
}

fn attr(name: &str, kind: &str, required: bool, extra: Value) -> Value {
    let mut a = json!({"name": name, "type": kind, "multiValued": false, "required": required,
                       "caseExact": false, "mutability": "readWrite", "returned": "default",
                       "uniqueness": "none"});
    if let (Some(a), Some(extra)) = (a.as_object_mut(), extra.as_object()) {
        a.extend(extra.clone());
    }
    a
}

fn multi(name: &str, subs: Vec<Value>, mutability: &str) -> Value {
    attr(
        name,
        "complex",
        false,
        json!({"multiValued": true, "subAttributes": subs, "mutability": mutability}),
    )
}

pub(crate) async fn schemas(State(s): State<EmulatorState>) -> Response {
    s.respond(StatusCode::OK, &list(schema_list()))
}

/// `GET /Schemas/{id}`: one schema by its URN, or a SCIM 404.
pub(crate) async fn schema(
    State(s): State<EmulatorState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ScimError> {
    let id = path_id(id)?;
    let found = schema_list()
        .into_iter()
        .find(|t| t["id"] == id.as_str())
        .ok_or_else(|| ScimError::not_found(format!("Schema {id} not found")))?;
    Ok(s.respond(StatusCode::OK, &found))
}

/// The User and Group schemas: the attributes this emulator stores (RFC 7643 §8.7.1's subset;
/// `externalId` and `meta` are common attributes, not listed).
fn schema_list() -> Vec<Value> {
    let user = json!({
        "schemas": [SCHEMA_SCHEMA], "id": USER_SCHEMA, "name": "User", "description": "User Account",
        "attributes": [
            attr("userName", "string", true, json!({"uniqueness": "server"})),
            attr("name", "complex", false, json!({"subAttributes": [
                attr("givenName", "string", false, json!({})),
                attr("familyName", "string", false, json!({})),
            ]})),
            attr("active", "boolean", false, json!({})),
            multi("emails", vec![attr("value", "string", false, json!({})),
                                 attr("primary", "boolean", false, json!({}))], "readWrite"),
            multi("groups", vec![attr("value", "string", false, json!({})),
                                 attr("display", "string", false, json!({}))],
                  "readOnly"),
        ],
        "meta": {"resourceType": "Schema"}
    });
    let group = json!({
        "schemas": [SCHEMA_SCHEMA], "id": GROUP_SCHEMA, "name": "Group", "description": "Group",
        "attributes": [
            attr("displayName", "string", true, json!({})),
            multi("members", vec![
                attr("value", "string", false, json!({"mutability": "immutable"})),
                attr("$ref", "reference", false,
                     json!({"mutability": "immutable", "referenceTypes": ["User"]})),
                attr("type", "string", false,
                     json!({"mutability": "immutable", "canonicalValues": ["User"]})),
            ], "readWrite"),
        ],
        "meta": {"resourceType": "Schema"}
    });
    vec![user, group]
}

fn list(items: Vec<Value>) -> ListResponse<Value> {
    let n = items.len() as u64;
    ListResponse::new(items, n, 1, n)
}
