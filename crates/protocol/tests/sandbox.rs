//! The sandbox policy on the wire (one snapshot per variant), its strictness order, and
//! round trips under proptest.
//!
//! Cases default to proptest's 256; set `PROPTEST_CASES` for more.

use std::path::PathBuf;

use proptest::collection::vec;
use proptest::prelude::*;
use turnkit_protocol::SandboxPolicy;

fn samples() -> Vec<SandboxPolicy> {
    vec![
        SandboxPolicy::read_only(),
        SandboxPolicy::workspace_write()
            .with_writable_root("/home/me/.cache/cargo")
            .with_network_access(true),
        SandboxPolicy::FullAccess,
    ]
}

#[test]
fn every_sandbox_policy_matches_its_snapshot() {
    for policy in samples() {
        let wire = serde_json::to_value(&policy).expect("a policy always serialises");
        assert_eq!(wire["type"].as_str(), Some(policy.as_str()));
        insta::assert_json_snapshot!(format!("sandbox_policy_{}", policy.as_str()), policy);
    }
}

#[test]
fn missing_fields_read_as_the_strict_choice_and_unknown_ones_are_ignored() {
    let policy: SandboxPolicy =
        serde_json::from_str(r#"{"type":"workspace_write","added_later":1}"#).expect("reads");
    assert_eq!(policy, SandboxPolicy::workspace_write());
    assert!(!policy.has_network_access());
    let policy: SandboxPolicy = serde_json::from_str(r#"{"type":"read_only"}"#).expect("reads");
    assert_eq!(policy, SandboxPolicy::default());
    assert!(serde_json::from_str::<SandboxPolicy>(r#"{"type":"no_sandbox"}"#).is_err());
}

#[test]
fn a_policy_displays_its_name_and_what_it_adds() {
    assert_eq!(SandboxPolicy::read_only().to_string(), "read_only");
    assert_eq!(
        SandboxPolicy::read_only()
            .with_network_access(true)
            .to_string(),
        "read_only with network access"
    );
    assert_eq!(
        SandboxPolicy::workspace_write()
            .with_writable_root("/a")
            .with_writable_root("/b")
            .to_string(),
        "workspace_write with writable roots /a, /b"
    );
    assert_eq!(SandboxPolicy::FullAccess.to_string(), "full_access");
}

#[test]
fn policies_are_ordered_by_strictness() {
    let read_only = SandboxPolicy::read_only();
    let workspace = SandboxPolicy::workspace_write();
    let networked = SandboxPolicy::workspace_write().with_network_access(true);
    let full = SandboxPolicy::FullAccess;
    assert!(read_only.is_at_least_as_strict_as(&workspace));
    assert!(workspace.is_at_least_as_strict_as(&networked));
    assert!(networked.is_at_least_as_strict_as(&full));
    assert!(!workspace.is_at_least_as_strict_as(&read_only));
    assert!(!networked.is_at_least_as_strict_as(&workspace));
    assert!(!full.is_at_least_as_strict_as(&networked));
    assert!(
        !SandboxPolicy::read_only()
            .with_network_access(true)
            .is_at_least_as_strict_as(&workspace),
        "network access is a permission of its own"
    );

    let cache = workspace.clone().with_writable_root("/cache");
    let cache_sub = workspace.clone().with_writable_root("/cache/cargo");
    assert!(cache_sub.is_at_least_as_strict_as(&cache));
    assert!(!cache.is_at_least_as_strict_as(&cache_sub));
    assert_eq!(cache.stricter_of(&cache_sub), cache_sub);
    assert_eq!(
        cache.stricter_of(&workspace.clone().with_writable_root("/other")),
        workspace
    );
    assert_eq!(full.stricter_of(&read_only), read_only);
    assert_eq!(networked.stricter_of(&read_only), read_only);
}

fn path() -> impl Strategy<Value = PathBuf> {
    vec(prop_oneof![Just("a"), Just("b"), Just("c")], 0..3)
        .prop_map(|parts| PathBuf::from("/").join(parts.join("/")))
}

fn policy() -> impl Strategy<Value = SandboxPolicy> {
    prop_oneof![
        any::<bool>().prop_map(|network_access| SandboxPolicy::ReadOnly { network_access }),
        (vec(path(), 0..3), any::<bool>()).prop_map(|(writable_roots, network_access)| {
            SandboxPolicy::WorkspaceWrite {
                writable_roots,
                network_access,
            }
        }),
        Just(SandboxPolicy::FullAccess),
    ]
}

// proptest's default configuration: 256 cases, or `PROPTEST_CASES`.
proptest! {
    #[test]
    fn sandbox_policy_round_trips(value in policy()) {
        let text = serde_json::to_string(&value).expect("serialises");
        let back: SandboxPolicy = serde_json::from_str(&text).expect("reads back");
        prop_assert_eq!(&back, &value);
        let tree = serde_json::to_value(&value).expect("serialises");
        let back: SandboxPolicy = serde_json::from_value(tree).expect("reads back");
        prop_assert_eq!(back, value);
    }

    #[test]
    fn stricter_of_is_at_least_as_strict_as_both(first in policy(), second in policy()) {
        let meet = first.stricter_of(&second);
        prop_assert!(meet.is_at_least_as_strict_as(&first), "{meet:?} vs {first:?}");
        prop_assert!(meet.is_at_least_as_strict_as(&second), "{meet:?} vs {second:?}");
        prop_assert!(first.is_at_least_as_strict_as(&first));
        prop_assert_eq!(first.stricter_of(&SandboxPolicy::FullAccess), first.clone());
        if first.is_at_least_as_strict_as(&second) && second.is_at_least_as_strict_as(&first) {
            prop_assert_eq!(first.has_network_access(), second.has_network_access());
        }
    }
}
