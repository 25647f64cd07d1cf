//! `strata gc`.

use std::time::Duration;

use strata_compactor::{DEFAULT_GRACE, GcOptions, collect_garbage};
use strata_storage::{Manifest, Store};

use super::{CliResult, parse_duration, writer_name};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How old an unreferenced object must be before it is deleted.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    grace: Duration,
    /// Write a checkpoint once this many manifest records follow the newest one.
    #[arg(long, default_value_t = 10)]
    checkpoint_every: u64,
}

pub(crate) async fn run(store_url: &str, args: Args) -> CliResult {
    let store = Store::open_checked(store_url).await?;
    let manifest = Manifest::new(store, writer_name("gc"));
    let opts = GcOptions {
        grace: if args.grace.is_zero() {
            DEFAULT_GRACE
        } else {
            args.grace
        },
        checkpoint_every: args.checkpoint_every,
    };
    let r = collect_garbage(&manifest, &opts).await?;
    match r.checkpoint {
        Some(seq) => println!("checkpoint written at seq {seq}"),
        None => println!("no checkpoint needed"),
    }
    println!(
        "purged {} removed blocks, deleted {} orphaned objects, {} log records, {} checkpoints",
        r.purged_blocks, r.orphan_objects, r.log_records_deleted, r.checkpoints_deleted
    );
    Ok(())
}
