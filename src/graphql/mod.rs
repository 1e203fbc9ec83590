//! The GraphQL layer: the schema and its one constructor. Resolvers read through the directory
//! seam (`DirHandle`s); errors leave through `errors` with a stable code.

pub(crate) mod cache;
pub(crate) mod code;
pub(crate) mod connection;
pub mod errors;
#[cfg(test)]
mod fake_tests;
pub(crate) mod guard;
pub(crate) mod ids;
pub(crate) mod limits;
pub(crate) mod loaders;
pub(crate) mod mutation;
pub(crate) mod query;
#[cfg(test)]
mod resolver_tests;
pub(crate) mod subscription;
pub(crate) mod syntax;
pub(crate) mod types;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::Schema;

use crate::auth::Principal;
use crate::config::LimitsConfig;
use crate::directory::{DirHandle, Directories};

pub use mutation::Journal;

pub type GatewaySchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// The request id the HTTP edge assigned, for audit rows.
#[derive(Clone, Debug)]
pub struct RequestTag(pub String);

/// Builds the schema with every limit set. Writes are journaled in `journal`'s store, and
/// `Org.auditLog` reads that store; only the SDL and resolver tests build one without
/// (their writes then leave no record, and the log cannot be read).
pub fn build_schema(
    dirs: Directories,
    limits: &LimitsConfig,
    journal: Option<Journal>,
    grants: Option<crate::governance::Grants>,
) -> GatewaySchema {
    let handles = dirs.handles();
    assemble(dirs, handles, limits, journal, grants)
}

/// A schema that reads through `handles` (the fakes of the resolver unit tests), with no real
/// directory, store or grants beside them: mutations find no organization.
#[cfg(test)]
pub(crate) fn build_schema_over(handles: Directories<DirHandle>) -> GatewaySchema {
    assemble(
        Directories::default(),
        handles,
        &LimitsConfig::default(),
        None,
        None,
    )
}

fn assemble(
    dirs: Directories,
    handles: Directories<DirHandle>,
    limits: &LimitsConfig,
    journal: Option<Journal>,
    grants: Option<crate::governance::Grants>,
) -> GatewaySchema {
    let mut builder = Schema::build(
        query::Query,
        mutation::Mutation::default(),
        subscription::Subscription,
    )
    .data(handles)
    .data(dirs)
    // 64 MiB of records: about 60,000 ordinary calls a day, and no flood of large inputs can
    // hold more. In front of the store's records, for as long as they replay.
    .data(mutation::Idempotency::new(
        journal
            .as_ref()
            .map_or(Duration::from_secs(24 * 3600), Journal::ttl),
        64 << 20,
    ))
    .data(Arc::new(limits.clone()))
    .data(limits::StreamSlots::new(limits.max_subscriptions))
    .data(journal.as_ref().map(|j| j.store().clone()))
    .data(journal)
    .data(grants)
    // A backstop behind the limits extension, against recursion in the executor.
    .limit_recursive_depth(64);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    if !limits.field_suggestions {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

/// The schema's SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema(Directories::default(), &LimitsConfig::default(), None, None).sdl()
}

/// The organizations `principal` may reach, as the handles resolvers read through.
pub(crate) fn visible_handles(
    schema: &GatewaySchema,
    principal: &Principal,
) -> Directories<DirHandle> {
    schema
        .data::<Directories<DirHandle>>()
        .cloned()
        .unwrap_or_default()
        .visible_to(|org| principal.orgs.allows(org.as_str()))
}

/// Prepares a request for one client: checks it against the limits, then gives it its
/// principal, only the organizations it may reach (others look absent), and its per-request
/// DataLoader (whose keys carry directories the resolvers took from those). A request over a
/// limit gets the error to answer with instead.
pub fn prepare(
    mut request: async_graphql::Request,
    schema: &GatewaySchema,
    principal: &Principal,
    request_id: &str,
) -> Result<async_graphql::Request, async_graphql::ServerError> {
    if let Some(limits) = schema.data::<Arc<LimitsConfig>>() {
        limits::check(&mut request, limits)?;
    }
    let all = schema.data::<Directories>().cloned().unwrap_or_default();
    let visible = all.visible_to(|org| principal.orgs.allows(org.as_str()));
    // What the resolvers read through: the same organizations, as handles.
    let handles = visible_handles(schema, principal);
    Ok(loaders::attach(request)
        .data(visible)
        .data(handles)
        .data(principal.clone())
        .data(RequestTag(request_id.to_owned())))
}

#[cfg(test)]
mod tests {
    /// GraphQL reaches the upstream only through the directory: it names neither the SCIM
    /// client's nor the budget's types (what it shows of them are directory-level types).
    #[test]
    fn graphql_and_http_import_neither_scim_nor_budget() {
        fn check(dir: &std::path::Path) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    check(&path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for root in ["crate", "scimgate"] {
                        for lower in ["scim", "budget"] {
                            // Spelled in two pieces, so this file does not find itself.
                            let path_of = format!("{root}::{lower}");
                            assert!(
                                !text.contains(&path_of),
                                "{} names {path_of}",
                                path.display()
                            );
                        }
                    }
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        check(&src.join("graphql"));
        check(&src.join("http"));
    }
}
