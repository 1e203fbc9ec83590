//! The SCIM emulator over real HTTP: every documented Amplitude behaviour, the switches for the
//! undocumented ones, the rate limit, faults, the control surface and the RFC 7644 profile.

use reqwest::Method;
use reqwest::header::HeaderMap;
use scimgate::emulator::{EmulatorConfig, RunningEmulator, spawn};
use scimgate::scim::Profile;
use scimgate::scim::wire::User;
use serde_json::{Value, json};

mod gate;
mod groups;
mod rfc7644;
mod rfc7644_versions;
mod seed;
mod users;

struct Emu {
    emu: RunningEmulator,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a SCIM error body with this status and (optional) scimType.
    fn assert_scim_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status.to_string(), "{}", self.text);
        assert_eq!(self.body["scimType"].as_str(), scim_type, "{}", self.text);
        assert!(self.body["detail"].is_string(), "{}", self.text);
    }
}

fn config(users: usize, groups: usize) -> EmulatorConfig {
    EmulatorConfig {
        users,
        groups,
        ..EmulatorConfig::default()
    }
}

fn rfc(users: usize, groups: usize) -> EmulatorConfig {
    EmulatorConfig {
        users,
        groups,
        ..EmulatorConfig::for_profile(Profile::Rfc7644)
    }
}

impl Emu {
    async fn start(config: EmulatorConfig) -> Emu {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let emu = spawn(config).await.expect("emulator starts");
        let http = reqwest::Client::builder().build().expect("client builds");
        Emu { emu, http }
    }

    async fn send(
        &self,
        method: Method,
        url: String,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, url);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request completes");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body reads");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.emu.base_url());
        self.send(method, url, Some(self.emu.token()), body).await
    }

    /// A SCIM call with extra request headers (e.g. `If-Match`).
    async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.emu.base_url()))
            .header("authorization", format!("Bearer {}", self.emu.token()));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request completes");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body reads");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    async fn raw(&self, method: Method, path: &str, body: &str) -> Reply {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.emu.base_url()))
            .header("authorization", format!("Bearer {}", self.emu.token()))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request completes");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body reads");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.emu.admin_url());
        self.send(method, url, None, body).await
    }

    fn add(&self, email: &str, given: &str, family: &str) -> User {
        self.emu
            .state()
            .add_user(User::new(email, given, family))
            .expect("user added")
    }

    /// Creates a group over HTTP and returns its id as a string.
    async fn group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
        let r = self
            .call(
                Method::POST,
                "/Groups",
                Some(json!({"displayName": name, "members": members})),
            )
            .await;
        assert!(r.status == 200 || r.status == 201, "{}", r.text);
        id_string(&r.body["id"])
    }
}

fn id_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn member_values(group: &Value) -> Vec<String> {
    group["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn user_body(email: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": email}],
        "active": true
    })
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}
