//! `scimgate review export`: an access review's evidence (the header block and one row per
//! item, as `GET /export/reviews/{id}` sends it) written to standard output straight from the
//! store the configuration names, with no gateway running; a progress bar on stderr when it
//! is a terminal.

use std::io::{IsTerminal, Write};

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::ConfigArgs;
use crate::governance::reviews::export;
use crate::graphql::ids::{GlobalId, Kind};
use crate::store::{ItemFilter, now_ms};

#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    #[command(subcommand)]
    command: ReviewCommand,
}

#[derive(Debug, Subcommand)]
enum ReviewCommand {
    /// Write a review's evidence to standard output: CSV (a `# key,value` header block, then a
    /// column row and one row per item) or JSON Lines (the header, then one item a line).
    Export {
        #[command(flatten)]
        config: ConfigArgs,
        /// The review: its global id (`AccessReview.id`) or its id in the store.
        #[arg(long)]
        review: String,
        /// csv or jsonl.
        #[arg(long, default_value = "csv", value_parser = ["csv", "jsonl"])]
        format: String,
    },
}

/// Items read per page.
const PAGE: i64 = 1_000;

/// Runs a `review` subcommand.
pub async fn run(args: ReviewArgs) -> Result<(), Box<dyn std::error::Error>> {
    let ReviewCommand::Export {
        config,
        review,
        format,
    } = args.command;
    let store = crate::audit_cli::open(&config).await?;
    let id = GlobalId::decode(&review)
        .filter(|g| g.kind == Kind::AccessReview)
        .map_or(review.clone(), |g| g.key);
    let Some(row) = store.review(&id).await? else {
        return Err(format!("no access review {review:?} in {}", store.shown_url()).into());
    };
    let snapshot = store.snapshot(&row.org, row.snapshot_seq).await?;
    let csv = format == "csv";
    let header = export::header(&row, snapshot.as_ref(), now_ms());
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(
            Some(u64::try_from(row.item_count).unwrap_or(0)),
            ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} items exported") {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    out.write_all(&if csv {
        export::csv_head(&header)
    } else {
        export::json_head(&header)
    })?;
    let mut after = 0;
    loop {
        let items = store
            .review_items(&row.id, &ItemFilter::default(), after, PAGE)
            .await?;
        let Some(last) = items.last() else { break };
        after = last.seq;
        out.write_all(&if csv {
            export::csv_rows(&row, &items)
        } else {
            export::json_rows(&row, &items)
        })?;
        bar.inc(items.len() as u64);
    }
    out.flush()?;
    bar.finish_and_clear();
    Ok(())
}
