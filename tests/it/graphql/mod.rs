//! The GraphQL read path through real HTTP: paging, upstream cost counted at the emulator,
//! global ids, filters, and the HTTP surface.

mod audit;
mod cache;
mod cost;
mod filters;
mod http;
mod http_edge;
mod nodes;
mod paging;
mod schema;
