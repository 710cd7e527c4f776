//! `modelenv models rm | archive | restore`: remove a model, move one to another drive behind
//! a symlink, and bring it back. Archive and restore keep a journal, copy before they delete,
//! verify every byte, and finish an interrupted run when started again.

use crate::cmd::Exit;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::cli::{ArchiveArgs, RestoreArgs, RmArgs};
use crate::fsops::{OpView, Plan, Root, Roots, Run, Verify};
use crate::settings::Settings;
use crate::stores::{Model, StoreKind};
use crate::units::human_size;

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
    /// The plan: exactly what the command does without `--dry-run`.
    operations: &'a [OpView],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    kept: &'a [String],
}

fn root_of<'a>(roots: &'a Roots, p: &Path) -> Result<&'a Root> {
    roots.holding(p).with_context(|| {
        format!(
            "{} is not inside a model store modelenv knows; refusing to touch it",
            p.display()
        )
    })
}

/// What removing a model does, planned: the paths it frees and notes on what it keeps.
struct RmPlan {
    plan: Plan,
    removed: Vec<PathBuf>,
    freed: u64,
    kept: Vec<String>,
}

fn plan_rm(settings: &Settings, model: &Model, others: &[Model]) -> Result<RmPlan> {
    let roots = super::store_roots(settings, &[]);
    let root = root_of(&roots, &model.path)?;
    let mut plan = Plan::new();
    let mut kept = Vec::new();
    let mut freed = model.bytes;
    let mut archives = Archives::load(settings)?;
    let is_link = std::fs::symlink_metadata(&model.path).is_ok_and(|m| m.file_type().is_symlink());
    // The folder, or the link itself: a link's target is never followed.
    plan.remove_tree(root, &model.path)?;
    let mut removed = vec![model.path.clone()];
    if is_link {
        match archives.entries.iter().find(|a| a.src == model.path) {
            // An archive modelenv made (and recorded) goes with its link.
            Some(a) if std::fs::symlink_metadata(&a.dest).is_ok() => {
                let aroot =
                    Root::open(a.dest.parent().unwrap_or(Path::new("/"))).with_context(|| {
                        format!("opening the archive folder of {}", a.dest.display())
                    })?;
                plan.remove_tree(&aroot, &a.dest)?;
                removed.push(a.dest.clone());
            }
            Some(_) => {}
            None => {
                freed = 0;
                kept.push(format!(
                    "{} is a link to {}, which modelenv did not archive: only the link is removed",
                    model.path.display(),
                    std::fs::read_link(&model.path)
                        .unwrap_or_default()
                        .display()
                ));
            }
        }
    }
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
        // Checked again over the raw text of every other manifest, links followed: a manifest
        // modelenv cannot parse still keeps the blobs it names.
        let manifests = crate::stores::reach::ollama_manifests(
            &settings.ollama_models,
            &model.path,
        )
        .map_err(|e| {
            anyhow::anyhow!("the Ollama manifests cannot be read whole ({e}); nothing removed")
        })?;
        let own: Vec<&crate::stores::FileInfo> = own
            .into_iter()
            .filter(
                |f| match crate::stores::reach::ollama_user(&manifests, &f.path) {
                    Some(user) => {
                        kept.push(format!(
                            "{} is kept: {} names it too",
                            show(settings, &f.path),
                            show(settings, user)
                        ));
                        false
                    }
                    None => true,
                },
            )
            .collect();
        freed = own.iter().map(|f| f.size).sum();
        for f in own {
            plan.remove(root, &f.path)?;
            removed.push(f.path.clone());
        }
        let manifests = settings.ollama_models.join("manifests");
        for d in model.path.ancestors().skip(1) {
            if d == manifests || !d.starts_with(&manifests) {
                break;
            }
            plan.remove_empty_dir(root, d)?;
        }
    } else if model.store == StoreKind::HfHub {
        // A blob of this repo that another repo's snapshot reaches through a link stays
        // needed: the repo is not removed.
        if !is_link {
            let mine: std::collections::HashSet<PathBuf> =
                std::fs::read_dir(model.path.join("snapshots"))
                    .map(|rd| rd.flatten().map(|e| e.path()).collect())
                    .unwrap_or_default();
            let others = crate::stores::reach::hub_snapshots(&settings.hub_cache(), &mine)
                .map_err(|e| {
                    anyhow::anyhow!("the hub cache cannot be read whole ({e}); nothing removed")
                })?;
            for e in walkdir::WalkDir::new(model.path.join("blobs"))
                .into_iter()
                .flatten()
            {
                if crate::stores::reach::identity(e.path()).is_some_and(|i| others.contains(&i))
                    && e.file_type().is_file()
                {
                    bail!(
                        "{} is still used by another repo's snapshot (a link into this repo); nothing removed",
                        show(settings, e.path())
                    );
                }
            }
        }
        let locks = settings
            .hub_cache()
            .join(".locks")
            .join(model.path.file_name().unwrap_or_default());
        if locks.exists() {
            plan.remove_tree(root, &locks)?;
            removed.push(locks);
        }
    }
    let before = archives.entries.len();
    archives.entries.retain(|a| a.src != model.path);
    if archives.entries.len() != before {
        archives.plan_save(settings, &mut plan)?;
    }
    Ok(RmPlan {
        plan,
        removed,
        freed,
        kept,
    })
}

pub fn rm(settings: &Settings, rm: &RmArgs) -> Result<Exit> {
    let args = &rm.target;
    let _lock = if args.dry_run {
        None
    } else {
        Some(super::begin_changes(settings, "models rm")?)
    };
    let (model, others) = match find(settings, &args.model, args.kind.as_deref()) {
        Ok(found) => found,
        Err(_)
            if _lock
                .as_ref()
                .is_some_and(|c| c.resumed.iter().any(|r| r == "models rm")) =>
        {
            println!("{} removed (an interrupted rm was finished)", args.model);
            return Ok(Exit::Ok);
        }
        Err(e) => return Err(e),
    };
    let p = plan_rm(settings, &model, &others)?;
    let qualified = model.qualified_id();
    let mut code = Exit::Ok;
    if !args.dry_run {
        if !confirm(
            &format!("remove {qualified} ({})?", human_size(p.freed)),
            rm.yes,
        )? {
            eprintln!("nothing removed");
            return Ok(Exit::Ok);
        }
        let outcome = Run::new(&settings.state_dir, "models rm", settings.test_kill_after)
            .execute(&p.plan)?;
        for problem in outcome.problems() {
            crate::ui::warn(problem);
            code = Exit::Problems;
        }
    }
    for k in &p.kept {
        crate::ui::note(k);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&RmReport {
                model: qualified,
                removed: &p.removed,
                freed_bytes: p.freed,
                dry_run: args.dry_run,
                operations: &p.plan.views(),
                kept: &p.kept,
            })?
        );
    } else {
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        for path in &p.removed {
            println!("{verb} {}", show(settings, path));
        }
        println!(
            "{} {qualified}, {} {}",
            if args.dry_run {
                "would remove"
            } else {
                "removed"
            },
            if args.dry_run { "freeing" } else { "freed" },
            human_size(p.freed)
        );
        if args.dry_run {
            crate::ui::hint(format!(
                "dry run: nothing was changed; `modelenv models rm {}` does exactly this",
                args.model
            ));
        }
    }
    Ok(code)
}

/// The folders models were archived to (each archived model's folder).
pub fn archive_folders(settings: &Settings) -> Result<Vec<PathBuf>> {
    Ok(Archives::load(settings)?
        .entries
        .into_iter()
        .map(|a| a.dest)
        .collect())
}

/// What is archived where. An entry counts only while its source is a link to it.
#[derive(Default, Serialize, Deserialize)]
struct Archives {
    #[serde(default)]
    entries: Vec<Archived>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Archived {
    model: String,
    src: PathBuf,
    dest: PathBuf,
}

impl Archives {
    fn path(settings: &Settings) -> PathBuf {
        settings.state_dir.join("archives.json")
    }
    fn load(settings: &Settings) -> Result<Archives> {
        crate::fsutil::check_owned(&settings.state_dir)?;
        crate::fsutil::check_owned(&Self::path(settings))?;
        match crate::fsutil::read_optional(&Self::path(settings))? {
            Some(t) => serde_json::from_str(&t).context("parsing archives.json"),
            None => Ok(Archives::default()),
        }
    }
    /// Plans writing the record (in the state folder, created if missing).
    fn plan_save(&self, settings: &Settings, plan: &mut Plan) -> Result<()> {
        let root = Root::open(
            settings
                .state_dir
                .ancestors()
                .find(|a| a.is_dir())
                .unwrap_or(Path::new("/")),
        )?;
        plan.write(
            &root,
            &Self::path(settings),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )?;
        Ok(())
    }
}

#[derive(Serialize)]
struct MoveReport {
    model: String,
    from: PathBuf,
    to: PathBuf,
    bytes: u64,
    dry_run: bool,
    operations: Vec<OpView>,
}

/// The nearest folder of `p` that exists.
fn existing(p: &Path) -> &Path {
    p.ancestors().find(|a| a.is_dir()).unwrap_or(Path::new("/"))
}

pub fn archive(settings: &Settings, archive_args: &ArchiveArgs) -> Result<Exit> {
    let args = &archive_args.target;
    let _lock = if args.dry_run {
        None
    } else {
        Some(super::begin_changes(settings, "models archive")?)
    };
    let (store, _) = parse_id(&args.model)?;
    if store == StoreKind::Ollama {
        bail!(
            "Ollama models cannot be archived one by one: a manifest and its blobs must stay together in one store, and the server deletes blobs it does not know. Move the whole store instead (OLLAMA_MODELS), see the README"
        );
    }
    let (model, _) = find(settings, &args.model, args.kind.as_deref())?;
    let to_dir = settings.absolute(&archive_args.to);
    let dest = to_dir.join(model.path.file_name().context("model path has no name")?);
    if std::fs::symlink_metadata(&model.path).is_ok_and(|m| m.file_type().is_symlink()) {
        let target = std::fs::read_link(&model.path)
            .with_context(|| format!("reading the link {}", model.path.display()))?;
        if target == dest {
            println!(
                "{} is already archived to {}",
                args.model,
                show(settings, &dest)
            );
            return Ok(Exit::Ok);
        }
        bail!("{} is already archived to {}", args.model, target.display());
    }
    if std::fs::symlink_metadata(&dest).is_ok() {
        bail!("{} already exists; choose another --to", dest.display());
    }
    let roots = super::store_roots(settings, &[]);
    let root = root_of(&roots, &model.path)?;
    if let Some(store) = roots.holding(&dest) {
        bail!(
            "{} is inside the model store {}: an archive there could be deleted with another model; choose a folder outside the stores",
            to_dir.display(),
            store.path().display()
        );
    }
    if Root::open(&model.path).is_ok_and(|m| m.beneath(&dest).is_some()) {
        bail!(
            "{} is inside the model itself; choose another --to",
            to_dir.display()
        );
    }
    let to_root = Root::open(existing(&to_dir))?;
    let mut archives = Archives::load(settings)?;
    archives.entries.retain(|a| a.src != model.path);
    archives.entries.push(Archived {
        model: model.qualified_id(),
        src: model.path.clone(),
        dest: dest.clone(),
    });
    // The record first, then the move, then the link that keeps every reader working.
    let mut plan = Plan::new();
    archives.plan_save(settings, &mut plan)?;
    plan.move_to(root, &model.path, &to_root, &dest, Verify::Source)?;
    plan.symlink_later(root, &model.path, &dest)?;
    let report = MoveReport {
        model: model.qualified_id(),
        from: model.path.clone(),
        to: dest.clone(),
        bytes: model.bytes,
        dry_run: args.dry_run,
        operations: plan.views(),
    };
    let code = execute(settings, "models archive", &plan, args.dry_run)?;
    print_move(settings, &report, args.json, "archived")?;
    Ok(code)
}

pub fn restore(settings: &Settings, restore_args: &RestoreArgs) -> Result<Exit> {
    let args = &restore_args.target;
    let _lock = if args.dry_run {
        None
    } else {
        Some(super::begin_changes(settings, "models restore")?)
    };
    let (store, id) = parse_id(&args.model)?;
    let mut archives = Archives::load(settings)?;
    let finished_now = _lock
        .as_ref()
        .is_some_and(|c| c.resumed.iter().any(|r| r == "models restore"));
    if finished_now
        && !archives
            .entries
            .iter()
            .any(|a| a.model == format!("{}:{id}", store.name()))
    {
        println!(
            "{} restored (an interrupted restore was finished)",
            args.model
        );
        return Ok(Exit::Ok);
    }
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
    let roots = super::store_roots(settings, &[]);
    let root = root_of(&roots, &entry.src)?;
    let from_root = Root::open(existing(entry.dest.parent().unwrap_or(Path::new("/"))))?;
    archives.entries.retain(|a| a.src != entry.src);
    let mut plan = Plan::new();
    let is_link = std::fs::read_link(&entry.src).ok();
    if is_link.as_deref() == Some(entry.dest.as_path()) {
        // Copied back and verified beside the link first, so a refusal changes nothing.
        let staged = crate::fsops::sibling_path(&entry.src, "restore");
        plan.move_to(&from_root, &entry.dest, root, &staged, Verify::Source)?;
        plan.remove(root, &entry.src)?;
        plan.move_later(root, &staged, root, &entry.src)?;
    } else if is_link.is_none() && std::fs::symlink_metadata(&entry.src).is_ok() {
        // The store has the model again (downloaded anew): the archive goes only if every
        // file in it is in the store byte for byte, both copies hashed again when it goes.
        plan_drop_identical_archive(&mut plan, &from_root, &entry.dest, root, &entry.src)?;
    } else {
        bail!(
            "{} is not a link to its archive {} any more; nothing was changed",
            entry.src.display(),
            entry.dest.display()
        );
    }
    archives.plan_save(settings, &mut plan)?;
    let report = MoveReport {
        model: entry.model.clone(),
        from: entry.dest.clone(),
        to: entry.src.clone(),
        bytes: crate::scan_size(&entry.dest),
        dry_run: args.dry_run,
        operations: plan.views(),
    };
    let code = execute(settings, "models restore", &plan, args.dry_run)?;
    print_move(settings, &report, args.json, "restored")?;
    Ok(code)
}

/// Plans removing an archive whose every file (and link) the store already holds identically:
/// a check of both copies per file, then the archive. Refuses, naming both paths, otherwise.
fn plan_drop_identical_archive(
    plan: &mut Plan,
    archive_root: &Root,
    archive: &Path,
    store_root: &Root,
    in_store: &Path,
) -> Result<()> {
    let differs = |rel: &Path| {
        anyhow::anyhow!(
            "{} is back in the store but differs from its archive {} ({}); nothing was changed. Remove one of them yourself",
            in_store.display(),
            archive.display(),
            rel.display()
        )
    };
    for e in walkdir::WalkDir::new(archive).follow_links(false) {
        let e = e?;
        let rel = e.path().strip_prefix(archive).unwrap_or(e.path());
        let other = if rel.as_os_str().is_empty() {
            in_store.to_path_buf()
        } else {
            in_store.join(rel)
        };
        let ft = e.file_type();
        if ft.is_symlink() {
            if std::fs::read_link(e.path())? != std::fs::read_link(&other).unwrap_or_default() {
                return Err(differs(rel));
            }
        } else if ft.is_file() {
            let h = crate::fsops::hash::sha256_file(e.path())?;
            if std::fs::symlink_metadata(&other).map(|m| m.is_file()).ok() != Some(true)
                || crate::fsops::hash::sha256_file(&other)? != h
            {
                return Err(differs(rel));
            }
            plan.check(archive_root, e.path(), Verify::Sha256(h.clone()))?;
            plan.check(store_root, &other, Verify::Sha256(h))?;
        }
    }
    plan.remove_tree(archive_root, archive)?;
    Ok(())
}

fn execute(settings: &Settings, command: &str, plan: &Plan, dry_run: bool) -> Result<Exit> {
    if dry_run {
        return Ok(Exit::Ok);
    }
    let outcome = Run::new(&settings.state_dir, command, settings.test_kill_after).execute(plan)?;
    if outcome.complete() {
        return Ok(Exit::Ok);
    }
    bail!(
        "`modelenv {command}` stopped; what did not happen:\n{}",
        outcome.problems().join("\n")
    )
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
