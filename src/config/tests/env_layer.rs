//! The SCIMGATE_* layer: precedence, naming, typing, and orgs from the environment alone.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

#[test]
fn listen_precedence_is_file_then_env_then_flag() {
    let text = format!("[server]\nlisten = \"0.0.0.0:1001\"\n{MINIMAL}");
    let addr = |port: u16| SocketAddr::from(([0, 0, 0, 0], port));
    assert_eq!(load(&text, &[]).unwrap().server.listen, addr(1001));
    let from_env = [("SCIMGATE_SERVER__LISTEN", "0.0.0.0:1002")];
    assert_eq!(load(&text, &from_env).unwrap().server.listen, addr(1002));
    let mut vars = key_env();
    vars.extend(env(&from_env));
    let flags = Overrides {
        listen: Some(addr(1003)),
    };
    assert_eq!(
        Config::from_toml_str(&text, &vars, &flags)
            .unwrap()
            .server
            .listen,
        addr(1003)
    );
}

#[test]
fn budget_limit_precedence_is_file_then_env() {
    let text = format!("{MINIMAL}\n[orgs.budget]\nlimit = 50\n");
    assert_eq!(load(MINIMAL, &[]).unwrap().orgs[0].budget.limit, 90);
    assert_eq!(load(&text, &[]).unwrap().orgs[0].budget.limit, 50);
    let config = load(&text, &[("SCIMGATE_ORGS__ACME__BUDGET__LIMIT", "60")]).unwrap();
    assert_eq!(config.orgs[0].budget.limit, 60);
    let config = load(MINIMAL, &[("SCIMGATE_ORGS__ACME__BUDGET__WINDOW", "2m")]).unwrap();
    assert_eq!(config.orgs[0].budget.window, Duration::from_secs(120));
}

#[test]
fn unknown_scimgate_variable_is_an_error() {
    let message = err(MINIMAL, &[("SCIMGATE_SERVER__LISTN", "0.0.0.0:1")]);
    assert!(message.contains("SCIMGATE_SERVER__LISTN"), "{message}");
    let message = err(MINIMAL, &[("SCIMGATE_ORGS__ACME__BUDGET__LIMT", "5")]);
    assert!(
        message.contains("SCIMGATE_ORGS__ACME__BUDGET__LIMT"),
        "{message}"
    );
    // Other parts' variables, and a key variable an org names, are not typos.
    let others = [
        ("SCIMGATE_LOG", "debug"),
        ("SCIMGATE_EMULATOR_TOKEN", "t"),
        ("SCIMGATE_ACME_KEY", "k"),
    ];
    let text = MINIMAL.replace("\"ACME_KEY\"", "\"SCIMGATE_ACME_KEY\"");
    assert_eq!(
        load(&text, &others).unwrap().orgs[0].key().expose_secret(),
        "k"
    );
}

#[test]
fn admission_settings_come_from_file_and_env_and_are_validated() {
    let defaults = load(MINIMAL, &[]).unwrap().orgs[0].budget.clone();
    assert_eq!(defaults.max_queue_wait, Duration::from_secs(10));
    assert_eq!(
        (defaults.max_queued, defaults.interactive_share),
        (1_000, 0.5)
    );
    let text = format!("{MINIMAL}\n[orgs.budget]\nmax_queue_wait = \"0s\"\nmax_queued = 20\n");
    let budget = &load(&text, &[]).unwrap().orgs[0].budget;
    assert_eq!(
        (budget.max_queue_wait, budget.max_queued),
        (Duration::ZERO, 20)
    );
    let config = load(
        MINIMAL,
        &[
            ("SCIMGATE_ORGS__ACME__BUDGET__MAX_QUEUE_WAIT", "2500ms"),
            ("SCIMGATE_ORGS__ACME__BUDGET__INTERACTIVE_SHARE", "0.75"),
        ],
    )
    .unwrap();
    let budget = &config.orgs[0].budget;
    assert_eq!(budget.max_queue_wait, Duration::from_millis(2_500));
    assert_eq!(budget.interactive_share, 0.75);
    let message = err(
        MINIMAL,
        &[("SCIMGATE_ORGS__ACME__BUDGET__INTERACTIVE_SHARE", "1.5")],
    );
    assert!(message.contains("interactive_share"), "{message}");
    let message = err(MINIMAL, &[("SCIMGATE_ORGS__ACME__BUDGET__MAX_QUEUED", "0")]);
    assert!(message.contains("max_queued"), "{message}");
}

#[test]
fn env_key_source_replaces_the_files() {
    let file = TempFile::new("env-key", SECRET);
    let config = load(MINIMAL, &[("SCIMGATE_ORGS__ACME__KEY_FILE", file.path())]).unwrap();
    assert_eq!(config.orgs[0].key_env, None);
    assert_eq!(config.orgs[0].key_file.as_deref(), Some(file.0.as_path()));
}

#[test]
fn env_values_are_typed_by_field() {
    let config = load(
        MINIMAL,
        &[
            ("SCIMGATE_SERVER__GRAPHIQL", "false"),
            ("SCIMGATE_ORGS__ACME__NAME", "1234"),
            ("SCIMGATE_ORGS__ACME__PROFILE", "rfc7644"),
            ("SCIMGATE_ORGS__ACME__BUDGET__BACKGROUND_SHARE", "0.25"),
        ],
    )
    .unwrap();
    assert!(!config.server.graphiql);
    assert_eq!(
        config.orgs[0].name, "1234",
        "a string field keeps digits as text"
    );
    assert_eq!(config.orgs[0].profile, Profile::Rfc7644);
    assert_eq!(config.orgs[0].budget.background_share, 0.25);
    let message = err(MINIMAL, &[("SCIMGATE_ORGS__ACME__BUDGET__LIMIT", "lots")]);
    assert!(
        message.contains("SCIMGATE_ORGS__ACME__BUDGET__LIMIT") && message.contains("whole number")
    );
}

#[test]
fn org_is_defined_from_env_alone() {
    let vars = env(&[
        (
            "SCIMGATE_ORGS__ACME_EU__BASE_URL",
            "https://scim-eu.example.com/scim/1/",
        ),
        ("SCIMGATE_ORGS__ACME_EU__KEY_ENV", "ACME_EU_KEY"),
        ("SCIMGATE_ORGS__ACME_EU__BUDGET__LIMIT", "45"),
        ("ACME_EU_KEY", SECRET),
        ("PATH", "/usr/bin"),
    ]);
    let config = Config::load(None, &vars, &Overrides::default()).unwrap();
    let org = config.org("acme_eu").expect("the org from the environment");
    assert_eq!(org.base_url, "https://scim-eu.example.com/scim/1");
    assert_eq!(org.budget.limit, 45);
    assert_eq!(org.key().expose_secret(), SECRET);
    let message = err(MINIMAL, &[("SCIMGATE_ORGS__GLOBEX__NAME", "Globex")]);
    assert!(
        message.contains("SCIMGATE_ORGS__GLOBEX__BASE_URL"),
        "{message}"
    );
}

#[test]
fn env_matches_hyphenated_ids() {
    let text = MINIMAL.replace("\"acme\"", "\"acme-eu\"");
    let config = load(&text, &[("SCIMGATE_ORGS__ACME_EU__NAME", "Acme Europe")]).unwrap();
    assert_eq!(config.org("acme-eu").unwrap().name, "Acme Europe");
    let both = format!("{text}{}", MINIMAL.replace("\"acme\"", "\"acme_eu\""));
    let message = err(&both, &[("SCIMGATE_ORGS__ACME_EU__NAME", "x")]);
    assert!(message.contains("more than one org"), "{message}");
}

#[test]
fn per_group_grant_maximums_come_from_the_file_or_the_environment_and_are_checked() {
    let text = format!(
        "{MINIMAL}\n[grants]\ngroups = {{ \"Admins\" = \"4h\", \"Billing Ops\" = \"30m\" }}\n"
    );
    let config = load(&text, &[("ACME_KEY", SECRET)]).unwrap();
    assert_eq!(
        config.grants.groups.get("Admins"),
        Some(&Duration::from_secs(4 * 3_600))
    );
    assert_eq!(
        config.grants.groups.get("Billing Ops"),
        Some(&Duration::from_secs(30 * 60))
    );
    assert_eq!(
        config.grants.max_duration,
        GrantsConfig::default().max_duration
    );
    let shown = config.to_redacted_toml();
    assert!(shown.contains("Admins = \"4h\""), "{shown}");

    let from_env = load(
        MINIMAL,
        &[
            ("ACME_KEY", SECRET),
            ("SCIMGATE_GRANTS__GROUPS", "Admins=2h, Owners = 15m"),
        ],
    )
    .unwrap();
    assert_eq!(
        from_env.grants.groups.get("Owners"),
        Some(&Duration::from_secs(15 * 60))
    );
    assert_eq!(
        from_env.grants.groups.get("Admins"),
        Some(&Duration::from_secs(2 * 3_600))
    );

    let bad = err(
        &format!("{MINIMAL}\n[grants]\ngroups = {{ \"Admins\" = \"soon\" }}\n"),
        &[("ACME_KEY", SECRET)],
    );
    assert!(
        bad.contains("grants.groups") && bad.contains("Admins"),
        "{bad}"
    );
    let bad_env = err(
        MINIMAL,
        &[("ACME_KEY", SECRET), ("SCIMGATE_GRANTS__GROUPS", "Admins")],
    );
    assert!(bad_env.contains("SCIMGATE_GRANTS__GROUPS"), "{bad_env}");
}

#[test]
fn grant_warnings_and_event_retention_come_from_the_file_or_the_environment_and_are_checked() {
    let hours = |h: u64| Duration::from_secs(h * 3_600);
    let defaults = load(MINIMAL, &[("ACME_KEY", SECRET)]).unwrap();
    assert_eq!(defaults.grants.warn_before, [hours(24), hours(1)]);
    assert_eq!(defaults.events.retention, Duration::from_secs(30 * 86_400));

    let text = format!(
        "{MINIMAL}\n[grants]\nwarn_before = [\"2h\", \"15m\"]\n\n[events]\nretention = \"7days\"\n"
    );
    let config = load(&text, &[("ACME_KEY", SECRET)]).unwrap();
    assert_eq!(
        config.grants.warn_before,
        [hours(2), Duration::from_secs(15 * 60)]
    );
    assert_eq!(config.events.retention, Duration::from_secs(7 * 86_400));
    let shown = config.to_redacted_toml();
    assert!(
        shown.contains("warn_before = [") && shown.contains("[events]"),
        "{shown}"
    );

    let from_env = load(
        MINIMAL,
        &[
            ("ACME_KEY", SECRET),
            ("SCIMGATE_GRANTS__WARN_BEFORE", "48h, 30m"),
            ("SCIMGATE_EVENTS__RETENTION", "90d"),
        ],
    )
    .unwrap();
    assert_eq!(
        from_env.grants.warn_before,
        [hours(48), Duration::from_secs(30 * 60)]
    );
    assert_eq!(from_env.events.retention, Duration::from_secs(90 * 86_400));
    let none = load(
        &format!("{MINIMAL}\n[grants]\nwarn_before = []\n"),
        &[("ACME_KEY", SECRET)],
    )
    .unwrap();
    assert!(none.grants.warn_before.is_empty());

    let bad = err(
        &format!("{MINIMAL}\n[grants]\nwarn_before = [\"1h\", \"later\"]\n"),
        &[("ACME_KEY", SECRET)],
    );
    assert!(
        bad.contains("grants.warn_before") && bad.contains("item 2"),
        "{bad}"
    );
    let bad_env = err(
        MINIMAL,
        &[
            ("ACME_KEY", SECRET),
            ("SCIMGATE_EVENTS__RETENTION", "forever"),
        ],
    );
    assert!(bad_env.contains("SCIMGATE_EVENTS__RETENTION"), "{bad_env}");
}

#[test]
fn webhooks_take_their_secret_from_the_environment_and_are_checked() {
    let hook = |extra: &str| {
        format!(
            "{MINIMAL}\n[[webhooks]]\nname = \"siem\"\norg = \"acme\"\nurl = \"https://siem.example/hook\"\nevents = [\"grant.*\"]\nsecret_env = \"SIEM_SECRET\"\n{extra}"
        )
    };
    let config = load(
        &hook(""),
        &[("ACME_KEY", SECRET), ("SIEM_SECRET", "whsec_c2VjcmV0")],
    )
    .unwrap();
    let webhook = &config.webhooks[0];
    assert_eq!(
        (webhook.name.as_str(), webhook.events.as_slice()),
        ("siem", &["grant.*".to_owned()][..])
    );
    assert!(webhook.secret.is_some());
    let shown = config.to_redacted_toml();
    assert!(
        shown.contains("secret_env = \"SIEM_SECRET\"") && !shown.contains("whsec_c2VjcmV0"),
        "{shown}"
    );

    let unset = err(&hook(""), &[("ACME_KEY", SECRET)]);
    assert!(
        unset.contains("siem") && unset.contains("SIEM_SECRET"),
        "{unset}"
    );
    let in_file = err(
        &hook("secret = \"whsec_x\"\n"),
        &[("ACME_KEY", SECRET), ("SIEM_SECRET", "s")],
    );
    assert!(
        in_file.contains("environment") && !in_file.contains("whsec_x"),
        "{in_file}"
    );
    let other_org = err(
        &hook("").replace("org = \"acme\"", "org = \"nobody\""),
        &[("ACME_KEY", SECRET), ("SIEM_SECRET", "s")],
    );
    assert!(other_org.contains("nobody"), "{other_org}");
    let not_http = err(
        &hook("").replace("https://siem.example/hook", "ftp://siem.example"),
        &[("ACME_KEY", SECRET), ("SIEM_SECRET", "s")],
    );
    assert!(not_http.contains("url"), "{not_http}");
}
