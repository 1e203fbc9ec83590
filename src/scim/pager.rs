//! Reads a whole collection at the page maximum. Stops on an empty page or once `totalResults`
//! resources have arrived; never trusts `itemsPerPage`, which Amplitude echoes from the request.

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
            calls: 0,
        }
    }

    /// `totalResults` as last reported.
    pub(crate) fn total(&self) -> Option<u64> {
        self.total
    }

    /// The next page, or `None` when the collection has been read.
    pub(crate) async fn next_page(&mut self) -> Result<Option<Page>, ScimError> {
        if self.done {
            return Ok(None);
        }
        let size = self.client.profile().max_page_size();
        self.calls += 1;
        let (page, count, total) = match self.collection {
            Collection::Users => {
                let page = self
                    .client
                    .list_users(self.lane, self.next_index, size, None)
                    .await?;
                let (n, t) = (page.resources.len() as u64, page.total_results);
                (Page::Users(page), n, t)
            }
            Collection::Groups => {
                let page = self
                    .client
                    .list_groups(self.lane, self.next_index, size, None)
                    .await?;
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
