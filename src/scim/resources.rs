//! The typed SCIM calls: users and groups, in the organization's dialect.

use reqwest::{Method, StatusCode};

use super::client::ScimClient;
use super::error::ScimError;
use super::profile::{EmailLookup, Profile};
use super::wire::{Group, ListResponse, Member, PatchOp, PatchOperation, User};
use crate::budget::Lane;

impl ScimClient {
    fn user_path(&self, id: &str) -> String {
        format!("/Users/{}", Profile::encode_id(id))
    }

    fn group_path(&self, id: &str) -> String {
        format!("/Groups/{}", Profile::encode_id(id))
    }

    /// One page of users; `start_index` is 1-based.
    pub async fn list_users(
        &self,
        lane: Lane,
        start_index: u64,
        page_size: u32,
        filter: Option<&str>,
    ) -> Result<ListResponse<User>, ScimError> {
        let query = self.list_query(start_index, page_size, filter);
        self.call_json(
            lane,
            Method::GET,
            "/Users",
            &query,
            None::<&()>,
            "user list",
        )
        .await
    }

    /// One page of groups with their members; `start_index` is 1-based.
    pub async fn list_groups(
        &self,
        lane: Lane,
        start_index: u64,
        page_size: u32,
        filter: Option<&str>,
    ) -> Result<ListResponse<Group>, ScimError> {
        let query = self.list_query(start_index, page_size, filter);
        self.call_json(
            lane,
            Method::GET,
            "/Groups",
            &query,
            None::<&()>,
            "group list",
        )
        .await
    }

    pub(super) fn list_query(
        &self,
        start_index: u64,
        page_size: u32,
        filter: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        let page_size = page_size.clamp(1, self.profile().max_page_size());
        let mut query = vec![
            ("startIndex", start_index.max(1).to_string()),
            (self.profile().page_size_param(), page_size.to_string()),
        ];
        if let Some(filter) = filter {
            query.push(("filter", filter.to_owned()));
        }
        query
    }

    /// A user by id (the e-mail on Amplitude); `None` when the upstream does not know it.
    pub async fn get_user(&self, lane: Lane, id: &str) -> Result<Option<User>, ScimError> {
        not_found_as_none(
            self.call_json(
                lane,
                Method::GET,
                &self.user_path(id),
                &[],
                None::<&()>,
                "user",
            )
            .await,
        )
    }

    /// A user by `userName` through a filter (works where ids are opaque).
    pub(crate) async fn find_user_by_name(
        &self,
        lane: Lane,
        user_name: &str,
    ) -> Result<Option<User>, ScimError> {
        let filter = format!("userName eq {}", super::profile::quote(user_name));
        let page = self.list_users(lane, 1, 1, Some(&filter)).await?;
        Ok(page.resources.into_iter().next())
    }

    /// A group by `displayName` through a filter.
    pub(crate) async fn find_group_by_name(
        &self,
        lane: Lane,
        name: &str,
    ) -> Result<Option<Group>, ScimError> {
        let filter = format!("displayName eq {}", super::profile::quote(name));
        let page = self.list_groups(lane, 1, 1, Some(&filter)).await?;
        Ok(page.resources.into_iter().next())
    }

    /// A user by e-mail: by id on Amplitude (where the e-mail is the id), else by `userName`.
    pub(crate) async fn find_user(
        &self,
        lane: Lane,
        email: &str,
    ) -> Result<Option<User>, ScimError> {
        match self.profile().key_rule().email_lookup() {
            EmailLookup::ById => self.get_user(lane, email).await,
            EmailLookup::ByUserName => self.find_user_by_name(lane, email).await,
        }
    }

    /// `POST /Users`. On Amplitude this sends the person an invitation e-mail.
    pub async fn create_user(&self, lane: Lane, user: &User) -> Result<User, ScimError> {
        let mut created: User = self
            .call_json(
                lane,
                Method::POST,
                "/Users",
                &[],
                Some(user),
                "created user",
            )
            .await?;
        if created.id.is_none() && self.profile().user_id_is_email() {
            created.id = Some(created.user_name.clone());
        }
        Ok(created)
    }

    /// Replaces a user with the full resource (`PUT`). `groups` is ignored upstream. With the
    /// `version` the resource was read at, on a service that honours ETags, the write is
    /// conditional (`If-Match`): [`ScimError::PreconditionFailed`] if it changed since.
    pub(crate) async fn replace_user(
        &self,
        lane: Lane,
        id: &str,
        user: &User,
        version: Option<&str>,
    ) -> Result<User, ScimError> {
        let answer = self
            .call_if_match(
                lane,
                Method::PUT,
                &self.user_path(id),
                &[],
                Some(user),
                self.precondition(version),
            )
            .await?;
        serde_json::from_str(&answer.body).map_err(|source| ScimError::Malformed {
            what: "updated user",
            source,
        })
    }

    /// Sets `active`: the full resource by `PUT` on Amplitude, a `replace` PatchOp elsewhere.
    /// On Amplitude `active: false` removes the user from the organization.
    pub(crate) async fn set_active(
        &self,
        lane: Lane,
        id: &str,
        current: &User,
        active: bool,
    ) -> Result<(), ScimError> {
        match self.profile() {
            Profile::Amplitude => {
                let mut user = current.clone();
                user.active = active;
                user.groups = None;
                user.meta = None;
                self.call(lane, Method::PUT, &self.user_path(id), &[], Some(&user))
                    .await?;
            }
            Profile::Rfc7644 => {
                let op = PatchOp::new(vec![PatchOperation {
                    op: "replace".into(),
                    path: Some("active".into()),
                    value: Some(serde_json::Value::Bool(active)),
                }]);
                self.call(lane, Method::PATCH, &self.user_path(id), &[], Some(&op))
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn delete_user(&self, lane: Lane, id: &str) -> Result<(), ScimError> {
        self.call(lane, Method::DELETE, &self.user_path(id), &[], None::<&()>)
            .await
            .map(|_| ())
    }

    pub async fn get_group(&self, lane: Lane, id: &str) -> Result<Option<Group>, ScimError> {
        not_found_as_none(
            self.call_json(
                lane,
                Method::GET,
                &self.group_path(id),
                &[],
                None::<&()>,
                "group",
            )
            .await,
        )
    }

    /// `POST /Groups`. On Amplitude unknown member e-mails are invited.
    pub async fn create_group(
        &self,
        lane: Lane,
        name: &str,
        members: &[&str],
    ) -> Result<Group, ScimError> {
        let group = Group::new(name, members.iter().map(|m| Member::new(m)).collect());
        self.call_json(
            lane,
            Method::POST,
            "/Groups",
            &[],
            Some(&group),
            "created group",
        )
        .await
    }

    /// Sends a PatchOp; returns the group when the upstream answers with it (200), else `None` (204).
    /// Conditional on `if_match` when given (see [`ScimClient::rename_group`]).
    async fn patch_group(
        &self,
        lane: Lane,
        id: &str,
        op: &PatchOp,
        if_match: Option<&str>,
    ) -> Result<Option<Group>, ScimError> {
        let answer = self
            .call_if_match(
                lane,
                Method::PATCH,
                &self.group_path(id),
                &[],
                Some(op),
                if_match,
            )
            .await?;
        if answer.status == StatusCode::NO_CONTENT || answer.body.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&answer.body)
            .map(Some)
            .map_err(|source| ScimError::Malformed {
                what: "patched group",
                source,
            })
    }

    pub(crate) async fn add_members(
        &self,
        lane: Lane,
        group_id: &str,
        values: &[&str],
    ) -> Result<Option<Group>, ScimError> {
        self.patch_group(lane, group_id, &self.profile().add_members(values), None)
            .await
    }

    /// Removes members in the profile's form (value array on Amplitude, filter paths on RFC 7644).
    pub async fn remove_members(
        &self,
        lane: Lane,
        group_id: &str,
        values: &[&str],
    ) -> Result<Option<Group>, ScimError> {
        self.patch_group(lane, group_id, &self.profile().remove_members(values), None)
            .await
    }

    /// Renames a group; conditional on the `version` it was read at where the service honours
    /// ETags, as [`ScimClient::replace_user`] is. Membership changes are never conditional:
    /// they state which members to add or remove rather than a whole value computed from a
    /// read, so no one's change is lost by them, and a revocation must not be refused because
    /// someone else touched the group meanwhile.
    pub(crate) async fn rename_group(
        &self,
        lane: Lane,
        group_id: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<Group>, ScimError> {
        self.patch_group(
            lane,
            group_id,
            &self.profile().rename_group(name),
            self.precondition(version),
        )
        .await
    }

    pub async fn delete_group(&self, lane: Lane, id: &str) -> Result<(), ScimError> {
        self.call(lane, Method::DELETE, &self.group_path(id), &[], None::<&()>)
            .await
            .map(|_| ())
    }
}

fn not_found_as_none<T>(result: Result<T, ScimError>) -> Result<Option<T>, ScimError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(ScimError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}
