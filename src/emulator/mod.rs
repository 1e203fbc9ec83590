//! The Amplitude-faithful SCIM 2.0 emulator: a seeded directory behind Amplitude's quirks,
//! rate limit and injectable faults, served by axum, with a `/_emulator` control surface.

mod admin;
mod config;
mod discovery;
mod errors;
mod filter;
mod gate;
mod group_patch;
mod groups;
mod query;
mod render;
mod rfc;
mod seed;
mod state;
mod store;
mod traffic;
mod user_patch;
mod users;
mod versions;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use admin::ADMIN_PATH;
pub(crate) use config::parse_limit;
pub use config::{
    EmulatorConfig, ErrorBodyFormat, Faults, LoggedRequest, MemberChange, Stats, Switches,
};
pub use state::EmulatorState;

use crate::scim::Profile;

/// The whole emulator as a router: SCIM routes under the profile's base path (behind the gate),
/// `/_emulator` beside them, and a SCIM 404 for anything else.
pub(crate) fn router(state: EmulatorState) -> Router {
    let base = state.profile().base_path();
    let mut scim = Router::new()
        .route(
            &format!("{base}/Users"),
            get(users::list).post(users::create),
        )
        .route(
            &format!("{base}/Users/{{id}}"),
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route(
            &format!("{base}/Groups"),
            get(groups::list).post(groups::create),
        )
        .route(
            &format!("{base}/Groups/{{id}}"),
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        );
    if state.profile() == Profile::Rfc7644 {
        scim = scim
            .route(
                &format!("{base}/ServiceProviderConfig"),
                get(discovery::service_provider_config),
            )
            .route(
                &format!("{base}/ResourceTypes"),
                get(discovery::resource_types),
            )
            .route(
                &format!("{base}/ResourceTypes/{{id}}"),
                get(discovery::resource_type),
            )
            .route(&format!("{base}/Schemas"), get(discovery::schemas))
            .route(&format!("{base}/Schemas/{{id}}"), get(discovery::schema))
            .route(&format!("{base}/.search"), post(rfc::search_all))
            .route(&format!("{base}/Users/.search"), post(users::search))
            .route(&format!("{base}/Groups/.search"), post(groups::search));
    }
    let scim = scim
        .route(&format!("{base}/{{*rest}}"), any(gate::not_found))
        .method_not_allowed_fallback(gate::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::gate,
        ));
    scim.merge(admin::routes())
        .fallback(gate::not_found)
        .with_state(state)
}

/// A running emulator bound to a socket; stops on `shutdown` or when dropped.
pub struct RunningEmulator {
    addr: SocketAddr,
    state: EmulatorState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Seeds the directory, binds `config.bind` (port 0 picks a free port) and serves.
pub async fn spawn(config: EmulatorConfig) -> std::io::Result<RunningEmulator> {
    let listener = TcpListener::bind(config.bind).await?;
    let addr = listener.local_addr()?;
    let state = EmulatorState::new(&config);
    let app = router(state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            // A dropped sender stops the server too.
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "emulator server stopped");
        }
    });
    tracing::info!(%addr, profile = %config.profile, users = config.users, "SCIM emulator listening");
    Ok(RunningEmulator {
        addr,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

impl RunningEmulator {
    fn host(&self) -> String {
        let ip = match self.addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
            ip if ip.is_unspecified() => "[::1]".to_owned(),
            ip if ip.is_ipv6() => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        format!("http://{ip}:{}", self.addr.port())
    }

    /// The SCIM root, e.g. `http://127.0.0.1:PORT/scim/1` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("{}{}", self.host(), self.state.profile().base_path())
    }

    /// The control surface, e.g. `http://127.0.0.1:PORT/_emulator`.
    pub fn admin_url(&self) -> String {
        format!("{}{ADMIN_PATH}", self.host())
    }

    pub fn token(&self) -> &str {
        self.state.token()
    }

    /// Log times are milliseconds since this instant.
    pub fn started_at(&self) -> Instant {
        self.state.started_at()
    }

    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.requests()
    }

    /// The memberships PATCHes changed, in order, on the request log's clock.
    pub fn member_changes(&self) -> Vec<MemberChange> {
        self.state.member_changes()
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state.set_faults(faults);
    }

    pub fn state(&self) -> &EmulatorState {
        &self.state
    }

    /// Stops accepting, ends hanging requests, and waits (briefly) for in-flight ones.
    pub(crate) async fn shutdown(mut self) {
        self.state.close();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.state.close();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
