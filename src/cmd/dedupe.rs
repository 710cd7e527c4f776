//! `modelenv dedupe`: identical files that must stay where they are (the same GGUF in Ollama
//! and LM Studio) become hard links or reflinks of one copy, on the same filesystem. The plan
//! is one `fsops` link per copy: the guard hashes both files again right before linking, and
//! the swap is a rename over the old copy, so an interruption leaves either the copy or the
//! link, never neither. Nothing in Ollama's
//! `blobs/` is renamed or added: a blob can only be the copy others link to, or be replaced in
//! place under its own name.

use crate::cmd::Exit;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::cli::{DedupeArgs, LinkKind};
use crate::fsops::hash::sha256_file;
use crate::fsops::{self, OpView, Plan, Run};
use crate::settings::Settings;
use crate::units::human_size;

use crate::stores::localdir;

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
    /// The plan: exactly what `--apply` does.
    operations: Vec<OpView>,
}

pub fn run(settings: &Settings, args: &DedupeArgs) -> Result<Exit> {
    // The lock (and whatever an interrupted run left) comes before the plan is made.
    let _changes = if args.apply {
        Some(super::begin_changes(settings, "dedupe")?)
    } else {
        None
    };
    let dirs = super::given_dirs(settings, &args.dirs, "dedupe")?;
    let mut inv = inventory::read(settings, &dirs, &[]);
    let contents: Vec<_> = inv
        .models
        .iter()
        .flat_map(|m| m.contents.iter().cloned())
        .collect();
    let groups = inventory::duplicates(settings, contents, true, &mut inv.warnings);
    let ollama_blobs = settings.ollama_models.join("blobs");
    let hub = settings.hub_cache();
    let mut report = Report {
        applied: args.apply,
        link: if args.link == LinkKind::Hard {
            "hard"
        } else {
            "reflink"
        },
        groups: Vec::new(),
        freed_bytes: 0,
        operations: Vec::new(),
    };
    let roots = super::store_roots(settings, &dirs);
    let kind = match args.link {
        LinkKind::Hard => fsops::LinkKind::Hard,
        LinkKind::Reflink => fsops::LinkKind::Reflink,
    };
    let mut plan = Plan::new();
    // (plan group, report group, path, bytes) of each planned link.
    let mut linked: Vec<(u32, usize, PathBuf, u64)> = Vec::new();
    for g in groups {
        // Keep an Ollama blob when there is one, so Ollama's store is never rewritten; else a
        // hub blob, so copies outside the hub cache become links of the central store.
        let mut copies = g.copies.clone();
        copies.sort_by_key(|p| (!p.starts_with(&ollama_blobs), !p.starts_with(&hub)));
        let keep = copies.remove(0);
        let keep_dev = std::fs::metadata(&keep).map(|m| m.dev()).ok();
        let mut out = Group {
            content: g.content.clone(),
            size: g.size,
            keep: keep.clone(),
            linked: Vec::new(),
            skipped: Vec::new(),
        };
        let Some(keep_root) = roots.holding(&keep) else {
            inv.warnings.push(format!(
                "{} is not inside a store or folder given to dedupe; its copies are kept",
                keep.display()
            ));
            continue;
        };
        let sha = match g.content.strip_prefix("sha256:") {
            Some(h) => h.to_owned(),
            None => match sha256_file(&keep) {
                Ok(h) => h,
                Err(e) => {
                    inv.warnings.push(format!(
                        "reading {}: {e}; its copies are kept",
                        keep.display()
                    ));
                    continue;
                }
            },
        };
        let keep_meta = std::fs::metadata(&keep).ok();
        // Write bits aside: a linked file is made read-only (see fsops), the rest must match.
        let keep_mode = keep_meta.as_ref().map(|m| m.mode() & 0o7555);
        let keep_mtime = keep_meta
            .as_ref()
            .map(|m| m.mtime() as f64 + m.mtime_nsec() as f64 / 1e9);
        // A hub blob's name promises its content (a git blob id for small files).
        let keep_blob_name = keep
            .starts_with(&hub)
            .then(|| {
                keep.parent()
                    .is_some_and(|p| p.ends_with("blobs"))
                    .then(|| keep.file_name())
                    .flatten()
            })
            .flatten()
            .map(|n| n.to_string_lossy().into_owned());
        for c in copies {
            let same_fs = std::fs::metadata(&c).map(|m| m.dev()).ok() == keep_dev;
            let meta = std::fs::symlink_metadata(&c).ok();
            // Another name holds this copy too: linking frees nothing and couples the files.
            if meta.as_ref().is_some_and(|m| m.nlink() > 1) {
                out.skipped.push(Skipped {
                    path: c,
                    reason: "it has other hard links; linking would free nothing".into(),
                });
                continue;
            }
            // A link shares the kept file's permissions: never widen who may read a file.
            if meta.as_ref().map(|m| m.mode() & 0o7555) != keep_mode {
                out.skipped.push(Skipped {
                    path: c,
                    reason: "its permissions differ from the kept copy's".into(),
                });
                continue;
            }
            if !same_fs {
                out.skipped.push(Skipped {
                    path: c,
                    reason: "on another filesystem".into(),
                });
                continue;
            }
            // A `--local-dir` download's file: its download metadata must still be valid after.
            let download = match localdir::owner_of(&c) {
                None => Ok(None),
                Some((dir, filename)) => download_metadata(
                    &dir,
                    &filename,
                    kind,
                    &sha,
                    keep_blob_name.as_deref(),
                    keep_mtime,
                )
                .map(|m| m.map(|text| (localdir::metadata_path(&dir, &filename), text))),
            };
            let planned = match (roots.holding(&c), download) {
                (_, Err(reason)) => Err(reason),
                (None, _) => Err("not inside a store or folder given to dedupe".to_owned()),
                (Some(copy_root), Ok(metadata)) => {
                    let mut item = Plan::new();
                    item.link(keep_root, &keep, copy_root, &c, kind, &sha)
                        .and_then(|()| match &metadata {
                            // Written after the link, in its group: skipped when it is.
                            Some((path, text)) => item.write(copy_root, path, text.as_bytes()),
                            None => Ok(()),
                        })
                        .map(|()| item)
                        .map_err(|e| e.to_string())
                }
            };
            match planned {
                Ok(item) => {
                    let gid = plan.push_group(item);
                    linked.push((gid, report.groups.len(), c.clone(), g.size));
                    out.linked.push(c);
                }
                Err(reason) => out.skipped.push(Skipped { path: c, reason }),
            }
        }
        report.groups.push(out);
    }
    report.operations = plan.views();
    let mut code = Exit::Ok;
    if args.apply && !plan.is_empty() {
        let outcome =
            Run::new(&settings.state_dir, "dedupe", settings.test_kill_after).execute(&plan)?;
        for (gid, rg, path, size) in &linked {
            if outcome.group_ok(*gid) {
                report.freed_bytes += size;
            } else {
                let group = &mut report.groups[*rg];
                group.linked.retain(|p| p != path);
                let reason = outcome
                    .results
                    .iter()
                    .find(|r| r.group == *gid)
                    .and_then(|r| r.detail.clone())
                    .unwrap_or_else(|| "not linked".into());
                group.skipped.push(Skipped {
                    path: path.clone(),
                    reason,
                });
                code = Exit::Problems;
            }
        }
    } else {
        report.freed_bytes = linked.iter().map(|l| l.3).sum();
    }
    for w in &inv.warnings {
        crate::ui::warn(w);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(code);
    }
    if report.groups.is_empty() {
        println!("no duplicate content found");
        return Ok(code);
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
        crate::ui::hint(
            "dry run: nothing was changed; `modelenv dedupe --apply` does exactly this",
        );
    }
    Ok(code)
}

/// For a file of a `--local-dir` download about to become a link of `keep` (a hub blob
/// named `keep_blob_name`, or another file; modified at `keep_mtime`): the new text of its download metadata when the
/// link would make huggingface_hub's `read_download_metadata` reject it (the link takes the
/// kept file's mtime, and the metadata only holds while `mtime - 1 <= timestamp`), `None`
/// when it stays valid as it is, or why the file must be left alone.
fn download_metadata(
    dir: &std::path::Path,
    filename: &str,
    kind: fsops::LinkKind,
    sha: &str,
    keep_blob_name: Option<&str>,
    keep_mtime: Option<f64>,
) -> Result<Option<String>, String> {
    let keep_mtime = keep_mtime.ok_or("the copy to keep cannot be read")?;
    if crate::stores::downloads::lock_held(&localdir::lock_path(dir, filename)) {
        return Err("huggingface_hub holds its download lock (a download is running)".into());
    }
    let text = std::fs::read_to_string(localdir::metadata_path(dir, filename))
        .map_err(|e| format!("reading its download metadata: {e}"))?;
    let Some(meta) = localdir::parse_metadata(&text) else {
        return Ok(None); // huggingface_hub ignores it too
    };
    // The metadata must name the content the file will hold, or it would vouch for a file
    // it does not describe.
    if meta.etag != sha && Some(meta.etag.as_str()) != keep_blob_name {
        return Err(format!(
            "its download metadata names other content (etag {}); left for huggingface_hub to download again",
            meta.etag
        ));
    }
    if kind == fsops::LinkKind::Reflink {
        return Err(
            "a reflink is a new file with a new mtime, which makes huggingface_hub's download metadata outdated; use --link hard"
                .into(),
        );
    }
    if localdir::still_valid(meta.timestamp, keep_mtime) {
        return Ok(None);
    }
    // Valid again from now on: the kept file is the content the metadata names.
    let now = crate::stores::Time::now().max(keep_mtime);
    Ok(Some(localdir::metadata_text(&meta.commit, &meta.etag, now)))
}
