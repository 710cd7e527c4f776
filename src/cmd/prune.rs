//! `modelenv prune`: detached HF revisions with the blobs only they use, unfinished
//! downloads, and blobs nothing references. A dry run lists them; `--apply` deletes exactly
//! those, snapshot before blobs, so an interruption leaves only orphans the next run frees.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::PruneArgs;
use crate::settings::Settings;
use crate::stores::{Reclaim, ReclaimKind, StoreKind, Time};
use crate::units::{human_size, parse_duration};

use super::{inventory, show};

/// Ollama keeps unreferenced blobs and `-partial` files this long (a pull may be running).
const OLLAMA_GRACE_SECS: f64 = 3_600.0;

#[derive(Serialize)]
struct Report<'a> {
    items: &'a [Reclaim],
    reclaimable_bytes: u64,
    applied: bool,
    freed_bytes: u64,
    warnings: &'a [String],
}

/// Removes a file, a symlink (never its target) or a whole folder.
pub fn remove_path(p: &Path) -> Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            std::fs::remove_dir_all(p).with_context(|| format!("removing {}", p.display()))
        }
        Ok(_) => std::fs::remove_file(p).with_context(|| format!("removing {}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("inspecting {}", p.display())),
    }
}

pub fn run(settings: &Settings, args: &PruneArgs) -> Result<ExitCode> {
    let min_age = args
        .older_than
        .as_deref()
        .map(parse_duration)
        .transpose()?
        .map(|s| s as f64);
    let inv = inventory::read(settings, &[], &[StoreKind::HfHub, StoreKind::Ollama]);
    let now = Time::now();
    let items: Vec<Reclaim> = inv
        .reclaim
        .into_iter()
        .filter(|r| {
            let age = r.mtime.map(|m| now - m).unwrap_or(f64::MAX);
            let grace = r.store == StoreKind::Ollama && age < OLLAMA_GRACE_SECS;
            !grace && min_age.is_none_or(|min| age >= min)
        })
        .collect();
    let total: u64 = items.iter().map(|r| r.bytes).sum();
    let mut freed = 0;
    if args.apply {
        for r in &items {
            // The snapshot goes first: a blob deleted before it would leave a broken link.
            remove_path(&r.path)?;
            for b in &r.blobs {
                remove_path(b)?;
            }
            freed += r.bytes;
        }
    }
    if args.json {
        let report = Report {
            items: &items,
            reclaimable_bytes: total,
            applied: args.apply,
            freed_bytes: freed,
            warnings: &inv.warnings,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    if items.is_empty() {
        println!("nothing to prune");
        return Ok(ExitCode::SUCCESS);
    }
    for r in &items {
        let what = match r.kind {
            ReclaimKind::Detached => format!(
                "detached revision of {} ({} blob(s) only it uses)",
                r.model.as_deref().unwrap_or("?"),
                r.blobs.len()
            ),
            ReclaimKind::Incomplete => "unfinished download".to_owned(),
            ReclaimKind::Orphan => "blob nothing references".to_owned(),
        };
        println!(
            "  {:>10}  {what}: {}",
            human_size(r.bytes),
            show(settings, &r.path)
        );
    }
    if args.apply {
        println!("freed {} in {} item(s)", human_size(freed), items.len());
    } else {
        println!(
            "{} in {} item(s) can be freed; run `modelenv prune --apply` to free it",
            human_size(total),
            items.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
