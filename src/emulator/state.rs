//! `EmulatorState`: the cloneable handle the router and tests share (directory, gate state,
//! settings), with in-process operations that bypass HTTP, auth and the rate limit.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::config::{EmulatorConfig, Faults, LoggedRequest, Stats, Switches};
use super::errors::ScimError;
use super::seed;
use super::store::{Directory, validate_email};
use super::traffic::GateState;
use super::versions::now_iso;
use crate::scim::Profile;
use crate::scim::wire::{Group, User};

pub(crate) struct Shared {
    pub(crate) profile: Profile,
    pub(crate) switches: Switches,
    pub(crate) token: String,
    pub(crate) limit: u32,
    pub(crate) window: Duration,
    pub(crate) started_at: Instant,
    pub(crate) dir: Mutex<Directory>,
    pub(crate) gate: Mutex<GateState>,
    /// Set on shutdown so hanging requests end at once.
    pub(crate) closing: watch::Sender<bool>,
}

/// The emulator's state: a cheap handle (one `Arc`).
#[derive(Clone)]
pub struct EmulatorState {
    inner: Arc<Shared>,
}

impl EmulatorState {
    /// Builds and seeds the directory; deterministic for a given config.
    pub(crate) fn new(config: &EmulatorConfig) -> EmulatorState {
        let mut dir = Directory::new(config.profile, config.switches.clone(), config.seed);
        seed::seed(&mut dir, config.users, config.groups, config.seed);
        EmulatorState {
            inner: Arc::new(Shared {
                profile: config.profile,
                switches: config.switches.clone(),
                token: config.token.clone(),
                limit: config.limit,
                window: config.window,
                started_at: Instant::now(),
                dir: Mutex::new(dir),
                gate: Mutex::new(GateState::new(config.seed)),
                closing: watch::Sender::new(false),
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner
    }

    pub(crate) fn dir(&self) -> MutexGuard<'_, Directory> {
        // A panic elsewhere must not make the emulator unusable: the data stays consistent
        // because every operation completes under the lock.
        self.inner.dir.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn gate_state(&self) -> MutexGuard<'_, GateState> {
        self.inner.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A JSON response with the profile's media type.
    pub(crate) fn respond(&self, status: StatusCode, body: &impl Serialize) -> Response {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let mut response = (status, bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.inner.profile.media_type()),
        );
        response
    }

    pub(crate) fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    pub fn profile(&self) -> Profile {
        self.inner.profile
    }

    pub(crate) fn token(&self) -> &str {
        &self.inner.token
    }

    pub fn switches(&self) -> &Switches {
        &self.inner.switches
    }

    /// Log times are milliseconds since this instant.
    pub(crate) fn started_at(&self) -> Instant {
        self.inner.started_at
    }

    pub(crate) fn stats(&self) -> Stats {
        self.gate_state().stats(self.inner.limit, self.inner.window)
    }

    pub(crate) fn requests(&self) -> Vec<LoggedRequest> {
        self.gate_state().requests()
    }

    pub(crate) fn member_changes(&self) -> Vec<super::config::MemberChange> {
        self.dir().member_log.clone()
    }

    pub(crate) fn faults(&self) -> Faults {
        self.gate_state().faults()
    }

    /// Replaces the faults; `force_429_secs` counts from now.
    pub(crate) fn set_faults(&self, faults: Faults) {
        self.gate_state().set_faults(faults, Instant::now());
    }

    /// Clears the log, stats, faults and the rate limiter's window (not the directory).
    pub(crate) fn reset(&self) {
        self.gate_state().reset();
    }

    /// Every user as get-by-id shows it, in creation order.
    pub fn users(&self) -> Vec<User> {
        let dir = self.dir();
        dir.users()
            .filter_map(|(seq, _)| dir.render_user(seq, true))
            .collect()
    }

    /// One user by id (Amplitude: the e-mail, case-insensitive), as get-by-id shows it.
    pub fn user(&self, id: &str) -> Option<User> {
        let dir = self.dir();
        dir.render_user(dir.user_seq(id)?, true)
    }

    /// Every group with its members, in creation order (ids as strings).
    pub fn groups(&self) -> Vec<Group> {
        let dir = self.dir();
        dir.groups()
            .filter_map(|(seq, _)| dir.render_group(seq))
            .collect()
    }

    /// One group by id.
    pub fn group(&self, id: &str) -> Option<Group> {
        let dir = self.dir();
        dir.render_group(dir.group_seq(id)?)
    }

    /// E-mails of pending invitees.
    pub fn pending(&self) -> Vec<String> {
        let dir = self.dir();
        dir.users()
            .filter(|(_, u)| u.pending)
            .map(|(_, u)| u.email.clone())
            .collect()
    }

    /// Whether this e-mail is a pending invite.
    pub fn is_pending(&self, email: &str) -> bool {
        let dir = self.dir();
        dir.user_seq_by_email(email)
            .and_then(|seq| dir.user(seq))
            .is_some_and(|u| u.pending)
    }

    /// Accepts a pending invite, as if the invitee signed up; false if there is none.
    pub fn accept(&self, email: &str) -> bool {
        let mut dir = self.dir();
        dir.user_seq_by_email(email)
            .is_some_and(|seq| dir.accept(seq))
    }

    /// Accepts every pending invite; returns how many there were.
    pub(crate) fn accept_all(&self) -> usize {
        let mut dir = self.dir();
        let pending: Vec<u64> = dir
            .users()
            .filter(|(_, u)| u.pending)
            .map(|(s, _)| s)
            .collect();
        pending.into_iter().filter(|seq| dir.accept(*seq)).count()
    }

    /// Adds an already-accepted user "behind the gateway's back"; returns it as get-by-id would.
    pub fn add_user(&self, user: User) -> Result<User, String> {
        self.add_accepted_user(user).map_err(|e| e.detail)
    }

    pub(crate) fn add_accepted_user(&self, user: User) -> Result<User, ScimError> {
        let email = user.user_name.trim().to_owned();
        if self.inner.profile == Profile::Amplitude {
            validate_email(&email)?;
        }
        let mut dir = self.dir();
        let given = user.given_name().map(str::to_owned);
        let family = user.family_name().map(str::to_owned);
        let seq = dir.create_user(&email, given, family, false, &now_iso())?;
        dir.render_user(seq, true)
            .ok_or_else(|| ScimError::not_found("user vanished"))
    }

    /// Removes a user (and its memberships) by id; false if unknown.
    pub fn remove_user(&self, id: &str) -> bool {
        let mut dir = self.dir();
        dir.user_seq(id)
            .and_then(|seq| dir.delete_user(seq))
            .is_some()
    }
}
