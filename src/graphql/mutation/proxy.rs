//! The SCIM proxy's writes as journaled calls, like a mutation's: recorded before they are
//! sent, replayed under an `Idempotency-Key`, settled with one audit row (action `scimProxy`,
//! the request as its input, the objects its path and body name as its targets).

use serde_json::{Value, json};

use super::{Call, Payload, Stored, UserError, UserErrorCode, WriteOptions, WriteOutcome};
use crate::directory::{Directories, ProxyFailure, ProxyReply, ProxyRequest, ProxyTarget};
use crate::graphql::ids::{GlobalId, Kind};
use crate::store::Target;

/// What a proxied write answered, as an idempotency record keeps it.
#[derive(Clone, Debug)]
pub struct ProxyPayload {
    pub reply: ProxyReply,
    /// Why it failed, as a mutation would say it; `None` on success.
    code: Option<UserErrorCode>,
}

impl ProxyPayload {
    pub fn new(reply: ProxyReply) -> ProxyPayload {
        let code = reply.failure.map(|f| match f {
            ProxyFailure::NotFound => UserErrorCode::NotFound,
            ProxyFailure::Conflict => UserErrorCode::Conflict,
            ProxyFailure::Rejected => UserErrorCode::UpstreamRejected,
            ProxyFailure::RateLimited => UserErrorCode::RateLimited,
            ProxyFailure::Unavailable => UserErrorCode::UpstreamUnavailable,
            ProxyFailure::CredentialRevoked => UserErrorCode::CredentialRevoked,
            ProxyFailure::NotRecorded => UserErrorCode::StoreUnavailable,
            ProxyFailure::Unknown => UserErrorCode::OutcomeUnknown,
        });
        ProxyPayload { reply, code }
    }
}

impl Payload for ProxyPayload {
    /// The gateway's own refusals, as SCIM errors: a key in use or reused, a store that
    /// cannot record the write, a replay that cannot be shown.
    fn failed(error: UserError) -> ProxyPayload {
        let status = match error.code {
            UserErrorCode::IdempotencyKeyInUse => 409,
            UserErrorCode::IdempotencyKeyReused => 422,
            UserErrorCode::StoreUnavailable => 503,
            UserErrorCode::RateLimited => 429,
            _ => 502,
        };
        let mut reply = ProxyReply::error(status, None, &error.message);
        reply.retry_after = error
            .retry_after_ms
            .map(|ms| std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
        ProxyPayload {
            reply,
            code: Some(error.code),
        }
    }

    fn keep(&self) -> bool {
        !self.code.is_some_and(|c| {
            matches!(
                c,
                UserErrorCode::UpstreamUnavailable
                    | UserErrorCode::RateLimited
                    | UserErrorCode::IdempotencyKeyInUse
                    | UserErrorCode::StoreUnavailable
            )
        })
    }

    fn echo(&mut self, _client_mutation_id: Option<String>) {}

    fn outcome(&self) -> WriteOutcome {
        match self.code {
            None => WriteOutcome::Success,
            Some(UserErrorCode::OutcomeUnknown) => WriteOutcome::Unknown,
            Some(_) => WriteOutcome::Failed,
        }
    }

    fn first_error(&self) -> Option<UserErrorCode> {
        self.code
    }

    fn save(&self) -> Value {
        let r = &self.reply;
        json!({
            "status": r.status,
            "body": r.body,
            "etag": r.etag,
            "location": r.location,
            "lane": r.lane,
            "code": self.code.save(),
        })
    }

    fn load(v: &Value, dirs: &Directories) -> Option<ProxyPayload> {
        let text = |field: &str| v[field].as_str().map(str::to_owned);
        let code: Option<UserErrorCode> = Stored::load(&v["code"], dirs)?;
        let lane = match v["lane"].as_str()? {
            "critical" => "critical",
            "write" => "write",
            _ => "interactive",
        };
        Some(ProxyPayload {
            reply: ProxyReply {
                status: u16::try_from(v["status"].as_u64()?).ok()?,
                body: text("body")?,
                etag: text("etag"),
                location: text("location"),
                retry_after: None,
                from_mirror: false,
                lane,
                failure: None,
            },
            code,
        })
    }
}

/// The call a proxied write of `org` runs as, under `idempotency_key`.
pub fn proxy_call(
    org: &str,
    user_key: impl Fn(&str) -> String,
    request: &ProxyRequest<'_>,
    idempotency_key: Option<String>,
) -> Call {
    let input = json!({
        "method": request.method.as_str(),
        "path": request.path,
        "query": request.query,
        "body": request.body,
    });
    let options = WriteOptions {
        idempotency_key,
        client_mutation_id: None,
    };
    let targets = targets_of(org, &user_key, request);
    Call::new("scimProxy", &input, &options, org.to_owned()).with_targets(targets)
}

/// The users and groups a request names: the path's object, a new user's `userName`, the
/// members a group body or PatchOp lists (by value, or in a `members[value eq "…"]` path).
fn targets_of(
    org: &str,
    user_key: &dyn Fn(&str) -> String,
    request: &ProxyRequest<'_>,
) -> Vec<Target> {
    let user = |value: &str| {
        let key = user_key(value);
        Target {
            kind: "User".into(),
            id: GlobalId::new(Kind::User, org, &key).encode(),
            email: key.contains('@').then(|| key.clone()),
        }
    };
    let mut out = Vec::new();
    match ProxyTarget::of(request.path) {
        ProxyTarget::User(id) => out.push(user(&id)),
        ProxyTarget::Group(id) => out.push(Target {
            kind: "Group".into(),
            id: GlobalId::new(Kind::Group, org, &id).encode(),
            email: None,
        }),
        ProxyTarget::Users => {
            if let Some(name) = request.body.and_then(|b| b["userName"].as_str()) {
                out.push(user(name));
            }
        }
        _ => {}
    }
    let Some(body) = request.body else {
        return out;
    };
    let mut members: Vec<&Value> = body["members"].as_array().into_iter().flatten().collect();
    for op in body["Operations"].as_array().into_iter().flatten() {
        members.extend(op["value"].as_array().into_iter().flatten());
        members.extend(op["value"]["members"].as_array().into_iter().flatten());
        if let Some(path) = op["path"].as_str()
            && let Some((_, rest)) = path.split_once("value eq \"")
            && let Some((value, _)) = rest.split_once('"')
        {
            out.push(user(value));
        }
    }
    for value in members.iter().filter_map(|m| m["value"].as_str()) {
        out.push(user(value));
    }
    out.truncate(100);
    out
}
