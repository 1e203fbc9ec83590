//! Row 3's framework floor: a minimal async-graphql + axum server with the gateway's schema
//! subset and the same data, from a plain `Vec` (no mirror, budget or auth). It runs as a child
//! process of this benchmark binary (`--floor-child`), so it and the gateway each have their own.

use std::collections::HashMap;
use std::process::{Command, ExitCode};
use std::sync::Arc;

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, Object, Result, Schema, SimpleObject,
};
use async_graphql_axum::GraphQL;
use axum::Router;
use axum::routing::{get, post_service};
use scimgate::scim::wire::{Group as WireGroup, User as WireUser};
use serde_json::Value;

use crate::client::Gql;
use crate::procs::{Emulator, Env, Proc, free_port};

pub const CHILD_FLAG: &str = "--floor-child";

/// The floor as a child process, with a client for it (no key: the floor has no auth).
pub struct Floor {
    /// Held so the floor stops with this handle.
    pub proc: Proc,
    pub gql: Gql,
}

impl Floor {
    /// Starts the floor on the emulator's data (read once from `/_emulator/state`).
    pub async fn start(env: &Env, emu: &Emulator) -> Floor {
        let port = free_port();
        let exe = std::env::current_exe().expect("the benchmark's own path");
        let mut cmd = Command::new(exe);
        cmd.args([CHILD_FLAG, &port.to_string(), &emu.url]);
        let mut proc = Proc::spawn("the floor server", cmd, env.log_path("floor"));
        let url = format!("http://127.0.0.1:{port}");
        proc.wait_until_up(&env.http, &format!("{url}/healthz"))
            .await;
        Floor {
            proc,
            gql: Gql::new(env.http.clone(), &url, None),
        }
    }
}

/// The child's `main`: `--floor-child PORT EMULATOR_URL`.
pub fn child_main(args: &[String]) -> ExitCode {
    let (Some(port), Some(emulator)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: {CHILD_FLAG} PORT EMULATOR_URL");
        return ExitCode::FAILURE;
    };
    let port: u16 = port.parse().expect("a port");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(serve(port, emulator));
    ExitCode::SUCCESS
}

async fn serve(port: u16, emulator: &str) {
    scimgate::scim::install_crypto_provider();
    let state: Value = reqwest::get(format!("{emulator}/_emulator/state"))
        .await
        .and_then(|r| r.error_for_status())
        .expect("the emulator's state")
        .json()
        .await
        .expect("JSON state");
    let users: Vec<WireUser> = serde_json::from_value(state["users"].clone()).expect("users");
    let groups: Vec<WireGroup> = serde_json::from_value(state["groups"].clone()).expect("groups");
    let data = FloorData::new(&users, &groups);
    let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
        .data(data)
        .finish();
    let app = Router::new()
        .route("/graphql", post_service(GraphQL::new(schema)))
        .route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the floor's port");
    axum::serve(listener, app).await.expect("serve the floor");
}

/// The data: users in directory order, each with its group names (sorted, as the gateway shows).
struct FloorData {
    users: Vec<Arc<FloorUser>>,
    /// Groups in upstream order, each with its members in upstream order.
    groups: Vec<(Arc<str>, Vec<Arc<FloorUser>>)>,
    members_of: HashMap<Arc<str>, usize>,
}

struct FloorUser {
    email: String,
    display_name: String,
    status: UserStatus,
    groups: Vec<Arc<str>>,
}

const PLACEHOLDER_GIVEN: &str = "NO_GIVEN_NAME";
const PLACEHOLDER_FAMILY: &str = "NO_FAMILY_NAME";

impl FloorData {
    fn new(users: &[WireUser], groups: &[WireGroup]) -> FloorData {
        let mut member_of: HashMap<String, Vec<Arc<str>>> = HashMap::new();
        for g in groups {
            let name: Arc<str> = Arc::from(g.display_name.as_str());
            for m in &g.members {
                member_of
                    .entry(m.value.to_lowercase())
                    .or_default()
                    .push(name.clone());
            }
        }
        let users: Vec<Arc<FloorUser>> = users
            .iter()
            .map(|u| {
                let mut groups = member_of
                    .remove(&u.email().to_lowercase())
                    .unwrap_or_default();
                groups.sort_by_key(|n| n.to_lowercase());
                Arc::new(FloorUser {
                    email: u.email().to_owned(),
                    display_name: display_name(u),
                    status: status(u),
                    groups,
                })
            })
            .collect();
        let by_email: HashMap<String, Arc<FloorUser>> = users
            .iter()
            .map(|u| (u.email.to_lowercase(), u.clone()))
            .collect();
        let groups: Vec<(Arc<str>, Vec<Arc<FloorUser>>)> = groups
            .iter()
            .map(|g| {
                let members = g
                    .members
                    .iter()
                    .filter_map(|m| by_email.get(&m.value.to_lowercase()).cloned())
                    .collect();
                (Arc::from(g.display_name.as_str()), members)
            })
            .collect();
        let members_of = groups
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), i))
            .collect();
        FloorData {
            users,
            groups,
            members_of,
        }
    }
}

fn real(name: Option<&str>, placeholder: &str) -> Option<String> {
    name.filter(|n| *n != placeholder && !n.is_empty())
        .map(str::to_owned)
}

fn display_name(u: &WireUser) -> String {
    match (
        real(u.given_name(), PLACEHOLDER_GIVEN),
        real(u.family_name(), PLACEHOLDER_FAMILY),
    ) {
        (Some(g), Some(f)) => format!("{g} {f}"),
        (Some(n), None) | (None, Some(n)) => n,
        (None, None) => u
            .display_name
            .clone()
            .filter(|d| !d.is_empty() && d != "undefined undefined")
            .unwrap_or_else(|| u.email().to_owned()),
    }
}

fn status(u: &WireUser) -> UserStatus {
    if !u.active {
        UserStatus::Deactivated
    } else if u.given_name() == Some(PLACEHOLDER_GIVEN)
        || u.family_name() == Some(PLACEHOLDER_FAMILY)
    {
        UserStatus::Invited
    } else {
        UserStatus::Active
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
enum UserStatus {
    Active,
    Invited,
    Deactivated,
}

struct Query;

#[Object]
impl Query {
    async fn org(&self) -> Org {
        Org
    }
}

struct Org;

/// `(offset, count)` of a forward page; the cursor is the position.
fn window(first: Option<i32>, after: Option<String>, len: usize) -> Result<(usize, usize)> {
    let first = first.unwrap_or(50);
    if !(0..=100).contains(&first) {
        return Err("first must be within 0..=100".into());
    }
    let start = match after {
        Some(c) => c.parse::<usize>().map_err(|_| "bad cursor")? + 1,
        None => 0,
    };
    let start = start.min(len);
    Ok((start, (first as usize).min(len - start)))
}

#[Object]
impl Org {
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        let data = ctx.data::<FloorData>()?;
        user_page(&data.users, first, after)
    }

    async fn groups(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<GroupConnection> {
        let data = ctx.data::<FloorData>()?;
        let names: Vec<Arc<str>> = data.groups.iter().map(|(n, _)| n.clone()).collect();
        group_page(&names, first, after)
    }
}

/// Where a page of `n` items from `start` stands among `len` (cursors are positions).
fn page_info(start: usize, n: usize, len: usize) -> PageInfo {
    PageInfo {
        has_next_page: start + n < len,
        has_previous_page: start > 0,
        start_cursor: (n > 0).then(|| start.to_string()),
        end_cursor: (n > 0).then(|| (start + n - 1).to_string()),
    }
}

/// A page of users, for the organization's and a group's members.
fn user_page(
    all: &[Arc<FloorUser>],
    first: Option<i32>,
    after: Option<String>,
) -> Result<UserConnection> {
    let (start, n) = window(first, after, all.len())?;
    let edges: Vec<UserEdge> = all[start..start + n]
        .iter()
        .enumerate()
        .map(|(i, u)| UserEdge {
            cursor: (start + i).to_string(),
            node: User(u.clone()),
        })
        .collect();
    Ok(UserConnection {
        page_info: page_info(start, n, all.len()),
        edges,
        total_count: all.len() as i32,
    })
}

/// A page of groups (by name), for a user's groups and the organization's.
fn group_page(
    all: &[Arc<str>],
    first: Option<i32>,
    after: Option<String>,
) -> Result<GroupConnection> {
    let (start, n) = window(first, after, all.len())?;
    let edges: Vec<GroupEdge> = all[start..start + n]
        .iter()
        .enumerate()
        .map(|(i, name)| GroupEdge {
            cursor: (start + i).to_string(),
            node: Group { name: name.clone() },
        })
        .collect();
    Ok(GroupConnection {
        page_info: page_info(start, n, all.len()),
        edges,
        total_count: all.len() as i32,
    })
}

#[derive(SimpleObject)]
struct PageInfo {
    has_next_page: bool,
    has_previous_page: bool,
    start_cursor: Option<String>,
    end_cursor: Option<String>,
}

#[derive(SimpleObject)]
struct UserConnection {
    edges: Vec<UserEdge>,
    page_info: PageInfo,
    total_count: i32,
}

#[derive(SimpleObject)]
struct UserEdge {
    cursor: String,
    node: User,
}

struct User(Arc<FloorUser>);

#[Object]
impl User {
    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn display_name(&self) -> &str {
        &self.0.display_name
    }

    async fn status(&self) -> UserStatus {
        self.0.status
    }

    async fn groups(&self, first: Option<i32>, after: Option<String>) -> Result<GroupConnection> {
        group_page(&self.0.groups, first, after)
    }
}

#[derive(SimpleObject)]
struct GroupConnection {
    edges: Vec<GroupEdge>,
    page_info: PageInfo,
    total_count: i32,
}

#[derive(SimpleObject)]
struct GroupEdge {
    cursor: String,
    node: Group,
}

struct Group {
    name: Arc<str>,
}

#[Object]
impl Group {
    async fn name(&self) -> &str {
        &self.name
    }

    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        let data = ctx.data::<FloorData>()?;
        let all = data
            .members_of
            .get(&self.name)
            .map_or(&[][..], |i| &data.groups[*i].1[..]);
        user_page(all, first, after)
    }
}
