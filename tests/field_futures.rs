//! async-graphql boxes each selected field of an object in a future as large as the type's
//! largest field future. Over 1,032 bytes, glibc malloc serves such a box outside its
//! per-thread cache, on the slow path that consolidates free lists; a page of 50 users with
//! their groups makes about 700 of them. Twice a refactor pushed the futures of `User` and
//! `Group` just past the limit (to 1,056 bytes), and the benchmark's row 3 lost about a tenth
//! (BENCHMARKS.md). This test counts the allocations over the limit that one such page makes.
//!
//! A binary of its own: it installs a tracking global allocator. It means something only in
//! an optimized build (debug futures are several times larger), so it is ignored in debug
//! builds; `.ci/run` runs it with `cargo test --release --test field_futures`.

#[allow(dead_code)]
#[path = "it/support.rs"]
mod support;

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use scimgate::auth::{OrgScope, Principal, Role};
use support::TestApp;
use tracking_allocator::{AllocationGroupId, AllocationRegistry, AllocationTracker, Allocator};

/// glibc's largest thread-cached request on 64-bit targets (`tcache_max_bytes`).
const THREAD_CACHE_MAX: usize = 1032;

#[global_allocator]
static ALLOCATOR: Allocator<std::alloc::System> = Allocator::system();

static LARGE: AtomicUsize = AtomicUsize::new(0);
static ALL: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Counting is on for this thread only: the test runs everything on one thread.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

/// Counts requests by their size as the program asked (the tracking allocator adds a header
/// of its own before passing them on to the system allocator).
struct SizeCounter;

impl AllocationTracker for SizeCounter {
    fn allocated(&self, _addr: usize, size: usize, _wrapped: usize, _group: AllocationGroupId) {
        if COUNTING.with(Cell::get) {
            ALL.fetch_add(1, Ordering::Relaxed);
            if size > THREAD_CACHE_MAX {
                LARGE.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn deallocated(
        &self,
        _addr: usize,
        _size: usize,
        _wrapped: usize,
        _source: AllocationGroupId,
        _current: AllocationGroupId,
    ) {
    }
}

/// The benchmark's row-3 operation.
const PAGE: &str = "{ org(id: \"acme\") { users(first: 50) { totalCount edges { node { email \
    displayName status groups { edges { node { name } } } } } pageInfo { hasNextPage endCursor } } } }";

#[cfg_attr(
    debug_assertions,
    ignore = "field futures are sized in optimized builds: cargo test --release --test field_futures"
)]
#[tokio::test(flavor = "current_thread")]
async fn a_page_of_users_with_groups_stays_in_mallocs_thread_cache() {
    AllocationRegistry::set_global_tracker(SizeCounter).expect("the only tracker");
    AllocationRegistry::enable_tracking();
    let app = TestApp::one(300, 50).await;
    app.warm().await;
    let state = app.gateway.app_state(None);
    let admin = Principal {
        name: "test".into(),
        role: Role::Admin,
        orgs: OrgScope::All,
    };
    let run = || async {
        let request = scimgate::graphql::prepare(PAGE.into(), &state.schema, &admin, "test")
            .unwrap_or_else(|e| panic!("refused: {}", e.message));
        state.schema.execute(request).await
    };
    // Once to warm whatever is lazily built, then counted: everything runs on this thread.
    let warm = run().await;
    assert!(warm.errors.is_empty(), "{:?}", warm.errors);
    COUNTING.with(|c| c.set(true));
    let response = run().await;
    COUNTING.with(|c| c.set(false));
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().expect("JSON");
    let edges = data["org"]["users"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 50);
    let memberships: usize = edges
        .iter()
        .map(|e| e["node"]["groups"]["edges"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(memberships >= 200, "the page shows groups: {memberships}");
    let (large, all) = (LARGE.load(Ordering::Relaxed), ALL.load(Ordering::Relaxed));
    eprintln!(
        "{large} of {all} allocations over {THREAD_CACHE_MAX} bytes, {memberships} memberships"
    );
    // The large ones left are buffers that grow with a list (the futures of 50 users, the
    // answer's text), a few per list; a field future over the limit adds one per user field
    // and one per membership shown.
    assert!(
        large <= 200,
        "{large} of {all} allocations were over {THREAD_CACHE_MAX} bytes for 50 users and \
         {memberships} memberships"
    );
}
