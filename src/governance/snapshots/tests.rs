//! The diff of two contents, every kind of change: statuses both ways, a new invitee, a user
//! gone with its memberships, a group renamed (the later name) and one deleted (its members
//! revoked), in the listed order with totals and counts per group.

use super::*;

fn user(id: &str, status: UserStatus, groups: &[u32]) -> UserEntry {
    UserEntry {
        id: id.into(),
        email: id.to_uppercase(),
        given_name: "G".into(),
        family_name: "F".into(),
        status,
        groups: groups.to_vec(),
    }
}

fn group(id: &str, name: &str) -> GroupEntry {
    GroupEntry {
        id: id.into(),
        name: name.into(),
    }
}

#[test]
fn a_diff_lists_every_kind_of_change_in_order_with_totals() {
    use UserStatus::*;
    let from = Content {
        groups: vec![group("1", "Admins"), group("2", "Old"), group("3", "Ops")],
        users: vec![
            user("a", Active, &[0, 1]),
            user("b", Deactivated, &[]),
            user("c", Active, &[2]),
            user("d", Invited, &[0]),
        ],
    };
    let to = Content {
        groups: vec![group("1", "Administrators"), group("3", "Ops")],
        users: vec![
            user("a", Deactivated, &[0]),
            user("b", Active, &[1]),
            user("d", Active, &[0]),
            user("e", Invited, &[]),
            user("f", Active, &[1]),
        ],
    };
    let d = diff(&from, &to);
    let seen: Vec<(ChangeKind, &str, Option<&str>)> = d
        .changes
        .iter()
        .map(|c| (c.kind, c.user_id.as_str(), c.group_name.as_deref()))
        .collect();
    use ChangeKind as K;
    assert_eq!(
        seen,
        [
            (K::UserAdded, "f", None),
            (K::UserRemoved, "c", None),
            (K::UserDeactivated, "a", None),
            (K::UserReactivated, "b", None),
            (K::UserInvited, "e", None),
            (K::MembershipGranted, "b", Some("Ops")),
            (K::MembershipGranted, "f", Some("Ops")),
            (K::MembershipRevoked, "a", Some("Old")),
            (K::MembershipRevoked, "c", Some("Ops")),
        ]
    );
    // Group indices differ between the two: ids decide, so "1" is unchanged for a and d.
    assert_eq!(d.changes[0].email, "F");
    assert_eq!(
        d.totals,
        Totals {
            users_added: 1,
            users_removed: 1,
            users_deactivated: 1,
            users_invited: 1,
            users_reactivated: 1,
            memberships_granted: 2,
            memberships_revoked: 2,
        }
    );
    let by_group: Vec<(&str, &str, usize, usize)> = d
        .by_group
        .iter()
        .map(|g| {
            (
                g.group_id.as_str(),
                g.group_name.as_str(),
                g.granted,
                g.revoked,
            )
        })
        .collect();
    assert_eq!(by_group, [("2", "Old", 0, 1), ("3", "Ops", 2, 1)]);
    assert_eq!(diff(&to, &to), Diff::default());
}
