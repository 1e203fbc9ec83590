//! The rules a review decides by: the final decision of each kind of item under each default,
//! and when a justification is required.

use super::*;

fn item(decision: Option<Decision>, recommendation: &str, email: &str) -> ReviewItem {
    ReviewItem {
        review_id: "r".into(),
        seq: 1,
        user_key: email.into(),
        user_email: email.into(),
        user_name: String::new(),
        user_status: "ACTIVE".into(),
        group_id: "g".into(),
        group_name: "G".into(),
        recommendation: recommendation.into(),
        recommendation_reason: String::new(),
        decision,
        justification: String::new(),
        decided_by: None,
        decided_at_ms: None,
        deactivate: false,
        final_decision: None,
        apply_result: None,
        apply_status: None,
        applied_at_ms: None,
        applied_by: None,
        request_id: None,
    }
}

#[test]
fn a_decision_wins_and_an_undecided_item_takes_the_default() {
    use Decision::*;
    use DefaultDecision as D;
    let table = [
        (Some(Keep), "REVOKE", D::Revoke, Keep),
        (Some(DontKnow), "REVOKE", D::Revoke, DontKnow),
        (None, "REVOKE", D::None, NotReviewed),
        (None, "NO_INFO", D::Keep, Keep),
        (None, "NO_INFO", D::Revoke, Revoke),
        (None, "REVOKE", D::Recommendation, Revoke),
        (None, "KEEP", D::Recommendation, Keep),
        (None, "NO_INFO", D::Recommendation, NotReviewed),
    ];
    for (decision, rec, default, expected) in table {
        assert_eq!(
            final_decision(&item(decision, rec, "a@x.com"), default),
            expected,
            "{decision:?} {rec} {default:?}"
        );
    }
}

#[test]
fn justifications_are_required_as_the_review_says() {
    use Decision::*;
    use JustificationRule as J;
    for (rule, decision, own, required) in [
        (J::Never, Revoke, true, false),
        (J::Revoke, Revoke, false, true),
        (J::Revoke, Keep, true, false),
        (J::SelfReview, Keep, true, true),
        (J::SelfReview, Revoke, false, false),
        (J::RevokeOrSelfReview, Keep, true, true),
        (J::RevokeOrSelfReview, Keep, false, false),
        (J::Always, DontKnow, false, true),
    ] {
        assert_eq!(
            rule.requires(decision, own),
            required,
            "{rule:?} {decision:?} {own}"
        );
        assert_eq!(JustificationRule::parse(rule.as_str()), Some(rule));
    }
    let mine = item(None, "NO_INFO", "Ada@Example.com");
    assert!(self_review(&mine, "ada@example.com"));
    assert!(!self_review(&mine, "manager"));
}

#[test]
fn a_deactivated_user_is_recommended_for_revocation_and_others_have_no_information() {
    assert_eq!(recommend(UserStatus::Deactivated).0, "REVOKE");
    assert_eq!(recommend(UserStatus::Active).0, "NO_INFO");
    assert_eq!(recommend(UserStatus::Invited).0, "NO_INFO");
}
