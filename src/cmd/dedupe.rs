//! `modelenv dedupe`: identical files that must stay where they are (the same GGUF in Ollama
//! and LM Studio) become hard links or reflinks of one copy, on the same filesystem. Size and
//! hash are checked again right before each link; the swap is a rename over the old copy, so
//! an interruption leaves either the copy or the link, never neither. Nothing in Ollama's
//! `blobs/` is renamed or added: a blob can only be the copy others link to, or be replaced in
//! place under its own name.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::{DedupeArgs, LinkKind};
use crate::settings::Settings;
use crate::stores::dupes::sha256_file;
use crate::units::human_size;

use super::{inventory, show};

#[derive(Serialize)]
struct Group {
    content: String,
    size: u64,
    keep: PathBuf,
    linked: Vec<PathBuf>,
    skipped: Vec<Skipped>,
}

#[derive(Serialize)]
struct Skipped {
    path: PathBuf,
    reason: String,
}

#[derive(Serialize)]
struct Report {
    applied: bool,
    link: &'static str,
    groups: Vec<Group>,
    freed_bytes: u64,
}

fn link_one(keep: &Path, copy: &Path, kind: LinkKind) -> Result<()> {
    let mut tmp = copy.as_os_str().to_owned();
    tmp.push(".modelenv-link");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    match kind {
        LinkKind::Hard => {
            std::fs::hard_link(keep, &tmp).with_context(|| format!("linking {}", tmp.display()))?
        }
        LinkKind::Reflink => reflink_copy::reflink(keep, &tmp).with_context(|| {
            format!(
                "reflinking {} (the filesystem may not support reflinks)",
                tmp.display()
            )
        })?,
    }
    std::fs::rename(&tmp, copy).with_context(|| format!("replacing {}", copy.display()))?;
    Ok(())
}

pub fn run(settings: &Settings, args: &DedupeArgs) -> Result<ExitCode> {
    let mut inv = inventory::read(settings, &args.dirs, &[]);
    let contents: Vec<_> = inv
        .models
        .iter()
        .flat_map(|m| m.contents.iter().cloned())
        .collect();
    let groups = inventory::duplicates(settings, contents, true, &mut inv.warnings);
    let ollama_blobs = settings.ollama_models.join("blobs");
    let mut report = Report {
        applied: args.apply,
        link: if args.link == LinkKind::Hard {
            "hard"
        } else {
            "reflink"
        },
        groups: Vec::new(),
        freed_bytes: 0,
    };
    for g in groups {
        // Keep an Ollama blob when there is one, so Ollama's store is never rewritten.
        let mut copies = g.copies.clone();
        copies.sort_by_key(|p| !p.starts_with(&ollama_blobs));
        let keep = copies.remove(0);
        let keep_dev = std::fs::metadata(&keep).map(|m| m.dev()).ok();
        let mut out = Group {
            content: g.content.clone(),
            size: g.size,
            keep: keep.clone(),
            linked: Vec::new(),
            skipped: Vec::new(),
        };
        for c in copies {
            let same_fs = std::fs::metadata(&c).map(|m| m.dev()).ok() == keep_dev;
            if !same_fs {
                out.skipped.push(Skipped {
                    path: c,
                    reason: "on another filesystem".into(),
                });
                continue;
            }
            if args.apply {
                // Check again right before linking: both still the same size and content.
                let ok = std::fs::metadata(&c).map(|m| m.len()).ok() == Some(g.size)
                    && std::fs::metadata(&keep).map(|m| m.len()).ok() == Some(g.size)
                    && sha256_file(&c)
                        .ok()
                        .is_some_and(|h| Some(h) == sha256_file(&keep).ok());
                if !ok {
                    out.skipped.push(Skipped {
                        path: c,
                        reason: "changed since it was scanned".into(),
                    });
                    continue;
                }
                link_one(&keep, &c, args.link)?;
            }
            report.freed_bytes += g.size;
            out.linked.push(c);
        }
        report.groups.push(out);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    if report.groups.is_empty() {
        println!("no duplicate content found");
        return Ok(ExitCode::SUCCESS);
    }
    for g in &report.groups {
        println!(
            "{} × {} kept at {}",
            g.linked.len() + 1,
            human_size(g.size),
            show(settings, &g.keep)
        );
        for l in &g.linked {
            println!(
                "    {} {}",
                if args.apply { "linked" } else { "would link" },
                show(settings, l)
            );
        }
        for s in &g.skipped {
            println!("    skipped {}: {}", show(settings, &s.path), s.reason);
        }
    }
    println!(
        "{} {}",
        if args.apply { "freed" } else { "would free" },
        human_size(report.freed_bytes)
    );
    if !args.apply {
        println!("dry run: nothing was changed; run `modelenv dedupe --apply`");
    }
    Ok(ExitCode::SUCCESS)
}
