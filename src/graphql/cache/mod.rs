//! The response cache: the serialized answer of a query, keyed by what decides it: the
//! document (its SHA-256), the operation name, the variables, the caller's scope (its
//! organizations and role; never shared across scopes), and the answer version of every
//! organization the caller can see (its snapshot's generation and its open invitations'
//! version). A write or refresh that publishes a new snapshot makes every older entry
//! unreachable, so there is no TTL and nothing stale: an answer is exactly as fresh as the
//! mirror. Only queries [`verdict`] allows, only answers without errors, and only while every
//! one of those mirrors is complete. Bounded in bytes (moka with a weigher); unreachable
//! entries age out by least recent use.

mod verdict;

use std::sync::Arc;

use moka::future::Cache;

use crate::auth::{OrgScope, Principal};
use crate::directory::{DirHandle, Directories, DirectoryReads};

/// What a cached answer is filed under.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AnswerKey {
    document: [u8; 32],
    operation: Option<String>,
    variables: String,
    scope: String,
    versions: Vec<[u64; 2]>,
}

/// A document the cache has judged, by its hash and operation name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct DocKey {
    document: [u8; 32],
    operation: Option<String>,
}

/// The answers and the verdicts on documents.
pub struct ResponseCache {
    answers: Cache<Arc<AnswerKey>, Arc<str>>,
    /// `Some(name)`: cacheable, its operation named `name` (for metrics); `None`: not.
    verdicts: Cache<DocKey, Option<Option<Arc<str>>>>,
    types: verdict::Types,
}

/// One request's place in the cache, found before it runs.
pub struct Lookup {
    doc: DocKey,
    /// `None` until the document has been judged (its first time, after the limits parsed it).
    key: Option<Arc<AnswerKey>>,
    scope: String,
    variables: String,
    /// The operation's name, from the document when the request gave none.
    pub operation: Option<Arc<str>>,
    /// The organizations the caller can see, whose versions the key holds.
    dirs: Directories<DirHandle>,
}

impl ResponseCache {
    /// A cache of at most `max_bytes` of answers for the schema whose SDL is `sdl`.
    pub fn new(max_bytes: u64, sdl: &str) -> ResponseCache {
        ResponseCache {
            answers: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &Arc<AnswerKey>, body: &Arc<str>| {
                    let size = body.len()
                        + key.variables.len()
                        + key.scope.len()
                        + key.operation.as_ref().map_or(0, String::len)
                        + key.versions.len() * 16
                        + 96;
                    u32::try_from(size).unwrap_or(u32::MAX)
                })
                .build(),
            verdicts: Cache::new(10_000),
            types: verdict::Types::from_sdl(sdl),
        }
    }

    /// Where `request` stands for `principal` on `schema`; `None` when its answer cannot be
    /// cached (judged so before, or a mirror it could read is loading).
    pub async fn lookup(
        &self,
        request: &async_graphql::Request,
        principal: &Principal,
        schema: &crate::graphql::GatewaySchema,
    ) -> Option<Lookup> {
        let doc = DocKey {
            document: sha256(request.query.as_bytes()),
            operation: request.operation_name.clone(),
        };
        let judged = self.verdicts.get(&doc).await;
        if judged == Some(None) {
            return None;
        }
        let mut lookup = Lookup {
            doc,
            key: None,
            scope: scope_of(principal),
            variables: serde_json::to_string(&request.variables).ok()?,
            operation: None,
            dirs: crate::graphql::visible_handles(schema, principal),
        };
        if let Some(Some(operation)) = judged {
            lookup.operation = operation;
            lookup.key = Some(Arc::new(lookup.key_now()?));
        }
        Some(lookup)
    }

    /// The cached answer of `lookup`, if there is one.
    pub async fn get(&self, lookup: &Lookup) -> Option<Arc<str>> {
        let answer = match &lookup.key {
            Some(key) => self.answers.get(key).await,
            None => None,
        };
        crate::metrics::response_cache(answer.is_some());
        answer
    }

    /// Judges `request`'s document (parsed by the limits already) the first time it is seen,
    /// and takes the versions its answer will be filed under: before it runs, so a write
    /// during the run files the answer under versions already past.
    pub async fn prepare(
        &self,
        mut lookup: Lookup,
        request: &mut async_graphql::Request,
    ) -> Option<Lookup> {
        if lookup.key.is_none() {
            let operation = request.operation_name.clone();
            let verdict = request.parsed_query().ok().and_then(|doc| {
                verdict::cacheable(&self.types, doc, operation.as_deref())
                    .then(|| verdict::operation_name(doc, operation.as_deref()))
            });
            self.verdicts
                .insert(lookup.doc.clone(), verdict.clone())
                .await;
            lookup.operation = verdict?;
            lookup.key = Some(Arc::new(lookup.key_now()?));
        }
        Some(lookup)
    }

    /// Files `body`, the answer of a request that ran without errors.
    pub async fn put(&self, lookup: Lookup, body: &str) {
        if let Some(key) = lookup.key {
            self.answers.insert(key, Arc::from(body)).await;
        }
    }

    /// Bytes of answers held now (approximate: moka counts in the background).
    pub fn bytes(&self) -> u64 {
        self.answers.weighted_size()
    }

    /// Bytes of answers held once the cache's pending bookkeeping (evictions) has run.
    pub async fn settled_bytes(&self) -> u64 {
        self.answers.run_pending_tasks().await;
        self.answers.weighted_size()
    }
}

impl Lookup {
    fn key_now(&self) -> Option<AnswerKey> {
        let versions = self
            .dirs
            .all()
            .iter()
            .map(DirectoryReads::answer_version)
            .collect::<Option<Vec<_>>>()?;
        Some(AnswerKey {
            document: self.doc.document,
            operation: self.doc.operation.clone(),
            variables: self.variables.clone(),
            scope: self.scope.clone(),
            versions,
        })
    }
}

/// The organizations and role a key reaches, as text: keys with the same share answers.
fn scope_of(principal: &Principal) -> String {
    let orgs = match &principal.orgs {
        OrgScope::All => "*".to_owned(),
        OrgScope::Only(orgs) => {
            let mut names: Vec<&str> = orgs.iter().map(|o| o.as_str()).collect();
            names.sort_unstable();
            names.join(",")
        }
    };
    format!("{}|{orgs}", principal.role)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(n: usize) -> Lookup {
        Lookup {
            doc: DocKey {
                document: sha256(b"{ org { users { totalCount } } }"),
                operation: None,
            },
            key: Some(Arc::new(AnswerKey {
                document: [0; 32],
                operation: None,
                variables: format!("{{\"n\":{n}}}"),
                scope: "read|*".into(),
                versions: vec![[1, 0]],
            })),
            scope: "read|*".into(),
            variables: String::new(),
            operation: None,
            dirs: Directories::default(),
        }
    }

    #[tokio::test]
    async fn the_bytes_held_stay_within_the_bound() {
        let max = 64 * 1024;
        let cache = ResponseCache::new(max, &crate::graphql::sdl());
        let body = "x".repeat(1_000);
        for n in 0..1_000 {
            cache.put(lookup(n), &body).await;
        }
        let held = cache.settled_bytes().await;
        assert!(held <= max, "{held} bytes held, bound {max}");
        assert!(held > max / 2, "the cache is used: {held}");
    }
}
