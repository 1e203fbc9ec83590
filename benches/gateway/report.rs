//! The results: one table (row, measure, measured, reference, ratio, target, met) printed to
//! stdout, and written with the command, the machine and the date between markers in
//! BENCHMARKS.md, so the hand-written notes around them survive a new run.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// One line of the table.
pub struct Line {
    pub row: &'static str,
    pub measure: String,
    pub measured: String,
    pub reference: String,
    pub ratio: Option<f64>,
    pub target: String,
    /// `None` where the line is informational.
    pub met: Option<bool>,
}

/// Everything a run produced.
#[derive(Default)]
pub struct Report {
    pub lines: Vec<Line>,
    /// Details per row (samples, rounds, setup) printed under the table.
    pub details: Vec<String>,
}

impl Report {
    pub fn push(&mut self, line: Line) {
        self.lines.push(line);
    }

    pub fn detail(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("  {text}");
        self.details.push(text);
    }

    pub fn table(&self) -> String {
        let mut t = String::from(
            "| Row | Measure | Measured | Reference (same run) | Ratio | Target | Met |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for l in &self.lines {
            let ratio = l.ratio.map_or("—".to_owned(), |r| format!("{r:.2}"));
            let met = match l.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "—",
            };
            let _ = writeln!(
                t,
                "| {} | {} | {} | {} | {} | {} | {} |",
                l.row, l.measure, l.measured, l.reference, ratio, l.target, met
            );
        }
        t
    }

    /// The generated section: command, machine, date, the table and the details.
    pub fn section(&self, command: &str, took: Duration, auth: bool) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Run: {}", httpdate::fmt_http_date(SystemTime::now()));
        let _ = writeln!(
            s,
            "\nCommand: `{command}` (took {:.0} s)\n",
            took.as_secs_f64()
        );
        let _ = writeln!(s, "Machine: {}\n", machine());
        let _ = writeln!(
            s,
            "API-key auth: {}\n",
            if auth {
                "on (every request carries `Authorization: Bearer`)"
            } else {
                "off (the gateway of this revision has no `[[api_keys]]`)"
            }
        );
        s.push_str(&self.table());
        s.push_str("\nDetails:\n\n");
        for d in &self.details {
            let _ = writeln!(s, "- {d}");
        }
        s
    }
}

/// Cores, CPU model and memory, from the OS.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    format!(
        "{cores} cores (`nproc`), {model}, {:.1} GiB memory, {} {}",
        mem_kib as f64 / 1_048_576.0,
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

const BEGIN: &str = "<!-- bench:results:begin (written by `cargo bench --bench gateway`) -->";
const END: &str = "<!-- bench:results:end -->";

/// Replaces the generated section of `path`, or creates the file around it.
pub fn write(path: &Path, section: &str) -> std::io::Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{BEGIN}\n{section}{}", &old[..b], &old[e..])
        }
        _ => format!("# Benchmarks\n\n{BEGIN}\n{section}{END}\n{old}"),
    };
    std::fs::write(path, new)
}

/// `12.3 ms`
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// The median (mean of the two middle values for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
