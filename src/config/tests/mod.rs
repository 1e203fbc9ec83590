//! Loading, validation, key handling and redaction of the configuration tree; the env layer
//! has its own file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

mod env_layer;
mod metrics_key;
mod reviews;

const SECRET: &str = "sk-live-7f3a9c-very-secret";

const MINIMAL: &str = r#"
[[orgs]]
id = "acme"
base_url = "https://scim.example.com/scim/1/"
key_env = "ACME_KEY"
"#;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn key_env() -> Vec<(String, String)> {
    env(&[("ACME_KEY", SECRET)])
}

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut all = key_env();
    all.extend(env(vars));
    Config::from_toml_str(text, &all, &Overrides::default())
}

fn err(text: &str, vars: &[(&str, &str)]) -> String {
    let e = load(text, vars).expect_err("should fail");
    let message = e.to_string();
    assert!(!message.contains(SECRET), "secret leaked: {message}");
    message
}

/// A file under the temp dir, unique per test, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, content: &str) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("scimgate-config-{}-{name}", std::process::id()));
        std::fs::write(&path, content).unwrap();
        TempFile(path)
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn defaults_fill_everything_not_given() {
    let config = load(MINIMAL, &[]).unwrap();
    assert_eq!(config.server, ServerConfig::default());
    assert_eq!(
        config.server.listen,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert!(config.server.graphiql);
    assert_eq!(config.server.shutdown_grace, Duration::from_secs(10));
    let org = config.org("acme").unwrap();
    assert_eq!(org.name, "acme");
    assert_eq!(
        org.base_url, "https://scim.example.com/scim/1",
        "trailing slash trimmed"
    );
    assert_eq!(org.profile, Profile::Amplitude);
    assert_eq!(org.budget, BudgetConfig::default());
    assert_eq!(org.mirror.max_age, Duration::from_secs(300));
    assert_eq!(org.mirror.not_found_ttl, Duration::from_secs(30));
    assert_eq!(
        org.upstream,
        UpstreamConfig {
            attempt_timeout: Duration::from_secs(10),
            max_tries: 3
        }
    );
    assert_eq!(org.upstream.retry_policy().max_tries, 3);
    assert_eq!(org.key().expose_secret(), SECRET);
    assert!(config.org("nope").is_none());
}

#[test]
fn unknown_key_in_file_names_the_key_and_the_file() {
    let file = TempFile::new(
        "unknown.toml",
        &format!("{MINIMAL}\n[orgs.budget]\nlimt = 50\n"),
    );
    let e = Config::load(Some(file.0.as_path()), &key_env(), &Overrides::default()).unwrap_err();
    let message = e.to_string();
    assert!(message.contains("`orgs[acme].budget.limt`"), "{message}");
    assert!(message.contains(file.path()), "{message}");
    assert!(err(&format!("listen_on = 1\n{MINIMAL}"), &[]).contains("`listen_on`"));
    assert!(err(&format!("[server]\ngraphql = true\n{MINIMAL}"), &[]).contains("`server.graphql`"));
    assert!(err(&format!("{MINIMAL}tenant = \"x\"\n"), &[]).contains("`orgs[acme].tenant`"));
}

#[test]
fn inline_key_is_rejected_without_echoing_it() {
    let message = err(&format!("{MINIMAL}key = \"{SECRET}\"\n"), &[]);
    assert!(
        message.contains("key_env") && message.contains("key_file"),
        "{message}"
    );
    assert!(message.contains("acme"), "{message}");
}

#[test]
fn missing_key_variable_names_the_field_not_its_value() {
    let vars = env(&[("OTHER_KEY", SECRET)]);
    let e = Config::from_toml_str(MINIMAL, &vars, &Overrides::default()).unwrap_err();
    let message = e.to_string();
    assert!(matches!(e, ConfigError::KeyEnvMissing { .. }), "{e:?}");
    // The value of key_env is not repeated: it may be the key typed in the name's place.
    assert!(
        message.contains("key_env") && message.contains("acme") && !message.contains("ACME_KEY"),
        "{message}"
    );
    assert!(!message.contains(SECRET));
    assert!(err(MINIMAL, &[("ACME_KEY", "  \n")]).contains("empty"));
}

#[test]
fn key_file_is_read_and_trimmed() {
    let file = TempFile::new("key", &format!("  {SECRET}\n"));
    let text = MINIMAL.replace(
        "key_env = \"ACME_KEY\"",
        &format!("key_file = {:?}", file.path()),
    );
    let config = load(&text, &[]).unwrap();
    assert_eq!(config.orgs[0].key().expose_secret(), SECRET);
    assert_eq!(config.orgs[0].key_origin(), format!("file {}", file.path()));
    let missing = text.replace(file.path(), "/nonexistent/scimgate-key");
    let message = err(&missing, &[]);
    assert!(
        message.contains("key_file") && !message.contains("/nonexistent/scimgate-key"),
        "{message}"
    );
}

#[test]
fn key_source_must_be_exactly_one() {
    let both = format!("{MINIMAL}key_file = \"/tmp/k\"\n");
    assert!(err(&both, &[]).contains("only one of key_env and key_file"));
    let neither = MINIMAL.replace("key_env = \"ACME_KEY\"", "");
    assert!(err(&neither, &[]).contains("no key"));
}

#[test]
fn duplicate_and_invalid_org_ids_are_rejected() {
    let message = err(&format!("{MINIMAL}{MINIMAL}"), &[]);
    assert!(
        message.contains("`acme` is used by more than one org"),
        "{message}"
    );
    for bad in ["Acme", "", "a b", &"x".repeat(65)] {
        let message = err(&MINIMAL.replace("\"acme\"", &format!("{bad:?}")), &[]);
        assert!(message.contains("is invalid"), "{bad}: {message}");
    }
    assert!(load(&MINIMAL.replace("\"acme\"", "\"acme_eu-2\""), &[]).is_ok());
}

#[test]
fn bad_base_url_is_rejected() {
    for (url, reason) in [
        ("scim.example.com/scim/1", "absolute URL"),
        ("ftp://scim.example.com/scim/1", "http or https"),
        (
            "https://admin:hunter2@scim.example.com/scim/1",
            "credentials",
        ),
        ("https://scim.example.com/scim/1?x=1", "query"),
    ] {
        let text = MINIMAL.replace("https://scim.example.com/scim/1/", url);
        let message = err(&text, &[]);
        assert!(message.contains(reason), "{url}: {message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[test]
fn durations_are_human() {
    let text = format!(
        "{MINIMAL}[orgs.mirror]\nmax_age = \"5m\"\nnot_found_ttl = \"1m 30s\"\n\
         [orgs.upstream]\nattempt_timeout = \"500ms\"\n"
    );
    let org = &load(&text, &[]).unwrap().orgs[0];
    assert_eq!(org.mirror.max_age, Duration::from_secs(300));
    assert_eq!(org.mirror.not_found_ttl, Duration::from_secs(90));
    assert_eq!(org.upstream.attempt_timeout, Duration::from_millis(500));
    let message = err(&format!("{MINIMAL}[orgs.mirror]\nmax_age = \"5x\"\n"), &[]);
    assert!(
        message.contains("`orgs[acme].mirror.max_age`") && !message.contains("5x"),
        "{message}"
    );
    let message = err(MINIMAL, &[("SCIMGATE_ORGS__ACME__MIRROR__MAX_AGE", "soon")]);
    assert!(
        message.contains("SCIMGATE_ORGS__ACME__MIRROR__MAX_AGE"),
        "{message}"
    );
}

#[test]
fn limits_are_validated() {
    let with = |section: &str| format!("{MINIMAL}{section}\n");
    let cases = [
        (
            "[orgs.mirror]\nmax_age = \"500ms\"\nnot_found_ttl = \"100ms\"",
            "at least 1s",
        ),
        (
            "[orgs.mirror]\nmax_age = \"10s\"",
            "must not exceed mirror.max_age",
        ),
        (
            "[orgs.upstream]\nattempt_timeout = \"0s\"",
            "attempt_timeout",
        ),
        ("[orgs.upstream]\nmax_tries = 0", "between 1 and 10"),
        ("[orgs.upstream]\nmax_tries = 11", "between 1 and 10"),
        ("[orgs.budget]\nburst = 91", "burst"),
        ("[orgs.budget]\nlimit = 0", "at least 1"),
        ("[orgs.budget]\nlimit = -1", "whole number"),
    ];
    for (section, expected) in cases {
        let message = err(&with(section), &[]);
        assert!(message.contains(expected), "{section}: {message}");
    }
    // Above Amplitude's 100/min only warns.
    assert!(load(&with("[orgs.budget]\nlimit = 120"), &[]).is_ok());
}

#[test]
fn no_orgs_is_an_error() {
    assert!(matches!(load("", &[]), Err(ConfigError::NoOrgs)));
    assert!(matches!(
        Config::load(None, &[], &Overrides::default()),
        Err(ConfigError::NoOrgs)
    ));
}

#[test]
fn toml_syntax_error_gives_the_line_without_quoting_it() {
    let message = err(&format!("{MINIMAL}name = \"{SECRET}\n"), &[]);
    assert!(message.contains("config text:6:"), "{message}");
}

#[test]
fn redacted_toml_shows_where_keys_come_from_and_no_secret() {
    let file = TempFile::new("redacted-key", SECRET);
    let second = MINIMAL.replace("\"acme\"", "\"globex\"").replace(
        "key_env = \"ACME_KEY\"",
        &format!("key_file = {:?}", file.path()),
    );
    let config = load(&format!("{MINIMAL}{second}"), &[]).unwrap();
    let printed = config.to_redacted_toml();
    assert!(!printed.contains(SECRET), "{printed}");
    assert!(
        printed.contains("key = \"<redacted: from env ACME_KEY>\""),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("<redacted: from file {}>", file.path())),
        "{printed}"
    );
    let tree: toml::Table = printed.parse().expect("valid TOML");
    assert_eq!(tree["server"]["listen"].as_str(), Some("127.0.0.1:8080"));
    assert_eq!(tree["orgs"][0]["mirror"]["max_age"].as_str(), Some("5m"));
    assert!(!format!("{config:?}").contains(SECRET));
}

#[test]
fn example_file_loads() {
    let file = TempFile::new("globex-key", "globex-secret\n");
    let vars = env(&[
        ("ACME_SCIM_KEY", SECRET),
        ("SCIMGATE_ORGS__GLOBEX__KEY_FILE", file.path()),
    ]);
    let text = include_str!("../../../scimgate.example.toml");
    let config = Config::from_toml_str(text, &vars, &Overrides::default()).unwrap();
    assert_eq!(config.orgs.len(), 2);
    let acme = config.org("acme").unwrap();
    assert_eq!((acme.profile, acme.budget.limit), (Profile::Amplitude, 90));
    assert_eq!(acme.key().expose_secret(), SECRET);
    let globex = config.org("globex").unwrap();
    assert_eq!(globex.profile, Profile::Rfc7644);
    assert_eq!(globex.key().expose_secret(), "globex-secret");
    assert_eq!(
        config.store,
        StoreConfig::default(),
        "the example shows the defaults"
    );
    assert_eq!(config.grants, GrantsConfig::default());
}

#[test]
fn the_store_url_comes_from_the_file_or_the_environment_and_prints_without_its_password() {
    let text = format!(
        "{MINIMAL}\n[store]\nurl = \"postgres://app:s3cret-pw@db.internal/scim\"\naudit_retention = \"30days\"\n"
    );
    let config = load(&text, &[("ACME_KEY", SECRET)]).unwrap();
    assert_eq!(
        config.store.url,
        "postgres://app:s3cret-pw@db.internal/scim"
    );
    assert_eq!(
        config.store.audit_retention,
        Duration::from_secs(30 * 86_400)
    );
    let shown = config.to_redacted_toml();
    assert!(
        shown.contains("postgres://app:<redacted>@db.internal/scim"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret-pw"), "{shown}");
    let config = load(
        MINIMAL,
        &[
            ("ACME_KEY", SECRET),
            (
                "SCIMGATE_STORE__URL",
                "sqlite:///var/lib/scimgate/store.sqlite3",
            ),
            ("SCIMGATE_STORE__REPLICA", "gw-2"),
        ],
    )
    .unwrap();
    assert_eq!(config.store.url, "sqlite:///var/lib/scimgate/store.sqlite3");
    assert_eq!(config.store.replica, "gw-2");
    let typo = err(
        &format!("{MINIMAL}\n[store]\nurll = \"x\"\n"),
        &[("ACME_KEY", SECRET)],
    );
    assert!(typo.contains("url"), "{typo}");
}

/// The schema the env layer and the checks use lists exactly the typed tree's fields.
#[test]
fn schema_matches_the_typed_tree() {
    let keys = |value: toml::Table| value.keys().cloned().collect::<Vec<_>>();
    let names = |fields: schema::Fields| {
        fields
            .iter()
            .map(|(n, _)| n.to_string())
            .collect::<Vec<_>>()
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        // An optional key shows once set.
        sorted(keys(
            toml::Table::try_from(ServerConfig {
                metrics_key_env: Some("METRICS_TOKEN".into()),
                ..ServerConfig::default()
            })
            .unwrap()
        )),
        sorted(names(schema::SERVER))
    );
    assert_eq!(
        sorted(keys(toml::Table::try_from(StoreConfig::default()).unwrap())),
        sorted(names(schema::STORE))
    );
    assert_eq!(
        sorted(keys(
            toml::Table::try_from(GrantsConfig::default()).unwrap()
        )),
        sorted(names(schema::GRANTS))
    );
    let budget = BudgetConfig {
        guard: Some(Duration::from_secs(1)),
        ..BudgetConfig::default()
    };
    let tables = [
        toml::Table::try_from(budget).unwrap(),
        toml::Table::try_from(MirrorConfig::default()).unwrap(),
        toml::Table::try_from(UpstreamConfig::default()).unwrap(),
        // An optional key shows once set.
        toml::Table::try_from(ReviewsConfig {
            snapshot_every: Some(Duration::from_secs(86_400)),
            ..ReviewsConfig::default()
        })
        .unwrap(),
    ];
    for ((_, fields), table) in schema::ORG_SECTIONS.iter().zip(tables) {
        assert_eq!(sorted(keys(table)), sorted(names(fields)));
    }
    let mut org = names(schema::ORG);
    org.retain(|n| n != "key_file");
    let text = org
        .iter()
        .map(|n| {
            format!(
                "{n} = \"{}\"\n",
                if n == "profile" { "amplitude" } else { "x" }
            )
        })
        .collect::<String>();
    let raw: Result<RawOrg, _> =
        toml::from_str(&text.replace("base_url = \"x\"", "base_url = \"https://h\""));
    assert!(raw.is_ok(), "{:?}", raw.err());
}

#[test]
fn missing_required_key_names_the_org() {
    let message = err(
        &MINIMAL.replace("base_url = \"https://scim.example.com/scim/1/\"", ""),
        &[],
    );
    assert!(
        message.contains("`orgs[acme]`") && message.contains("`base_url`"),
        "{message}"
    );
    assert!(err("[[orgs]]\nbase_url = \"https://h\"\n", &[]).contains("`id`"));
}
