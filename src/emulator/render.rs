//! Directory records as SCIM resources: placeholder names for pending invitees, member
//! `display` strings, `groups` on a user, and the profile's `meta`.

use super::store::{Directory, UserRec};
use super::versions::etag;
use crate::scim::Profile;
use crate::scim::wire::{self, Email, GroupRef, Member, Meta, Name, ResourceId};

pub(crate) const NO_GIVEN_NAME: &str = "NO_GIVEN_NAME";
pub(crate) const NO_FAMILY_NAME: &str = "NO_FAMILY_NAME";

impl Directory {
    /// The names a client sees: placeholders for pending invitees.
    pub(crate) fn shown_names<'a>(&self, user: &'a UserRec) -> (Option<&'a str>, Option<&'a str>) {
        if user.pending && self.switches.placeholder_names_for_pending {
            (Some(NO_GIVEN_NAME), Some(NO_FAMILY_NAME))
        } else {
            (user.given.as_deref(), user.family.as_deref())
        }
    }

    /// A member's `display`: "Given Family"; JavaScript's "undefined undefined" when unknown.
    pub(crate) fn member_display(&self, user: &UserRec) -> String {
        let (given, family) = if user.pending && self.switches.placeholder_names_for_pending {
            (None, None)
        } else {
            (user.given.as_deref(), user.family.as_deref())
        };
        format!(
            "{} {}",
            given.unwrap_or("undefined"),
            family.unwrap_or("undefined")
        )
    }

    pub(crate) fn groups_of(&self, seq: u64) -> Vec<GroupRef> {
        self.groups()
            .filter(|(_, g)| g.members.contains(&seq))
            .map(|(_, g)| GroupRef {
                value: ResourceId(g.id.clone()),
                display: Some(g.name.clone()),
            })
            .collect()
    }

    /// The user as a SCIM resource; `with_groups` fills `groups` (Amplitude: get-by-id only).
    pub(crate) fn render_user(&self, seq: u64, with_groups: bool) -> Option<wire::User> {
        let user = self.user(seq)?;
        let (given, family) = self.shown_names(user);
        let name = (given.is_some() || family.is_some()).then(|| Name {
            given_name: given.map(str::to_owned),
            family_name: family.map(str::to_owned),
            formatted: None,
        });
        let meta = match self.profile {
            Profile::Amplitude => Meta {
                resource_type: Some("User".into()),
                ..Meta::default()
            },
            Profile::Rfc7644 => Meta {
                resource_type: Some("User".into()),
                created: Some(user.created.clone()),
                last_modified: Some(user.modified.clone()),
                version: Some(etag(user.version)),
                ..Meta::default()
            },
        };
        let (emails, external_id) = match self.profile {
            Profile::Amplitude => (
                vec![Email {
                    value: user.email.clone(),
                    primary: Some(true),
                    kind: None,
                }],
                None,
            ),
            Profile::Rfc7644 => (user.emails.clone(), user.external_id.clone()),
        };
        Some(wire::User {
            schemas: vec![wire::USER_SCHEMA.to_owned()],
            id: Some(user.id.clone()),
            user_name: user.email.clone(),
            name,
            display_name: None,
            active: user.active,
            emails,
            groups: with_groups.then(|| self.groups_of(seq)),
            external_id,
            meta: Some(Box::new(meta)),
        })
    }

    /// The group as a SCIM resource (its id as a string; handlers choose number or string).
    pub(crate) fn render_group(&self, seq: u64) -> Option<wire::Group> {
        let group = self.group(seq)?;
        let members = group
            .members
            .iter()
            .filter_map(|m| self.user(*m))
            .map(|u| Member {
                value: u.id.clone(),
                display: Some(self.member_display(u)),
            })
            .collect();
        Some(wire::Group {
            schemas: vec![wire::GROUP_SCHEMA.to_owned()],
            id: Some(ResourceId(group.id.clone())),
            display_name: group.name.clone(),
            members,
            external_id: group.external_id.clone(),
            meta: Some(Meta {
                resource_type: Some("Group".into()),
                created: Some(group.created.clone()),
                last_modified: Some(group.modified.clone()),
                version: (self.profile == Profile::Rfc7644).then(|| etag(group.version)),
                ..Meta::default()
            }),
        })
    }
}
