//! An organization's directory with its mirror already loaded from given users and groups, and
//! an upstream nobody listens on: for unit tests of the layers above, which then run without an
//! emulator. Reads are served from the mirror; a call that would reach the upstream fails as
//! unreachable, so a test that needs one shows it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;

use super::refresh::add_mirrored_user;
use super::snapshot::Builder;
use super::{Dialect, Directory, DirectorySettings, PointCache, Snapshot, Source};
use crate::budget::{Budget, BudgetConfig};
use crate::scim::wire::{Group, Member, User};
use crate::scim::{ClientConfig, Profile, ScimClient};

/// One user of a preloaded directory: e-mail, given and family name, whether active.
pub(crate) struct Person<'a>(pub &'a str, pub &'a str, pub &'a str, pub bool);

/// One group: its upstream id, name and members' e-mails.
pub(crate) struct Team<'a>(pub &'a str, pub &'a str, pub &'a [&'a str]);

impl Directory {
    /// A directory of organization `org` whose complete mirror holds `people` (in this order,
    /// the upstream's) and `teams`. Its upstream is 127.0.0.1:9, where nothing answers.
    pub(crate) fn preloaded(
        org: &str,
        dialect: Dialect,
        people: &[Person],
        teams: &[Team],
    ) -> Directory {
        let profile = Profile::from(dialect);
        let mut config = ClientConfig::new(
            "http://127.0.0.1:9/scim",
            SecretString::from("unused"),
            profile,
        );
        config.org = org.to_owned();
        config.attempt_timeout = Duration::from_millis(200);
        let client = ScimClient::new(config, Budget::new(BudgetConfig::default()))
            .expect("a client needs no network to be built");
        let settings = DirectorySettings {
            // Never stale during a test: no refresh starts behind a read.
            max_age: Duration::from_secs(24 * 3600),
            ..DirectorySettings::default()
        };
        let dir = Directory::new(
            crate::keys::OrgId::new(org),
            org,
            client,
            settings,
            PointCache::new(1_000),
        );
        let now = SystemTime::now();
        let snapshot = Arc::new(mirror_of(dialect, people, teams, now));
        dir.inner.state.send_modify(|s| {
            s.publish(snapshot);
            s.last_refresh_at = Some(now);
        });
        dir
    }
}

/// A complete mirror holding `people` (in this order, the upstream's) and `teams`, keyed by
/// `dialect`'s rule, as a refresh at `now` would have built it.
pub(crate) fn mirror_of(
    dialect: Dialect,
    people: &[Person],
    teams: &[Team],
    now: SystemTime,
) -> Snapshot {
    let keys = Profile::from(dialect).key_rule();
    let mut builder = Builder::new(None, keys);
    for Person(email, given, family, active) in people {
        let mut user = User::new(email, given, family);
        user.id = Some((*email).to_owned());
        user.active = *active;
        add_mirrored_user(&mut builder, keys, user, now);
    }
    for (seq, Team(id, name, members)) in teams.iter().enumerate() {
        let mut group = Group::new(name, members.iter().map(|m| Member::new(m)).collect());
        group.id = Some((*id).into());
        let rec = Directory::group_rec(keys, group, seq as u64, now, Source::Mirror)
            .expect("a group with an id");
        builder.add_group(rec);
    }
    builder.groups_done();
    builder.snapshot(true, Some(now))
}
