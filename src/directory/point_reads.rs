//! Point reads: one user or group, from the mirror, else from the upstream through the shared
//! point cache (concurrent misses share one call; a not-found is remembered briefly).

use std::sync::Arc;
use std::time::SystemTime;

use futures_util::future::BoxFuture;

use super::point_cache::{Entry, PointKey, PointValue};
use super::{Directory, DirectoryError, GroupRec, Source, UserRec};
use crate::budget::Lane;
use crate::keys::{Email, GroupId, UserKey};
use crate::scim::wire::User;
use crate::scim::{EmailLookup, ScimError};

impl Directory {
    /// A user by id (the e-mail on Amplitude): the mirror first, else one upstream read shared
    /// by every concurrent caller.
    pub(crate) async fn user(&self, key: &UserKey) -> Result<Option<Arc<UserRec>>, DirectoryError> {
        let key = key.as_str();
        if let Some(u) = self.snapshot().user_by_key(key) {
            return Ok(Some(u.clone()));
        }
        let point = PointKey::User {
            org: self.inner.org_id.clone(),
            key: key.to_owned(),
        };
        let read = self.inner.client.get_user(Lane::Interactive, key);
        self.point_user(point, Box::pin(read)).await
    }

    /// A user by e-mail. On Amplitude the e-mail is the id; elsewhere a `userName` filter.
    pub(crate) async fn user_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<Arc<UserRec>>, DirectoryError> {
        if self.key_rule().email_lookup() == EmailLookup::ById {
            return self.user(&self.user_key(email.as_str())).await;
        }
        let email_lc = email.as_str().to_lowercase();
        if let Some(u) = self.snapshot().user_by_email(&email_lc) {
            return Ok(Some(u.clone()));
        }
        let point = PointKey::UserByEmail {
            org: self.inner.org_id.clone(),
            email: email_lc.clone(),
        };
        let read = self
            .inner
            .client
            .find_user_by_name(Lane::Interactive, &email_lc);
        self.point_user(point, Box::pin(read)).await
    }

    /// The key of the user with this e-mail: the e-mail itself (as a key) where it is the id,
    /// with no read; else the key of the user a lookup by e-mail finds, if any.
    pub(crate) async fn user_key_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserKey>, DirectoryError> {
        match self.key_rule().email_lookup() {
            EmailLookup::ById => Ok(Some(self.user_key(email.as_str()))),
            // A record's key is already a key: the rule leaves it as it is.
            EmailLookup::ByUserName => Ok(self
                .user_by_email(email)
                .await?
                .map(|u| self.user_key(u.key()))),
        }
    }

    /// A group by id: the mirror first, else one shared upstream read.
    pub(crate) async fn group(
        &self,
        id: &GroupId,
    ) -> Result<Option<Arc<GroupRec>>, DirectoryError> {
        let id = id.as_str();
        if let Some(g) = self.snapshot().group(id) {
            return Ok(Some(g.clone()));
        }
        let point = PointKey::Group {
            org: self.inner.org_id.clone(),
            id: id.to_owned(),
        };
        let read = async {
            let found = self.inner.client.get_group(Lane::Interactive, id).await?;
            let rec = found.and_then(|g| {
                Self::group_rec(
                    self.key_rule(),
                    g,
                    u64::MAX,
                    SystemTime::now(),
                    Source::Upstream,
                )
            });
            Ok::<_, ScimError>(self.entry(PointValue::Group(rec.map(Arc::new))))
        };
        match self.point(point, Box::pin(read)).await? {
            PointValue::Group(g) => Ok(g),
            PointValue::User(_) => Ok(None),
        }
    }

    /// A group read from the upstream now, in `lane`, whatever the mirror holds: for a
    /// decision the mirror may be behind on (another replica's write), such as whether a
    /// revocation still has a member to remove. Not cached.
    pub async fn group_now(
        &self,
        id: &GroupId,
        lane: super::WriteLane,
    ) -> Result<Option<Arc<GroupRec>>, DirectoryError> {
        let found = self
            .inner
            .client
            .get_group(lane.budget(), id.as_str())
            .await
            .map_err(|e| DirectoryError::from(&e))?;
        Ok(found
            .and_then(|g| {
                Self::group_rec(
                    self.key_rule(),
                    g,
                    u64::MAX,
                    SystemTime::now(),
                    Source::Upstream,
                )
            })
            .map(Arc::new))
    }

    // Reads come boxed: a SCIM call's future is large, and nesting it by value in the cache's
    // future would multiply the stack a request needs.
    async fn point_user(
        &self,
        point: PointKey,
        read: BoxFuture<'_, Result<Option<User>, ScimError>>,
    ) -> Result<Option<Arc<UserRec>>, DirectoryError> {
        let read = async {
            let found = read
                .await?
                .map(|u| Arc::new(self.user_rec(u, Source::Upstream)));
            Ok::<_, ScimError>(self.entry(PointValue::User(found)))
        };
        match self.point(point, Box::pin(read)).await? {
            PointValue::User(u) => Ok(u),
            PointValue::Group(_) => Ok(None),
        }
    }

    async fn point(
        &self,
        point: PointKey,
        read: BoxFuture<'_, Result<Entry, ScimError>>,
    ) -> Result<PointValue, DirectoryError> {
        let entry = self
            .inner
            .points
            .get_or_load(point, read)
            .await
            .map_err(|e| DirectoryError::from(&*e))?;
        Ok(entry.value)
    }

    /// A found object is kept until the next refresh; a not-found for `not_found_ttl`.
    fn entry(&self, value: PointValue) -> Entry {
        let found = matches!(
            &value,
            PointValue::User(Some(_)) | PointValue::Group(Some(_))
        );
        let settings = &self.inner.settings;
        Entry {
            value,
            ttl: if found {
                settings.max_age
            } else {
                settings.not_found_ttl
            },
        }
    }
}
