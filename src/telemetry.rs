//! Logging: which filter and format the environment asks for (`SCIMGATE_LOG`, else `RUST_LOG`;
//! `SCIMGATE_LOG_FORMAT=json` for log shippers), and installing the subscriber on stderr.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// For people: one readable line per event.
    Text,
    /// For log shippers: one JSON object a line, with the fields of the spans it happened in
    /// (a request's `request_id` among them).
    Json,
}

/// The logging the environment asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogSettings {
    /// An `EnvFilter` directive string, such as `info` or `scimgate=debug,tower_http=info`.
    pub(crate) filter: String,
    pub(crate) format: LogFormat,
}

/// Reads the settings through `var` (the environment, or a table in tests): `SCIMGATE_LOG`
/// first, `RUST_LOG` as the fallback other Rust programs share, else `info`.
pub(crate) fn settings(var: impl Fn(&str) -> Option<String>) -> Result<LogSettings, String> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let filter = set("SCIMGATE_LOG")
        .or_else(|| set("RUST_LOG"))
        .unwrap_or_else(|| "info".to_owned());
    let format = match set("SCIMGATE_LOG_FORMAT").as_deref().map(str::trim) {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(_) => return Err("SCIMGATE_LOG_FORMAT must be `text` or `json`".to_owned()),
    };
    Ok(LogSettings { filter, format })
}

/// Installs the process's subscriber from the environment. Fails on a filter or format it
/// cannot read, rather than logging otherwise than asked.
pub fn init() -> Result<(), String> {
    let settings = settings(|name| std::env::var(name).ok())?;
    let filter = EnvFilter::try_new(&settings.filter)
        .map_err(|e| format!("the log filter (SCIMGATE_LOG or RUST_LOG) is not valid: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| format!("cannot install the logger: {e}"))?;
    if settings.format == LogFormat::Json {
        // The default hook writes plain text to stderr, which would break a shipper's
        // one-object-a-line stream; a panic becomes one more JSON line instead.
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            tracing::error!(panic = %message, location, "a thread panicked");
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<LogSettings, String> {
        settings(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn scimgate_log_wins_over_rust_log_which_wins_over_info() {
        let both = from(&[("SCIMGATE_LOG", "debug"), ("RUST_LOG", "warn")]).unwrap();
        assert_eq!(both.filter, "debug");
        assert_eq!(from(&[("RUST_LOG", "warn")]).unwrap().filter, "warn");
        assert_eq!(from(&[("SCIMGATE_LOG", " ")]).unwrap().filter, "info");
        assert_eq!(from(&[]).unwrap().filter, "info");
    }

    #[test]
    fn the_format_is_text_unless_json_is_asked_for() {
        assert_eq!(from(&[]).unwrap().format, LogFormat::Text);
        assert_eq!(
            from(&[("SCIMGATE_LOG_FORMAT", "text")]).unwrap().format,
            LogFormat::Text
        );
        assert_eq!(
            from(&[("SCIMGATE_LOG_FORMAT", "json")]).unwrap().format,
            LogFormat::Json
        );
        assert!(from(&[("SCIMGATE_LOG_FORMAT", "yaml")]).is_err());
    }
}
