//! The per-request DataLoader for point reads: a request's lookups of users and groups are
//! batched and de-duplicated here; the directory's shared cache coalesces them across requests.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Result};
use futures_util::future::{BoxFuture, join_all};

use super::errors;
use crate::directory::{DirHandle, DirectoryError, DirectoryReads, GroupRec, UserRec};
use crate::keys::{Email, GroupId, OrgId, UserKey};

/// The directory a point read asks: the handle itself, so a batch needs no lookup by name. A
/// gateway has one directory per organization, so the organization is its identity.
#[derive(Clone)]
pub struct DirKey(pub DirHandle);

impl PartialEq for DirKey {
    fn eq(&self, other: &DirKey) -> bool {
        self.0.org_id() == other.0.org_id()
    }
}

impl Eq for DirKey {}

impl std::hash::Hash for DirKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.org_id().hash(state);
    }
}

impl std::fmt::Debug for DirKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.org_id().as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PointReq {
    UserByKey { dir: DirKey, key: UserKey },
    UserByEmail { dir: DirKey, email: Email },
    Group { dir: DirKey, id: GroupId },
}

impl PointReq {
    fn dir(&self) -> &DirHandle {
        match self {
            PointReq::UserByKey { dir, .. }
            | PointReq::UserByEmail { dir, .. }
            | PointReq::Group { dir, .. } => &dir.0,
        }
    }
}

#[derive(Clone, Debug)]
pub enum Point {
    User(Arc<UserRec>),
    Group(Arc<GroupRec>),
}

/// Batches a request's point reads. Its keys carry their directories, which the resolvers took
/// from the organizations the request may see.
pub struct PointLoader;

/// The error of a batch: the organization it concerns and what happened.
#[derive(Clone, Debug)]
pub struct LoadError {
    org: OrgId,
    error: DirectoryError,
}

async fn load_one(dir: &DirHandle, req: &PointReq) -> Result<Option<Point>, DirectoryError> {
    Ok(match req {
        PointReq::UserByKey { key, .. } => dir.user(key).await?.map(Point::User),
        PointReq::UserByEmail { email, .. } => dir.user_by_email(email).await?.map(Point::User),
        PointReq::Group { id, .. } => dir.group(id).await?.map(Point::Group),
    })
}

impl Loader<PointReq> for PointLoader {
    type Value = Point;
    type Error = LoadError;

    // A key's hash and equality are its organization's id, which never changes; the mutable
    // state behind the directory handle takes no part in them.
    #[allow(clippy::mutable_key_type)]
    async fn load(&self, keys: &[PointReq]) -> Result<HashMap<PointReq, Point>, LoadError> {
        let results = join_all(
            keys.iter()
                .map(|req| async move { (req, load_one(req.dir(), req).await) }),
        )
        .await;
        let mut out = HashMap::new();
        for (req, result) in results {
            match result {
                Ok(Some(point)) => {
                    out.insert(req.clone(), point);
                }
                Ok(None) => {}
                Err(error) => {
                    return Err(LoadError {
                        org: req.dir().org_id().clone(),
                        error,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Adds the per-request loader to a request.
pub fn attach(request: async_graphql::Request) -> async_graphql::Request {
    request.data(DataLoader::new(PointLoader, RequestScoped::new().spawner()))
}

/// The DataLoader runs each batch in a task of its own. A plain `tokio::spawn` would let a
/// batch outlive its request: a client that hung up would still have its point reads wait for
/// the budget and go upstream. Each batch task here ends when the request's loader is dropped
/// (the request finished, or its future was dropped because the client went away), which
/// drops the batch's budget waits and sends nothing. Requests that share one upstream read
/// through the point cache are unaffected: the cache hands the read to a caller still there.
struct RequestScoped {
    /// Never sent on: dropping it (with the loader that owns the spawner) is the signal.
    alive: tokio::sync::watch::Sender<()>,
}

impl RequestScoped {
    fn new() -> RequestScoped {
        RequestScoped {
            alive: tokio::sync::watch::Sender::new(()),
        }
    }

    /// Each batch also counts its upstream calls as the request's (its `extensions.cost`).
    fn spawner(self) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let counter = crate::directory::call_counter();
        move |batch| {
            let mut alive = self.alive.subscribe();
            let counter = counter.clone();
            tokio::spawn(async move {
                let batch = async move {
                    match counter {
                        Some(c) => crate::directory::count_calls(c, batch).await,
                        None => batch.await,
                    }
                };
                tokio::select! {
                    () = batch => {}
                    // `changed` fails only once the sender is gone.
                    _ = alive.changed() => {}
                }
            });
        }
    }
}

/// Loads through the request's DataLoader, or directly when the request has none.
pub async fn load_point(ctx: &Context<'_>, req: PointReq) -> Result<Option<Point>> {
    if let Some(loader) = ctx.data_opt::<DataLoader<PointLoader>>() {
        return loader
            .load_one(req)
            .await
            .map_err(|e| errors::directory(e.org.as_str(), e.error));
    }
    let dir = req.dir();
    load_one(dir, &req)
        .await
        .map_err(|e| errors::directory(dir.org_id().as_str(), e))
}
