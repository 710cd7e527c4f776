//! `modelenv scan`: project-local caches and the configs that create them, with the savings
//! centralising would bring (the seed's Before / After / Savings, computed).

use crate::cmd::Exit;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::cli::ScanArgs;
use crate::scan::{self, Cache, ConfigLine};
use crate::settings::Settings;
use crate::stores::StoreKind;
use crate::stores::localdir::{self, BlobIndex, Download};
use crate::units::human_size;

use super::show;

#[derive(Serialize)]
struct Report<'a> {
    caches: &'a [Cache],
    configs: &'a [ConfigLine],
    /// `--local-dir` downloads, each file matched with the central store by its etag.
    local_dir_downloads: &'a [Download],
    /// Bytes in project-local caches.
    local_bytes: u64,
    /// Content stored more than once across the local caches and the central stores.
    duplicate_bytes: u64,
    /// What moving every local cache into the central one frees.
    reclaimable_bytes: u64,
}

pub fn run(settings: &Settings, args: &ScanArgs) -> Result<Exit> {
    let roots = super::roots(settings, &args.dirs, "scan")?;
    let exclude = [
        settings.hf_home.clone(),
        settings.custom_model_dir.clone(),
        settings.ollama_models.clone(),
    ];
    let mut caches = Vec::new();
    let mut configs = Vec::new();
    for r in &roots {
        caches.extend(scan::caches(r, &exclude));
        configs.extend(scan::configs(r));
    }
    // Duplicates between the local caches and the central stores, by the same rules as usage.
    let dirs: Vec<PathBuf> = caches
        .iter()
        .filter(|c| c.kind != "loose-file")
        .map(|c| c.path.clone())
        .collect();
    let inv = super::inventory::read(
        settings,
        &dirs,
        &[StoreKind::HfHub, StoreKind::Custom, StoreKind::Local],
    );
    for c in caches.iter_mut() {
        c.models = inv
            .models
            .iter()
            .filter(|m| m.path.starts_with(&c.path))
            .map(|m| format!("{}:{}", m.kind, m.id))
            .collect();
    }
    let mut files: Vec<_> = inv
        .models
        .iter()
        .flat_map(|m| m.contents.iter().cloned())
        .collect();
    for c in caches.iter().filter(|c| c.kind == "loose-file") {
        if let Ok(m) = std::fs::metadata(&c.path) {
            files.push(crate::stores::FileInfo::new(c.path.clone(), &m, None));
        }
    }
    let blobs = BlobIndex::of_hub(&settings.hub_cache());
    let downloads: Vec<Download> = caches
        .iter()
        .filter(|c| c.kind == "local-dir")
        .map(|c| localdir::read(&c.path, &blobs))
        .collect();
    let mut warnings = inv.warnings.clone();
    let groups = super::inventory::duplicates(settings, files, true, &mut warnings);
    let local_bytes: u64 = caches.iter().map(|c| c.bytes).sum();
    let duplicate_bytes: u64 = groups.iter().map(|g| g.wasted_bytes).sum();
    // Every local byte that already exists elsewhere is freed by centralising.
    let local_dup: u64 = groups
        .iter()
        .map(|g| {
            let local = g
                .copies
                .iter()
                .filter(|p| caches.iter().any(|c| p.starts_with(&c.path)))
                .count() as u64;
            let all = g.copies.len() as u64;
            local.min(all - 1) * g.size
        })
        .sum();
    if args.json {
        let r = Report {
            caches: &caches,
            configs: &configs,
            local_dir_downloads: &downloads,
            local_bytes,
            duplicate_bytes,
            reclaimable_bytes: local_dup,
        };
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(Exit::Ok);
    }
    println!("Project-local caches");
    for c in &caches {
        println!(
            "  {:>10}  {:<10} {}",
            human_size(c.bytes),
            c.kind,
            show(settings, &c.path)
        );
    }
    if caches.is_empty() {
        println!("  none");
    }
    print_downloads(settings, &downloads);
    println!("\nConfigs pointing at a local cache");
    for c in &configs {
        println!(
            "  {}:{}  {}={}",
            show(settings, &c.path),
            c.line,
            c.key,
            c.value
        );
    }
    if configs.is_empty() {
        println!("  none");
    }
    println!(
        "\nBefore: {} in project-local caches",
        human_size(local_bytes)
    );
    println!(
        "After:  {} (each model stored once, centrally)",
        human_size(local_bytes.saturating_sub(local_dup))
    );
    println!("Savings: {}", human_size(local_dup));
    Ok(Exit::Ok)
}

/// Each `--local-dir` download: its repo and commit, and how much the central store holds.
pub fn print_downloads(settings: &Settings, downloads: &[Download]) {
    if downloads.is_empty() {
        return;
    }
    println!("\n--local-dir downloads (full copies outside the hub cache)");
    for d in downloads {
        let repo = d.repo.as_deref().unwrap_or("repo unknown");
        let commits: Vec<&str> = d.commits.iter().map(|c| &c[..c.len().min(12)]).collect();
        println!(
            "  {:>10}  {}  {} @ {}",
            human_size(d.bytes),
            show(settings, &d.path),
            repo,
            commits.join(", ")
        );
        let matched = d.files.iter().filter(|f| f.central.is_some()).count();
        println!(
            "              {} of {} file(s) in the central store: {} to link (`modelenv dedupe --dir {}`), {} linked, {} not there (`modelenv migrate --local-dir`)",
            matched,
            d.files.len(),
            human_size(d.in_central_bytes),
            crate::shell::quote_posix(&d.path.display().to_string()),
            human_size(d.linked_bytes),
            human_size(d.not_in_central_bytes),
        );
    }
}
