//! `modelenv models rm | archive | restore`: remove a model, move one to another drive behind
//! a symlink, and bring it back. Archive and restore keep a journal, copy before they delete,
//! verify every byte, and finish an interrupted run when started again.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::cli::{ArchiveArgs, RestoreArgs, RmArgs};
use crate::settings::Settings;
use crate::stores::dupes::sha256_file;
use crate::stores::{Model, StoreKind};
use crate::units::human_size;

use super::prune::remove_path;
use super::{inventory, show};

/// Parses `store:id`.
fn parse_id(s: &str) -> Result<(StoreKind, &str)> {
    let (store, id) = s.split_once(':').with_context(|| {
        format!("{s:?}: expected STORE:ID, like hf-hub:org/name or ollama:llama3.2:latest")
    })?;
    let kind = match store {
        "hf-hub" => StoreKind::HfHub,
        "ollama" => StoreKind::Ollama,
        "custom" => StoreKind::Custom,
        "lmstudio" => StoreKind::Lmstudio,
        other => bail!("unknown store `{other}` in {s:?}; use hf-hub, ollama, custom or lmstudio"),
    };
    Ok((kind, id))
}

/// The one model `spec` names.
fn find(settings: &Settings, spec: &str, kind: Option<&str>) -> Result<(Model, Vec<Model>)> {
    let (store, id) = parse_id(spec)?;
    let id = if store == StoreKind::Ollama && !id.contains(':') {
        format!("{id}:latest")
    } else {
        id.to_owned()
    };
    let inv = inventory::read(settings, &[], &[store]);
    let mut matches: Vec<&Model> = inv
        .models
        .iter()
        .filter(|m| m.id == id && kind.is_none_or(|k| m.kind == k))
        .collect();
    match matches.len() {
        0 => bail!(
            "no model {spec} found (see `modelenv models ls --filter store={}`)",
            store.name()
        ),
        1 => {
            let m = matches.remove(0).clone();
            let others = inv
                .models
                .into_iter()
                .filter(|o| o.path != m.path)
                .collect();
            Ok((m, others))
        }
        _ => bail!(
            "{spec} exists as {}; pass --type",
            matches
                .iter()
                .map(|m| m.kind.as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    }
}

fn confirm(question: &str, yes: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to delete without confirmation: stdin is not a terminal; pass --yes");
    }
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

#[derive(Serialize)]
struct RmReport<'a> {
    model: String,
    removed: &'a [PathBuf],
    freed_bytes: u64,
    dry_run: bool,
}

pub fn rm(settings: &Settings, rm: &RmArgs) -> Result<ExitCode> {
    let args = &rm.target;
    let (model, others) = find(settings, &args.model, args.kind.as_deref())?;
    let mut paths: Vec<PathBuf> = vec![model.path.clone()];
    let mut freed = model.bytes;
    if model.store == StoreKind::Ollama {
        // Only the blobs no other manifest uses; shared config and template layers stay.
        let used: std::collections::HashSet<&Path> = others
            .iter()
            .flat_map(|o| o.contents.iter().map(|f| f.path.as_path()))
            .collect();
        let own: Vec<&crate::stores::FileInfo> = model
            .contents
            .iter()
            .filter(|f| !used.contains(f.path.as_path()))
            .collect();
        freed = own.iter().map(|f| f.size).sum();
        paths.extend(own.iter().map(|f| f.path.clone()));
    } else if model.store == StoreKind::HfHub {
        if let Ok(target) = std::fs::read_link(&model.path) {
            paths.push(if target.is_absolute() {
                target
            } else {
                model.path.parent().unwrap_or(Path::new("/")).join(target)
            });
        }
        let locks = settings
            .hub_cache()
            .join(".locks")
            .join(model.path.file_name().unwrap_or_default());
        if locks.exists() {
            paths.push(locks);
        }
    }
    let qualified = model.qualified_id();
    if !args.dry_run {
        if !confirm(
            &format!("remove {qualified} ({})?", human_size(freed)),
            rm.yes,
        )? {
            eprintln!("nothing removed");
            return Ok(ExitCode::from(1));
        }
        for p in &paths {
            remove_path(p)?;
        }
        if model.store == StoreKind::Ollama {
            prune_empty_parents(&model.path, &settings.ollama_models.join("manifests"));
        }
        let mut archives = Archives::load(settings)?;
        archives.entries.retain(|a| a.src != model.path);
        archives.save(settings)?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&RmReport {
                model: qualified,
                removed: &paths,
                freed_bytes: freed,
                dry_run: args.dry_run
            })?
        );
    } else {
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        for p in &paths {
            println!("{verb} {}", show(settings, p));
        }
        println!(
            "{} {qualified}, {}",
            if args.dry_run { "would free" } else { "freed" },
            human_size(freed)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn prune_empty_parents(file: &Path, stop: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == stop || !d.starts_with(stop) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// What is archived where, and an operation in progress.
#[derive(Default, Serialize, Deserialize)]
struct Archives {
    #[serde(default)]
    entries: Vec<Archived>,
    #[serde(default)]
    pending: Option<Pending>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Archived {
    model: String,
    src: PathBuf,
    dest: PathBuf,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
struct Pending {
    op: String,
    model: String,
    src: PathBuf,
    dest: PathBuf,
}

impl Archives {
    fn path(settings: &Settings) -> PathBuf {
        settings.state_dir.join("archives.json")
    }
    fn load(settings: &Settings) -> Result<Archives> {
        match crate::fsutil::read_optional(&Self::path(settings))? {
            Some(t) => serde_json::from_str(&t).context("parsing archives.json"),
            None => Ok(Archives::default()),
        }
    }
    fn save(&self, settings: &Settings) -> Result<()> {
        crate::fsutil::write_atomic(
            &Self::path(settings),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )
    }
}

fn partial(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".modelenv-partial");
    PathBuf::from(s)
}

fn old(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".modelenv-old");
    PathBuf::from(s)
}

/// Copies a tree: folders, files (synced) and symlinks as symlinks.
fn copy_tree(src: &Path, dest: &Path) -> Result<u64> {
    let mut bytes = 0;
    for e in walkdir::WalkDir::new(src).follow_links(false) {
        let e = e?;
        let rel = e.path().strip_prefix(src).unwrap_or(e.path());
        let to = dest.join(rel);
        let ft = e.file_type();
        if ft.is_dir() {
            std::fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path())?, &to)
                .with_context(|| format!("linking {}", to.display()))?;
        } else {
            bytes += std::fs::copy(e.path(), &to)
                .with_context(|| format!("copying {} to {}", e.path().display(), to.display()))?;
            std::fs::File::open(&to)?.sync_all()?;
        }
    }
    Ok(bytes)
}

/// Every file of `a` is in `b` with the same bytes, every link with the same target.
fn verify_tree(a: &Path, b: &Path) -> Result<()> {
    for e in walkdir::WalkDir::new(a).follow_links(false) {
        let e = e?;
        let rel = e.path().strip_prefix(a).unwrap_or(e.path());
        let other = b.join(rel);
        let ft = e.file_type();
        if ft.is_symlink() {
            if std::fs::read_link(e.path())? != std::fs::read_link(&other).unwrap_or_default() {
                bail!(
                    "verification failed: link {} differs in the copy",
                    rel.display()
                );
            }
        } else if ft.is_file() && sha256_file(e.path())? != sha256_file(&other).unwrap_or_default()
        {
            bail!("verification failed: {} differs in the copy", rel.display());
        }
    }
    Ok(())
}

/// Moves `from` to `to` through a verified copy (`to` must not exist yet).
fn move_verified(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    // Same filesystem: one atomic rename.
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    let tmp = partial(to);
    remove_path(&tmp)?;
    copy_tree(from, &tmp)?;
    verify_tree(from, &tmp)?;
    std::fs::rename(&tmp, to)
        .with_context(|| format!("renaming {} to {}", tmp.display(), to.display()))?;
    Ok(())
}

#[derive(Serialize)]
struct MoveReport {
    model: String,
    from: PathBuf,
    to: PathBuf,
    bytes: u64,
    dry_run: bool,
}

pub fn archive(settings: &Settings, archive_args: &ArchiveArgs) -> Result<ExitCode> {
    let args = &archive_args.target;
    let mut archives = Archives::load(settings)?;
    if let Some(p) = archives.pending.clone() {
        finish_pending(settings, &mut archives, &p)?;
    }
    let (store, _) = parse_id(&args.model)?;
    if store == StoreKind::Ollama {
        bail!(
            "Ollama models cannot be archived one by one: a manifest and its blobs must stay together in one store, and the server deletes blobs it does not know. Move the whole store instead (OLLAMA_MODELS), see the README"
        );
    }
    let (model, _) = find(settings, &args.model, args.kind.as_deref())?;
    if std::fs::symlink_metadata(&model.path).is_ok_and(|m| m.file_type().is_symlink()) {
        bail!(
            "{} is already archived to {}",
            args.model,
            std::fs::read_link(&model.path)?.display()
        );
    }
    let to_dir = if archive_args.to.is_absolute() {
        archive_args.to.clone()
    } else {
        settings.cwd.join(&archive_args.to)
    };
    let dest = to_dir.join(model.path.file_name().context("model path has no name")?);
    if dest.exists() {
        bail!("{} already exists; choose another --to", dest.display());
    }
    let report = MoveReport {
        model: model.qualified_id(),
        from: model.path.clone(),
        to: dest.clone(),
        bytes: model.bytes,
        dry_run: args.dry_run,
    };
    if !args.dry_run {
        let pending = Pending {
            op: "archive".into(),
            model: report.model.clone(),
            src: model.path.clone(),
            dest: dest.clone(),
        };
        archives.pending = Some(pending.clone());
        archives.save(settings)?;
        finish_pending(settings, &mut archives, &pending)?;
    }
    print_move(settings, &report, args.json, "archived")?;
    Ok(ExitCode::SUCCESS)
}

pub fn restore(settings: &Settings, restore_args: &RestoreArgs) -> Result<ExitCode> {
    let args = &restore_args.target;
    let mut archives = Archives::load(settings)?;
    if let Some(p) = archives.pending.clone() {
        finish_pending(settings, &mut archives, &p)?;
    }
    let (store, id) = parse_id(&args.model)?;
    let entry = archives
        .entries
        .iter()
        .find(|a| {
            a.model == format!("{}:{id}", store.name())
                && args.kind.as_deref().is_none_or(|k| {
                    a.src
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{k}s--")))
                })
        })
        .cloned()
        .with_context(|| {
            format!(
                "{} is not archived (modelenv has no record of it)",
                args.model
            )
        })?;
    if !entry.dest.exists() {
        bail!(
            "the archive {} is missing: plug in the drive that holds it",
            entry.dest.display()
        );
    }
    let bytes = crate::scan_size(&entry.dest);
    let report = MoveReport {
        model: entry.model.clone(),
        from: entry.dest.clone(),
        to: entry.src.clone(),
        bytes,
        dry_run: args.dry_run,
    };
    if !args.dry_run {
        let pending = Pending {
            op: "restore".into(),
            model: entry.model.clone(),
            src: entry.src.clone(),
            dest: entry.dest.clone(),
        };
        archives.pending = Some(pending.clone());
        archives.save(settings)?;
        finish_pending(settings, &mut archives, &pending)?;
    }
    print_move(settings, &report, args.json, "restored")?;
    Ok(ExitCode::SUCCESS)
}

fn print_move(settings: &Settings, r: &MoveReport, json: bool, verb: &str) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        let verb = if r.dry_run {
            format!("would be {verb}")
        } else {
            verb.to_owned()
        };
        println!(
            "{} ({}) {verb}: {} -> {}",
            r.model,
            human_size(r.bytes),
            show(settings, &r.from),
            show(settings, &r.to)
        );
    }
    Ok(())
}

/// Carries an archive or restore to its end from whatever step it stopped at; every step is
/// idempotent and nothing is deleted before its copy is verified in place.
fn finish_pending(settings: &Settings, archives: &mut Archives, p: &Pending) -> Result<()> {
    let is_link = |x: &Path| std::fs::symlink_metadata(x).is_ok_and(|m| m.file_type().is_symlink());
    if p.op == "archive" {
        if !p.dest.exists() {
            // Not moved yet (or a copy was interrupted): the source is intact, move it.
            let from = if p.src.exists() && !is_link(&p.src) {
                p.src.clone()
            } else {
                old(&p.src)
            };
            move_verified(&from, &p.dest)?;
        }
        if !is_link(&p.src) {
            if p.src.exists() {
                std::fs::rename(&p.src, old(&p.src))?;
            }
            std::os::unix::fs::symlink(&p.dest, &p.src)
                .with_context(|| format!("linking {}", p.src.display()))?;
        }
        remove_path(&old(&p.src))?;
        archives.entries.retain(|a| a.src != p.src);
        archives.entries.push(Archived {
            model: p.model.clone(),
            src: p.src.clone(),
            dest: p.dest.clone(),
        });
    } else {
        if is_link(&p.src) || !p.src.exists() {
            let staged = partial(&p.src);
            if !staged.exists() || verify_tree(&p.dest, &staged).is_err() {
                remove_path(&staged)?;
                copy_tree(&p.dest, &staged)?;
                verify_tree(&p.dest, &staged)?;
            }
            if is_link(&p.src) {
                std::fs::remove_file(&p.src)?;
            }
            std::fs::rename(&staged, &p.src)?;
        }
        remove_path(&p.dest)?;
        archives.entries.retain(|a| a.src != p.src);
    }
    archives.pending = None;
    archives.save(settings)
}
