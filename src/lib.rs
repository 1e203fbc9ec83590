//! scimgate: a GraphQL gateway over SCIM 2.0 directories within the upstream's rate budget.
//!
//! The module map. The layers call only downward, in this order; the modules after them
//! stand beside the layers. Each module's own `//!` says what it owns.

/// The HTTP edge: `/graphql`, GraphiQL, health and readiness, API keys, CORS, request ids.
pub mod http;

/// The GraphQL schema, its one constructor, resolvers and the error codes.
pub mod graphql;

/// Governance over the directory: time-bound group grants and their expiry scheduler.
pub mod governance;

/// One organization's directory: the mirror, its refresh, pages, point reads, writes, and the seam the layers above use.
pub mod directory;

/// The SCIM client: wire types, dialect profiles, the retry policy and the pager.
pub mod scim;

/// The per-organization upstream budget: the limiter, priority lanes and admission.
pub mod budget;

/// The domain's keys and addresses (`OrgId`, `UserKey`, `GroupId`, `Email`) that every layer names.
pub mod keys;

/// Every exported metric's name and description, the process-wide recorder, recording helpers.
pub mod metrics;

/// The durable store (SQLite or PostgreSQL): the hash-chained audit log, write intents, open invitations.
pub mod store;

/// The typed configuration tree: defaults, TOML file, `SCIMGATE_*` variables, flags.
pub mod config;

/// API keys (stored hashed), their roles and the organizations each may reach.
pub mod auth;

/// The Amplitude-faithful SCIM emulator the tests, the demo and the benchmark run against.
pub mod emulator;

/// Assembly: a configuration turned into budgets, clients, directories and one schema.
pub mod gateway;

/// The command line: `serve`, `demo`, `emulate`, `schema`, `check-config`, `hash-key`.
pub mod cli;

/// The demo's sample grants, made through GraphQL once the demo's gateway answers.
pub(crate) mod demo_seed;

/// `scimgate audit verify | export`: the audit log checked or exported from the store.
pub mod audit_cli;

/// `scimgate review export`: an access review's evidence exported from the store.
pub mod review_cli;

/// Restarts a background task that panics, with a doubling pause.
pub(crate) mod supervise;

/// Log filter and format from the environment, and the subscriber on stderr.
pub mod telemetry;
