//! Integration tests, one binary: the SCIM client against scripted HTTP, the emulator through
//! real HTTP, and the budget measured at the emulator.

mod access;
mod audit;
mod budget_upstream;
mod cli;
mod cli_ops;
mod crash;
mod crash_grants;
mod emulator;
mod governance_grants;
mod grant_events;
mod grant_pending;
mod grant_timing;
mod graphql;
mod incremental;
mod load_shedding;
mod metrics;
mod mutations;
mod openapi;
mod ops;
mod proxy;
mod replica_grants;
mod review_report;
mod reviews;
mod scim_client;
mod snapshot_export;
mod snapshots;
mod store_restart;
mod subscriptions;
mod support;
mod unified;
mod webhooks;
mod write_events;
