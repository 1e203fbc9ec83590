//! `server.metrics_key_env`: the token it names is read at load, required when named, and
//! never printed.

use secrecy::ExposeSecret;

use super::*;

const TOKEN: &str = "metrics-token-5e1f-very-secret";

fn with_metrics_key(var: &str) -> String {
    format!("[server]\nmetrics_key_env = \"{var}\"\n{MINIMAL}")
}

#[test]
fn metrics_key_is_read_from_the_variable_it_names_and_never_printed() {
    let config = load(
        &with_metrics_key("METRICS_TOKEN"),
        &[("METRICS_TOKEN", TOKEN)],
    )
    .unwrap();
    let key = config.server.metrics_key.as_ref().expect("a metrics key");
    assert_eq!(key.0.expose_secret(), TOKEN);
    let printed = config.to_redacted_toml();
    assert!(
        printed.contains("metrics_key_env = \"METRICS_TOKEN\""),
        "{printed}"
    );
    assert!(!printed.contains(TOKEN), "{printed}");
    assert!(!format!("{config:?}").contains(TOKEN));
    // Unset, `/metrics` is open and nothing about it is printed.
    let open = load(MINIMAL, &[]).unwrap();
    assert!(open.server.metrics_key.is_none());
    assert!(!open.to_redacted_toml().contains("metrics_key_env"));
}

#[test]
fn metrics_key_env_comes_from_the_environment_too() {
    let vars = [
        ("SCIMGATE_SERVER__METRICS_KEY_ENV", "SCIMGATE_METRICS_TOKEN"),
        // A SCIMGATE_* name it points at is not an unknown variable.
        ("SCIMGATE_METRICS_TOKEN", TOKEN),
    ];
    let config = load(MINIMAL, &vars).unwrap();
    let key = config.server.metrics_key.as_ref().expect("a metrics key");
    assert_eq!(key.0.expose_secret(), TOKEN);
}

#[test]
fn a_metrics_key_env_naming_an_unset_or_empty_variable_is_an_error() {
    for vars in [&[][..], &[("METRICS_TOKEN", "  ")][..]] {
        let message = err(&with_metrics_key("METRICS_TOKEN"), vars);
        assert!(message.contains("metrics_key_env"), "{message}");
        assert!(!message.contains("METRICS_TOKEN"), "{message}");
    }
}
