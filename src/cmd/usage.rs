//! `modelenv usage`: disk use per store, the largest models, duplicates and what can be freed.

use crate::cmd::Exit;
use std::os::unix::fs::MetadataExt;

use anyhow::Result;
use console::style;
use serde::Serialize;

use crate::cli::UsageArgs;
use crate::settings::Settings;
use crate::stores::dupes::DupGroup;
use crate::stores::localdir::{self, BlobIndex, Download};
use crate::stores::{Model, ReclaimKind, StoreSummary};
use crate::units::{ago, human_size};

use super::inventory::{self, Filesystem};
use super::show;

#[derive(Serialize, Default)]
pub struct Reclaimable {
    pub duplicate_bytes: u64,
    pub detached_bytes: u64,
    pub incomplete_bytes: u64,
    pub orphan_bytes: u64,
    /// Revisions of repos with no ref at all (downloaded by commit): prune keeps them unless
    /// `--include-unreferenced`.
    pub unreferenced_bytes: u64,
}

#[derive(Serialize)]
struct Report<'a> {
    stores: &'a [StoreSummary],
    filesystems: &'a [Filesystem],
    total_bytes: u64,
    total_models: usize,
    models: &'a [Model],
    reclaimable: Reclaimable,
    duplicates: &'a [DupGroup],
    /// Hub caches other than the central one that hold models (an old HF_HOME, the default
    /// cache next to a configured one), each with the command that merges it.
    other_hub_caches: &'a [OtherStore],
    hidden_copies: &'a HiddenCopies,
    warnings: &'a [String],
}

/// Copies of models that no cache listing shows: `--local-dir` downloads (in
/// CUSTOM_MODEL_DIR and the folders given with `--dir`).
#[derive(Serialize, Default)]
pub struct HiddenCopies {
    pub local_dir_downloads: Vec<Download>,
    /// Folders in the central hub cache that are not in the hub layout (no library loads a
    /// model from them), each with the command that moves it to CUSTOM_MODEL_DIR.
    pub stray_folders: Vec<Stray>,
    /// Converted or saved models (`config.json` with weights) in the folders given with
    /// `--dir`; their weights stored elsewhere too are in `duplicates`.
    pub model_folders: Vec<crate::scan::Cache>,
    /// Bytes `modelenv dedupe` frees: files whose content the central store already holds.
    pub dedupe_bytes: u64,
    /// Bytes the central store does not hold yet: `modelenv migrate --local-dir` imports them.
    pub migrate_bytes: u64,
}

#[derive(Serialize)]
pub struct Stray {
    pub path: std::path::PathBuf,
    pub bytes: u64,
    pub migrate: String,
}

/// The hidden copies below the custom model folder and `dirs`, and the hub cache's strays.
pub fn hidden_copies(settings: &Settings, dirs: &[std::path::PathBuf]) -> HiddenCopies {
    let blobs = BlobIndex::of_hub(&settings.hub_cache());
    // A folder reached twice (a --dir inside the custom folder, a link) is one download.
    let mut found: Vec<std::path::PathBuf> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for d in std::iter::once(&settings.custom_model_dir).chain(dirs) {
        for p in localdir::find(d, 6) {
            let id = std::fs::metadata(&p).map(|m| (m.dev(), m.ino())).ok();
            if seen.insert(id) {
                found.push(p);
            }
        }
    }
    let local_dir_downloads: Vec<Download> =
        found.iter().map(|p| localdir::read(p, &blobs)).collect();
    let stray_folders = crate::stores::hub::stray_folders(&settings.hub_cache())
        .into_iter()
        .map(|p| Stray {
            bytes: crate::scan_size(&p),
            migrate: format!(
                "modelenv migrate --stray {} --apply",
                crate::shell::quote_posix(&p.display().to_string())
            ),
            path: p,
        })
        .collect();
    let exclude = [
        settings.hf_home.clone(),
        settings.custom_model_dir.clone(),
        settings.ollama_models.clone(),
    ];
    let mut model_folders = Vec::new();
    for d in dirs {
        if crate::scan::is_model_folder(d) {
            model_folders.push(crate::scan::Cache {
                path: d.clone(),
                bytes: crate::scan_size(d),
                kind: "model-folder",
                models: Vec::new(),
            });
            continue;
        }
        model_folders.extend(
            crate::scan::caches(d, &exclude)
                .into_iter()
                .filter(|c| c.kind == "model-folder"),
        );
    }
    HiddenCopies {
        stray_folders,
        model_folders,
        dedupe_bytes: local_dir_downloads.iter().map(|d| d.in_central_bytes).sum(),
        migrate_bytes: local_dir_downloads
            .iter()
            .map(|d| d.not_in_central_bytes)
            .sum(),
        local_dir_downloads,
    }
}

#[derive(Serialize)]
struct OtherStore {
    path: std::path::PathBuf,
    bytes: u64,
    merge: String,
}

fn other_stores(settings: &Settings) -> Vec<OtherStore> {
    settings
        .other_hub_caches
        .iter()
        .filter(|p| crate::stores::hub::looks_like_hub(p))
        .map(|p| OtherStore {
            path: p.clone(),
            bytes: crate::scan_size(p),
            merge: format!(
                "modelenv migrate --store {} --apply",
                crate::shell::quote_posix(&p.display().to_string())
            ),
        })
        .collect()
}

pub fn run(settings: &Settings, args: &UsageArgs) -> Result<Exit> {
    let dirs = super::given_dirs(settings, &args.dirs, "read")?;
    let mut inv = inventory::read(settings, &dirs, &args.stores);
    let hidden = hidden_copies(settings, &dirs);
    let contents: Vec<_> = inv
        .models
        .iter()
        .flat_map(|m| m.contents.iter().cloned())
        .collect();
    let groups = inventory::duplicates(settings, contents, !args.no_hash_cache, &mut inv.warnings);
    let fss = inventory::filesystems(settings, &inv);
    let sum = |k: ReclaimKind| {
        inv.reclaim
            .iter()
            .filter(|r| r.kind == k)
            .map(|r| r.bytes)
            .sum()
    };
    let reclaimable = Reclaimable {
        duplicate_bytes: groups.iter().map(|g| g.wasted_bytes).sum(),
        detached_bytes: sum(ReclaimKind::Detached),
        incomplete_bytes: sum(ReclaimKind::Incomplete),
        orphan_bytes: sum(ReclaimKind::Orphan),
        unreferenced_bytes: sum(ReclaimKind::Unreferenced),
    };
    inv.models.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| (a.store, &a.id).cmp(&(b.store, &b.id)))
    });
    let top = args.top.unwrap_or(if args.json { usize::MAX } else { 10 });
    let shown = &inv.models[..inv.models.len().min(top)];
    let any_store = inv.stores.iter().any(|s| s.exists);
    let others = other_stores(settings);
    for w in &settings.unexpressible {
        crate::ui::warn(w);
    }
    if args.json {
        let report = Report {
            stores: &inv.stores,
            filesystems: &fss,
            total_bytes: inv.stores.iter().map(|s| s.bytes).sum(),
            total_models: inv.models.len(),
            models: shown,
            reclaimable,
            duplicates: &groups,
            other_hub_caches: &others,
            hidden_copies: &hidden,
            warnings: &inv.warnings,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(
            settings,
            &inv.stores,
            &fss,
            shown,
            inv.models.len(),
            &reclaimable,
            &groups,
        );
        print_hidden(settings, &hidden);
        for o in &others {
            println!(
                "\n{} {} ({}) holds models outside the central store; merge it: {}",
                style("Other hub cache:").bold(),
                show(settings, &o.path),
                human_size(o.bytes),
                o.merge
            );
        }
    }
    if !any_store && !args.json {
        println!(
            "\nNo model store exists yet: models appear here once a library downloads one. `modelenv scan` lists the project-local caches of a repo, `modelenv migrate` merges them."
        );
    }
    Ok(Exit::Ok)
}

fn print_human(
    settings: &Settings,
    stores: &[StoreSummary],
    fss: &[Filesystem],
    models: &[Model],
    total_models: usize,
    r: &Reclaimable,
    groups: &[DupGroup],
) {
    println!("{}", style("Stores").bold());
    println!(
        "  {:<12} {:>10} {:>8} {:>7}  PATH",
        "STORE", "SIZE", "FILES", "MODELS"
    );
    for s in stores {
        if !s.exists {
            println!(
                "  {:<12} {:>10} {:>8} {:>7}  {} (not found)",
                s.store.name(),
                "-",
                "-",
                "-",
                show(settings, &s.path)
            );
            continue;
        }
        println!(
            "  {:<12} {:>10} {:>8} {:>7}  {}",
            s.store.name(),
            human_size(s.bytes),
            s.files,
            s.models,
            show(settings, &s.path)
        );
    }
    println!(
        "\n{} (sizes in decimal units: 1 GB = 10^9 bytes)",
        style("Free space").bold()
    );
    for f in fss {
        let stores: Vec<&str> = f.stores.iter().map(|s| s.name()).collect();
        let note = if f.headroom_left_bytes < 0 {
            style(format!(
                "{} below the {} headroom",
                human_size(f.headroom_left_bytes.unsigned_abs()),
                human_size(f.headroom_bytes)
            ))
            .yellow()
            .to_string()
        } else {
            format!(
                "{} above the {} headroom",
                human_size(f.headroom_left_bytes as u64),
                human_size(f.headroom_bytes)
            )
        };
        println!(
            "  {}: {} free of {} ({}); holds {}",
            f.mount.display(),
            human_size(f.free_bytes),
            human_size(f.total_bytes),
            note,
            stores.join(", ")
        );
    }
    println!(
        "\n{} ({} of {})",
        style("Largest models").bold(),
        models.len(),
        total_models
    );
    if !models.is_empty() {
        println!(
            "  {:<9} {:<44} {:<8} {:>10}  ACCESSED",
            "STORE", "ID", "TYPE", "SIZE"
        );
    }
    let now = crate::stores::Time::now();
    for m in models {
        let accessed = m
            .last_accessed
            .map(|t| ago((now - t.0) as i64))
            .unwrap_or_else(|| "-".into());
        println!(
            "  {:<9} {:<44} {:<8} {:>10}  {accessed}",
            m.store.name(),
            m.listed_id(),
            m.kind,
            human_size(m.bytes)
        );
    }
    println!("\n{}", style("Reclaimable").bold());
    let line = |label: &str, bytes: u64, how: &str| {
        println!(
            "  {label:<28} {:>10}  {}",
            human_size(bytes),
            if bytes > 0 { how } else { "" }
        );
    };
    line(
        "duplicate content",
        r.duplicate_bytes,
        "modelenv migrate / modelenv dedupe --apply",
    );
    line(
        "detached revisions",
        r.detached_bytes,
        "modelenv prune --apply",
    );
    line(
        "incomplete downloads",
        r.incomplete_bytes,
        "modelenv prune --apply",
    );
    line(
        "unreferenced blobs",
        r.orphan_bytes,
        "modelenv prune --apply",
    );
    line(
        "repos with no ref (pinned)",
        r.unreferenced_bytes,
        "modelenv prune --apply --include-unreferenced",
    );
    for g in groups.iter().take(5) {
        println!(
            "    {} × {} ({}):",
            g.copies.len(),
            human_size(g.size),
            &g.content[..g.content.len().min(20)]
        );
        for c in g.copies.iter().take(4) {
            println!("      {}", show(settings, c));
        }
        if g.copies.len() > 4 {
            println!(
                "      … and {} more (all of them in --json)",
                g.copies.len() - 4
            );
        }
    }
}

fn print_hidden(settings: &Settings, h: &HiddenCopies) {
    if h.local_dir_downloads.is_empty() && h.stray_folders.is_empty() && h.model_folders.is_empty()
    {
        return;
    }
    println!("\n{}", style("Hidden copies").bold());
    super::scan::print_downloads(settings, &h.local_dir_downloads);
    if !h.model_folders.is_empty() {
        println!("\nConverted and saved models");
    }
    for m in &h.model_folders {
        println!("  {:>10}  {}", human_size(m.bytes), show(settings, &m.path));
    }
    if !h.stray_folders.is_empty() {
        println!("\nStray folders in the hub cache (no library loads a model from them)");
    }
    for s in &h.stray_folders {
        println!(
            "  {:>10}  {}: {}",
            human_size(s.bytes),
            show(settings, &s.path),
            s.migrate
        );
    }
    println!(
        "  dedupe frees {}; migrate --local-dir imports {}",
        human_size(h.dedupe_bytes),
        human_size(h.migrate_bytes)
    );
}
