//! Reads a whole collection at the page maximum. Stops on an empty page or once `totalResults`
//! resources have arrived; never trusts `itemsPerPage`, which Amplitude echoes from the request.

use std::time::SystemTime;

use reqwest::Method;

use super::client::ScimClient;
use super::error::ScimError;
use super::wire::{Group, ListResponse, User};
use crate::budget::Lane;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Collection {
    Users,
    Groups,
}

/// Pages through `/Users` or `/Groups`, one upstream call per `next_page`.
pub(crate) struct Pager<'a> {
    client: &'a ScimClient,
    collection: Collection,
    lane: Lane,
    next_index: u64,
    fetched: u64,
    total: Option<u64>,
    done: bool,
    filter: Option<String>,
    first_date: Option<SystemTime>,
    /// Upstream calls made so far.
    pub(crate) calls: u32,
}

/// A page of either kind.
pub(crate) enum Page {
    Users(ListResponse<User>),
    Groups(ListResponse<Group>),
}

impl<'a> Pager<'a> {
    pub(crate) fn new(client: &'a ScimClient, collection: Collection, lane: Lane) -> Pager<'a> {
        Pager {
            client,
            collection,
            lane,
            next_index: 1,
            fetched: 0,
            total: None,
            done: false,
            filter: None,
            first_date: None,
            calls: 0,
        }
    }

    /// `totalResults` as last reported.
    pub(crate) fn total(&self) -> Option<u64> {
        self.total
    }

    /// Only the resources modified at or after `since` (on the server's clock):
    /// `filter=meta.lastModified ge "…"`. `ge`, not `gt`: a resource changed within the same
    /// second as `since` is read again rather than missed.
    pub(crate) fn changed_since(mut self, since: SystemTime) -> Pager<'a> {
        let at = humantime::format_rfc3339_seconds(since).to_string();
        self.filter = Some(format!(
            "meta.lastModified ge {}",
            super::profile::quote(&at)
        ));
        self
    }

    /// The server's `Date` on the first page's answer: a time on the server's clock no later
    /// than the moment it read that page.
    pub(crate) fn first_date(&self) -> Option<SystemTime> {
        self.first_date
    }

    /// The next page, or `None` when the collection has been read.
    pub(crate) async fn next_page(&mut self) -> Result<Option<Page>, ScimError> {
        if self.done {
            return Ok(None);
        }
        let size = self.client.profile().max_page_size();
        self.calls += 1;
        let path = match self.collection {
            Collection::Users => "/Users",
            Collection::Groups => "/Groups",
        };
        let query = self
            .client
            .list_query(self.next_index, size, self.filter.as_deref());
        let answer = self
            .client
            .call(self.lane, Method::GET, path, &query, None::<&()>)
            .await?;
        if self.calls == 1 {
            self.first_date = answer.date;
        }
        let malformed = |what| move |source| ScimError::Malformed { what, source };
        let (page, count, total) = match self.collection {
            Collection::Users => {
                let page: ListResponse<User> =
                    serde_json::from_str(&answer.body).map_err(malformed("user list"))?;
                let (n, t) = (page.resources.len() as u64, page.total_results);
                (Page::Users(page), n, t)
            }
            Collection::Groups => {
                let page: ListResponse<Group> =
                    serde_json::from_str(&answer.body).map_err(malformed("group list"))?;
                let (n, t) = (page.resources.len() as u64, page.total_results);
                (Page::Groups(page), n, t)
            }
        };
        self.fetched += count;
        self.next_index += count;
        self.total = total.or(self.total);
        if count == 0 || self.total.is_some_and(|t| self.fetched >= t) {
            self.done = true;
        }
        if count == 0 {
            return Ok(None);
        }
        Ok(Some(page))
    }
}

impl ScimClient {
    /// Every user, at the page maximum: `ceil(N / 100)` calls when the upstream reports totals.
    pub async fn all_users(&self, lane: Lane) -> Result<Vec<User>, ScimError> {
        let mut pager = Pager::new(self, Collection::Users, lane);
        let mut out = Vec::new();
        while let Some(page) = pager.next_page().await? {
            if let Page::Users(page) = page {
                out.extend(page.resources);
            }
        }
        Ok(out)
    }

    /// Every group with its members: `ceil(G / 100)` calls when the upstream reports totals.
    pub async fn all_groups(&self, lane: Lane) -> Result<Vec<Group>, ScimError> {
        let mut pager = Pager::new(self, Collection::Groups, lane);
        let mut out = Vec::new();
        while let Some(page) = pager.next_page().await? {
            if let Page::Groups(page) = page {
                out.extend(page.resources);
            }
        }
        Ok(out)
    }
}
