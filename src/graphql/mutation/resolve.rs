//! Ids in mutation inputs: which organization and key they name, refused (with a user error on
//! the input field) when they are not ids, name another organization, or name nothing. Over any
//! directories the seam reads (`D`): the handles of user and group mutations, the real
//! directories of grants.

use async_graphql::ID;

use super::{UserError, UserErrorCode, write_error};
use crate::directory::{Directories, DirectoryReads, WriteError};
use crate::graphql::ids::{GlobalId, Kind};
use crate::keys::{Email, GroupId, OrgId, UserKey};

fn error(code: UserErrorCode, field: &[&str], message: impl Into<String>) -> UserError {
    UserError::new(code, field, message)
}

/// The organization an input names (its global id or slug), or the only one.
pub fn org_of<D: DirectoryReads + Clone>(
    dirs: &Directories<D>,
    org: Option<&ID>,
    field: &[&str],
) -> Result<D, UserError> {
    let Some(id) = org else {
        return only(dirs, None, field, "give `org`");
    };
    let slug = match GlobalId::decode(id) {
        Some(g) if g.kind == Kind::Org => g.org,
        Some(_) => {
            return Err(error(
                UserErrorCode::InvalidId,
                field,
                format!("{:?} is not an organization id", id.as_str()),
            ));
        }
        None => OrgId::new(id.as_str()),
    };
    dirs.get(&slug).cloned().ok_or_else(|| {
        error(
            UserErrorCode::NotFound,
            field,
            format!("no organization {slug:?}"),
        )
    })
}

/// `within`, else the only organization, for ids that do not carry one.
fn only<D: DirectoryReads + Clone>(
    dirs: &Directories<D>,
    within: Option<&D>,
    field: &[&str],
    hint: &str,
) -> Result<D, UserError> {
    match (within, dirs.all()) {
        (Some(d), _) => Ok(d.clone()),
        (None, [only]) => Ok(only.clone()),
        _ => Err(error(
            UserErrorCode::InvalidId,
            field,
            format!("this gateway serves several organizations: {hint}"),
        )),
    }
}

/// The organization of a global id of `kind`, or why not.
fn decoded<D: DirectoryReads + Clone>(
    dirs: &Directories<D>,
    g: GlobalId,
    kind: Kind,
    field: &[&str],
) -> Result<(D, String), UserError> {
    if g.kind != kind {
        return Err(error(
            UserErrorCode::InvalidId,
            field,
            format!("this is {:?} id, not {kind:?} id", g.kind),
        ));
    }
    match dirs.get(&g.org) {
        Some(d) => Ok((d.clone(), g.key)),
        None => Err(error(
            UserErrorCode::NotFound,
            field,
            format!("no such {kind:?}"),
        )),
    }
}

/// Refuses an object of another organization than `within`.
fn same_org<K, D: DirectoryReads + Clone>(
    found: (D, K),
    within: Option<&D>,
    field: &[&str],
) -> Result<(D, K), UserError> {
    match within {
        Some(w) if w.org_id() != found.0.org_id() => Err(error(
            UserErrorCode::WrongOrganization,
            field,
            format!(
                "it belongs to organization {:?}, not {:?}",
                found.0.org_id(),
                w.org_id()
            ),
        )),
        _ => Ok(found),
    }
}

/// A user id (global id, or an e-mail address where the organization is known) as the
/// organization and user key it names. `within`: the organization it must belong to.
pub async fn user_of<D: DirectoryReads + Clone>(
    dirs: &Directories<D>,
    id: &ID,
    within: Option<&D>,
    field: &[&str],
) -> Result<(D, UserKey), UserError> {
    let found = match GlobalId::decode(id) {
        Some(g) => {
            let (dir, id) = decoded(dirs, g, Kind::User, field)?;
            let key = dir.user_key(&id);
            (dir, key)
        }
        None => match Email::parse(&id.to_lowercase()) {
            Ok(parsed) => {
                let dir = only(dirs, within, field, "name users by id, not e-mail")?;
                let email = id.as_str().trim();
                match dir.user_key_by_email(&parsed).await {
                    Ok(Some(key)) => (dir, key),
                    Ok(None) => {
                        return Err(error(
                            UserErrorCode::NotFound,
                            field,
                            format!("no user with e-mail {email:?}"),
                        ));
                    }
                    Err(e) => {
                        return Err(write_error(WriteError::NotApplied(e), field, "the user"));
                    }
                }
            }
            Err(_) => {
                return Err(error(
                    UserErrorCode::InvalidId,
                    field,
                    format!("{:?} is not a User id or an e-mail address", id.as_str()),
                ));
            }
        },
    };
    same_org(found, within, field)
}

/// A group id (global id, or the upstream's id where the organization is known).
pub fn group_of<D: DirectoryReads + Clone>(
    dirs: &Directories<D>,
    id: &ID,
    within: Option<&D>,
    field: &[&str],
) -> Result<(D, GroupId), UserError> {
    let found = match GlobalId::decode(id) {
        Some(g) => {
            let (dir, id) = decoded(dirs, g, Kind::Group, field)?;
            (dir, GroupId::new(id))
        }
        None => {
            let raw = id.as_str().trim();
            if raw.is_empty()
                || raw.len() > 200
                || raw.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(error(
                    UserErrorCode::InvalidId,
                    field,
                    format!("{:?} is not a Group id", id.as_str()),
                ));
            }
            (
                only(dirs, within, field, "name groups by id")?,
                GroupId::new(raw),
            )
        }
    };
    same_org(found, within, field)
}

/// The grant an input names (a Grant id): its organization and its id in the store.
pub fn grant_of<D: DirectoryReads + Clone>(
    dirs: &Directories<D>,
    id: &ID,
    field: &[&str],
) -> Result<(D, String), UserError> {
    match GlobalId::decode(id) {
        Some(g) => decoded(dirs, g, Kind::Grant, field),
        None => Err(error(
            UserErrorCode::InvalidId,
            field,
            format!("{:?} is not a Grant id", id.as_str()),
        )),
    }
}
