//! The RFC 7644 profile's resource bodies: `meta.location` and `meta.version`, members with
//! `$ref` and `type`, `attributes`/`excludedAttributes` projection (§3.4.2.5, §3.9), and the
//! `POST /.search` across resource types (§3.4.3).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value, json};

use super::errors::{ScimError, parse_json};
use super::filter::Filter;
use super::query::Page;
use super::state::EmulatorState;
use super::store::Directory;
use super::users::Answer;
use crate::scim::Profile;
use crate::scim::wire::ListResponse;

const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// The SCIM root as the client reached it (`http://HOST/scim/v2`), for `meta.location`.
pub(crate) fn origin(headers: &HeaderMap, s: &EmulatorState) -> String {
    let base = s.profile().base_path();
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) => format!("http://{host}{base}"),
        None => base.to_owned(),
    }
}

fn set_location(v: &mut Value, origin: &str, kind: &str, id: &str) {
    if let Some(meta) = v.get_mut("meta").and_then(Value::as_object_mut) {
        let location = format!("{origin}/{kind}/{}", Profile::encode_id(id));
        meta.insert("location".into(), json!(location));
    }
}

/// A user as the RFC 7644 profile answers it.
pub(crate) fn user_json(dir: &Directory, seq: u64, origin: &str) -> Option<Value> {
    let rec = dir.user(seq)?;
    let mut v = serde_json::to_value(dir.render_user(seq, true)?).ok()?;
    set_location(&mut v, origin, "Users", &rec.id);
    if rec.active_unset
        && let Some(obj) = v.as_object_mut()
    {
        obj.remove("active");
    }
    Some(v)
}

/// A group as the RFC 7644 profile answers it: members as RFC 7643 §8.7.1 describes them
/// (`value`, `$ref`, `type`).
pub(crate) fn group_json(dir: &Directory, seq: u64, origin: &str) -> Option<Value> {
    let group = dir.render_group(seq)?;
    let id = group.id.clone()?.0;
    let mut v = serde_json::to_value(group).ok()?;
    let members: Vec<Value> = dir
        .group(seq)?
        .members
        .iter()
        .filter_map(|m| dir.user(*m))
        .map(|u| {
            let location = format!("{origin}/Users/{}", Profile::encode_id(&u.id));
            json!({"value": u.id, "$ref": location, "type": "User"})
        })
        .collect();
    v["members"] = Value::Array(members);
    set_location(&mut v, origin, "Groups", &id);
    Some(v)
}

/// `attributes` or `excludedAttributes`, as lower-case attribute paths without schema URNs.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Projection {
    include: Vec<Vec<String>>,
    exclude: Vec<Vec<String>>,
}

fn paths(list: &str) -> Vec<Vec<String>> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            // "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName" → "name.givenName"
            let p = match p.starts_with("urn:") {
                true => p.rsplit_once(':').map_or(p, |(_, attr)| attr),
                false => p,
            };
            p.split('.').map(str::to_ascii_lowercase).collect()
        })
        .collect()
}

impl Projection {
    /// From the query parameters (keys already lower-cased); none on Amplitude, which
    /// documents neither parameter.
    pub(crate) fn for_profile(profile: Profile, q: &HashMap<String, String>) -> Projection {
        match profile {
            Profile::Amplitude => Projection::default(),
            Profile::Rfc7644 => Projection::from_query(q),
        }
    }

    /// From the query parameters (keys already lower-cased).
    pub(crate) fn from_query(q: &HashMap<String, String>) -> Projection {
        Projection {
            include: q.get("attributes").map(|a| paths(a)).unwrap_or_default(),
            exclude: q
                .get("excludedattributes")
                .map(|a| paths(a))
                .unwrap_or_default(),
        }
    }

    /// Applies the projection; `schemas` and `id` are always returned (RFC 7643 §7).
    pub(crate) fn apply(&self, v: Value) -> Value {
        let mut v = if self.include.is_empty() {
            v
        } else {
            let mut out = Value::Object(Map::new());
            for path in [vec!["schemas".to_owned()], vec!["id".to_owned()]]
                .iter()
                .chain(&self.include)
            {
                copy_path(&v, &mut out, path);
            }
            out
        };
        for path in &self.exclude {
            if !matches!(path.as_slice(), [p] if p == "id" || p == "schemas") {
                remove_path(&mut v, path);
            }
        }
        v
    }
}

fn key_of(obj: &Map<String, Value>, name: &str) -> Option<String> {
    obj.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn copy_path(src: &Value, dst: &mut Value, path: &[String]) {
    let (Some(from), Some(to), Some(first)) = (src.as_object(), dst.as_object_mut(), path.first())
    else {
        return;
    };
    let Some(key) = key_of(from, first) else {
        return;
    };
    let value = &from[&key];
    if path.len() == 1 {
        to.insert(key, value.clone());
        return;
    }
    match value {
        Value::Object(_) => {
            let slot = to.entry(key).or_insert_with(|| json!({}));
            copy_path(value, slot, &path[1..]);
        }
        Value::Array(items) => {
            let slot = to
                .entry(key)
                .or_insert_with(|| Value::Array(vec![json!({}); items.len()]));
            if let Value::Array(slots) = slot {
                for (item, slot) in items.iter().zip(slots.iter_mut()) {
                    copy_path(item, slot, &path[1..]);
                }
            }
        }
        _ => {}
    }
}

fn remove_path(v: &mut Value, path: &[String]) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| remove_path(i, path)),
        Value::Object(obj) => {
            let Some(key) = path.first().and_then(|first| key_of(obj, first)) else {
                return;
            };
            if path.len() == 1 {
                obj.remove(&key);
            } else if let Some(inner) = obj.get_mut(&key) {
                remove_path(inner, &path[1..]);
            }
        }
        _ => {}
    }
}

/// A `SearchRequest` body as the query parameters a GET would carry.
pub(crate) fn search_query(body: &[u8]) -> Result<HashMap<String, String>, ScimError> {
    let v = parse_json(body)?;
    let obj = v
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the body must be a SearchRequest object"))?;
    if let Some(schemas) = obj.get("schemas")
        && !schemas
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s == SEARCH_SCHEMA))
    {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain {SEARCH_SCHEMA}"
        )));
    }
    let mut q = HashMap::new();
    for (key, value) in obj {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ScimError::invalid_value(format!("{key} must list strings")))?
                .join(","),
            _ => continue,
        };
        q.insert(key.to_ascii_lowercase(), text);
    }
    Ok(q)
}

/// `POST /.search`: Users, then Groups, that match the filter, paged together.
pub(crate) async fn search_all(
    State(s): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let q = search_query(&body)?;
    let page = Page::from_query(&q, s.profile())?;
    let filter = match q.get("filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => Some(Filter::parse(f, true, &[])?),
        None => None,
    };
    let projection = Projection::from_query(&q);
    let origin = origin(&headers, &s);
    let dir = s.dir();
    let users = dir
        .users()
        .filter(|(_, u)| {
            filter
                .as_ref()
                .is_none_or(|f| f.matches(&super::users::user_attr(&dir, u)))
        })
        .map(|(seq, _)| (true, seq));
    let groups = dir
        .groups()
        .filter(|(_, g)| {
            filter
                .as_ref()
                .is_none_or(|f| f.matches(&super::groups::group_attr(&dir, g)))
        })
        .map(|(seq, _)| (false, seq));
    let (found, total) = page.take(users.chain(groups));
    let resources: Vec<Value> = found
        .into_iter()
        .filter_map(|(user, seq)| match user {
            true => user_json(&dir, seq, &origin),
            false => group_json(&dir, seq, &origin),
        })
        .map(|v| projection.apply(v))
        .collect();
    drop(dir);
    let n = resources.len() as u64;
    let body = ListResponse::new(resources, total as u64, page.start as u64, n);
    Ok(s.respond(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Value {
        json!({"schemas": ["s"], "id": "1", "userName": "a", "externalId": "x",
               "name": {"givenName": "Ada", "familyName": "L"},
               "emails": [{"value": "a@x", "primary": true}], "meta": {"resourceType": "User"}})
    }

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn attributes_keep_id_schemas_and_the_named_paths() {
        let p = Projection::from_query(&q(&[("attributes", "externalId,name.givenName")]));
        assert_eq!(
            p.apply(user()),
            json!({"schemas": ["s"], "id": "1", "externalId": "x", "name": {"givenName": "Ada"}})
        );
        let p = Projection::from_query(&q(&[(
            "attributes",
            "urn:ietf:params:scim:schemas:core:2.0:User:emails.value",
        )]));
        assert_eq!(p.apply(user())["emails"], json!([{"value": "a@x"}]));
    }

    #[test]
    fn excluded_attributes_drop_paths_but_never_id() {
        let p =
            Projection::from_query(&q(&[("excludedattributes", "name,emails.primary,id,META")]));
        let v = p.apply(user());
        assert!(v.get("name").is_none() && v.get("meta").is_none());
        assert_eq!(v["emails"], json!([{"value": "a@x"}]));
        assert_eq!(v["id"], "1");
    }

    #[test]
    fn search_bodies_become_query_parameters() {
        let q = search_query(
            br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                 "attributes":["externalId","name"],"startIndex":2,"filter":"userName pr"}"#,
        )
        .unwrap();
        assert_eq!(q["attributes"], "externalId,name");
        assert_eq!(q["startindex"], "2");
        assert_eq!(q["filter"], "userName pr");
        assert!(search_query(br#"{"schemas":["x"]}"#).is_err());
        assert!(search_query(b"[]").is_err());
    }
}
