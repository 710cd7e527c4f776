//! `modelenv prune`: detached HF revisions with the blobs only they use, unfinished
//! downloads, and blobs nothing references. A dry run lists them; `--apply` deletes exactly
//! those, snapshot before blobs, so an interruption leaves only orphans the next run frees.

use crate::cmd::Exit;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::cli::PruneArgs;
use crate::fsops::{OpView, Outcome, Plan, Refusal, Root, Roots, Run};
use crate::settings::Settings;
use crate::stores::{Reclaim, ReclaimKind, StoreKind, Time};
use crate::units::{human_size, parse_duration};

use super::{inventory, show};

use crate::stores::downloads::{GRACE_SECS, lock_held};

/// Why an item the stores offer is kept this time, if it is.
fn keep_reason(
    settings: &Settings,
    r: &Reclaim,
    now: f64,
    min_age: Option<f64>,
    args: &PruneArgs,
) -> Option<String> {
    // Every file it would delete has another name (a hard link dedupe or `migrate
    // --local-dir` made): deleting frees nothing and only takes the central copy away.
    let has_other_names = |p: &std::path::Path| {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file() && m.nlink() > 1)
    };
    let linked = match r.kind {
        ReclaimKind::Orphan => has_other_names(&r.path),
        ReclaimKind::Detached | ReclaimKind::Unreferenced => {
            !r.blobs.is_empty() && r.blobs.iter().all(|b| has_other_names(b))
        }
        ReclaimKind::Incomplete => false,
    };
    if linked {
        return Some(
            "its files have other names (hard links to a local folder or another store): deleting would free nothing".into(),
        );
    }
    if r.kind == ReclaimKind::Unreferenced && !args.include_unreferenced {
        return Some(format!(
            "a revision of {}, which has no ref (downloaded by commit); --include-unreferenced frees it",
            r.model.as_deref().unwrap_or("?")
        ));
    }
    // A file's age counts from its last change of content (mtime) or of its name (ctime: a
    // copy restored by rsync or tar keeps an old mtime but arrives with a new ctime).
    let ctime = (!settings.test_mtime_age)
        .then(|| std::fs::symlink_metadata(&r.path).ok())
        .flatten()
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.ctime() as f64
        });
    let changed = match (r.mtime, ctime) {
        (Some(m), Some(c)) => Some(m.max(c)),
        (m, c) => m.or(c),
    };
    let age = changed.map(|m| now - m).unwrap_or(f64::MAX);
    let young = matches!(r.kind, ReclaimKind::Incomplete | ReclaimKind::Orphan) && age < GRACE_SECS;
    if young {
        return Some(
            "changed less than an hour ago (a download or migrate may be using it)".into(),
        );
    }
    if let Some(manifest) = shared_payload_manifest(settings, r) {
        // huggingface_hub's own rule: a payload without a readable `.refs` manifest is never
        // collected, and one whose lock is held is being published or linked now.
        if !std::fs::symlink_metadata(&manifest).is_ok_and(|m| m.is_file()) {
            return Some(
                "a shared payload without its .refs manifest (huggingface_hub keeps those)".into(),
            );
        }
        if lock_held(
            &r.path
                .with_file_name(format!("{}.lock", file_name(&r.path))),
        ) {
            return Some("its shared-store lock is held".into());
        }
    }
    if r.kind == ReclaimKind::Incomplete
        && r.store == StoreKind::HfHub
        && crate::stores::downloads::hf_lock_held(&settings.hub_cache(), &r.path)
    {
        return Some("its download lock is held: a download is writing it".into());
    }
    if min_age.is_some_and(|min| age < min) {
        return Some("newer than --older-than".into());
    }
    None
}

/// Settles what is freed: an item is kept when it cannot be planned (a link out of its store),
/// and a blob is kept when a reader of the store still reaches it, checked over the whole store
/// (every snapshot of every repo that stays, every Ollama manifest): the per-repo view the items
/// come from cannot see a link from another repo or a manifest modelenv cannot parse. Keeping
/// one revision can make its blobs reachable again, so this repeats until nothing changes. A
/// store that cannot be read whole keeps everything.
fn settle(
    settings: &Settings,
    roots: &Roots,
    mut items: Vec<Reclaim>,
    kept: &mut Vec<String>,
) -> Vec<Reclaim> {
    use crate::stores::reach;
    let manifests = reach::ollama_manifests(&settings.ollama_models, Path::new(""));
    let mut keep =
        |r: &Reclaim, why: String| kept.push(format!("{}: {why}", show(settings, &r.path)));
    loop {
        let before = items.len() + items.iter().map(|r| r.blobs.len()).sum::<usize>();
        items.retain(|r| match plan_item(settings, roots, r) {
            Ok(_) => true,
            Err(e) => {
                keep(r, e.to_string());
                false
            }
        });
        let removed: std::collections::HashSet<PathBuf> = items
            .iter()
            .filter(|r| matches!(r.kind, ReclaimKind::Detached | ReclaimKind::Unreferenced))
            .map(|r| r.path.clone())
            .collect();
        let hub = reach::hub_snapshots(&settings.hub_cache(), &removed);
        let reached = |f: &Path| match &hub {
            Ok(set) => reach::identity(f).is_some_and(|i| set.contains(&i)),
            Err(_) => true,
        };
        items.retain_mut(|r| {
            let why = match r.store {
                StoreKind::HfHub => match &hub {
                    Err(e) => Some(format!("the hub cache cannot be read whole ({e})")),
                    Ok(_) if r.blobs.is_empty() => {
                        reached(&r.path).then(|| "still reached by a snapshot".to_owned())
                    }
                    Ok(_) => {
                        // A revision goes; the blobs another snapshot still reaches stay.
                        let (stay, go): (Vec<PathBuf>, Vec<PathBuf>) =
                            r.blobs.drain(..).partition(|b| reached(b));
                        for b in &stay {
                            keep(
                                r,
                                format!("{} stays: another snapshot reaches it", show(settings, b)),
                            );
                            r.bytes = r
                                .bytes
                                .saturating_sub(std::fs::metadata(b).map(|m| m.len()).unwrap_or(0));
                        }
                        r.blobs = go;
                        None
                    }
                },
                StoreKind::Ollama => match &manifests {
                    Err(e) => Some(format!("the Ollama manifests cannot be read whole ({e})")),
                    Ok(m) => std::iter::once(&r.path).chain(&r.blobs).find_map(|f| {
                        reach::ollama_user(m, f)
                            .map(|u| format!("manifest {} names it", show(settings, u)))
                    }),
                },
                _ => None,
            };
            match why {
                Some(why) => {
                    keep(r, why);
                    false
                }
                None => true,
            }
        });
        let after = items.len() + items.iter().map(|r| r.blobs.len()).sum::<usize>();
        if after == before {
            return items;
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// For a payload of huggingface_hub's shared blob store (`<hub>/blobs/<2 hex>/<xet hash>`),
/// its `<xet hash>.refs` manifest, which goes with it.
fn shared_payload_manifest(settings: &Settings, r: &Reclaim) -> Option<PathBuf> {
    let store = settings.hub_cache().join("blobs");
    let in_store = r.kind == ReclaimKind::Orphan
        && r.path.parent().and_then(Path::parent) == Some(store.as_path())
        && crate::stores::hub::is_shared_store(&store);
    in_store.then(|| {
        r.path
            .with_file_name(format!("{}.refs", file_name(&r.path)))
    })
}

#[derive(Serialize)]
struct Report<'a> {
    items: &'a [Reclaim],
    reclaimable_bytes: u64,
    applied: bool,
    freed_bytes: u64,
    warnings: &'a [String],
    /// What the stores offered but prune keeps this time, each with the reason (a download
    /// in progress, a repo with no ref, a blob another snapshot reaches).
    kept: &'a [String],
    /// The plan: exactly what `--apply` does.
    operations: &'a [OpView],
    /// With `--apply`: what happened to each operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a Outcome>,
}

pub fn run(settings: &Settings, args: &PruneArgs) -> Result<Exit> {
    let min_age = args
        .older_than
        .as_deref()
        .map(parse_duration)
        .transpose()?
        .map(|s| s as f64);
    // The lock (and whatever an interrupted run left) comes before the plan is made.
    let _changes = if args.apply {
        Some(super::begin_changes(settings, "prune")?)
    } else {
        None
    };
    let inv = inventory::read(settings, &[], &[StoreKind::HfHub, StoreKind::Ollama]);
    let now = Time::now();
    let mut kept: Vec<String> = Vec::new();
    let items: Vec<Reclaim> = inv
        .reclaim
        .into_iter()
        .filter(|r| match keep_reason(settings, r, now, min_age, args) {
            Some(why) => {
                kept.push(format!("{}: {why}", show(settings, &r.path)));
                false
            }
            None => true,
        })
        .collect();
    let roots = Roots::new([settings.hub_cache(), settings.ollama_models.clone()]);
    let items = settle(settings, &roots, items, &mut kept);
    // The plan: each item a group, its snapshot before its blobs, so a blob is never deleted
    // while a link still points at it, and a refused snapshot keeps its blobs.
    let mut plan = Plan::new();
    let mut warnings = inv.warnings.clone();
    for k in &kept {
        crate::ui::note(format!("kept {k}"));
    }
    let mut planned: Vec<(u32, Reclaim)> = Vec::new();
    for r in items {
        match plan_item(settings, &roots, &r) {
            Ok(item) => planned.push((plan.push_group(item), r)),
            Err(e) => warnings.push(format!("{e}; kept")),
        }
    }
    let (groups, items): (Vec<u32>, Vec<Reclaim>) = planned.into_iter().unzip();
    let total: u64 = items.iter().map(|r| r.bytes).sum();
    let operations = plan.views();
    let mut freed = 0;
    let mut outcome = None;
    if args.apply {
        let o = Run::new(&settings.state_dir, "prune", settings.test_kill_after).execute(&plan)?;
        for (g, r) in groups.iter().zip(&items) {
            if o.group_ok(*g) {
                freed += r.bytes;
            }
        }
        warnings.extend(o.problems());
        outcome = Some(o);
    }
    if args.json {
        let report = Report {
            items: &items,
            reclaimable_bytes: total,
            applied: args.apply,
            freed_bytes: freed,
            warnings: &warnings,
            kept: &kept,
            operations: &operations,
            outcome: outcome.as_ref(),
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(exit(&warnings, outcome.as_ref()));
    }
    for w in &warnings {
        crate::ui::warn(w);
    }
    if items.is_empty() {
        println!("nothing to prune");
        return Ok(Exit::Ok);
    }
    for r in &items {
        let what = match r.kind {
            ReclaimKind::Detached => format!(
                "detached revision of {} ({} blob(s) only it uses)",
                r.model.as_deref().unwrap_or("?"),
                r.blobs.len()
            ),
            ReclaimKind::Unreferenced => format!(
                "revision of {}, which has no ref ({} blob(s) only it uses)",
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
            "{} in {} item(s) can be freed",
            human_size(total),
            items.len()
        );
        crate::ui::hint(
            "dry run: nothing was changed; `modelenv prune --apply` frees exactly this",
        );
    }
    Ok(exit(&warnings, outcome.as_ref()))
}

/// 1 when an operation of the plan did not happen.
fn exit(_warnings: &[String], outcome: Option<&Outcome>) -> Exit {
    match outcome {
        Some(o) if !o.complete() => Exit::Problems,
        _ => Exit::Ok,
    }
}

/// The operations that free one item, each checked against the store that holds it: a
/// snapshot or blob that is not inside its store refuses the whole item.
fn plan_item(settings: &Settings, roots: &Roots, r: &Reclaim) -> Result<Plan, Refusal> {
    let root_of = |p: &Path| {
        roots.holding(p).ok_or_else(|| Refusal::OutsideRoot {
            path: p.to_path_buf(),
            root: PathBuf::from("the model stores"),
        })
    };
    let mut plan = Plan::new();
    // An unreferenced hub blob goes only if, when its turn comes, no snapshot of its repo
    // links to it (a download may reuse a blob it finds in place).
    if r.store == StoreKind::HfHub && r.kind == ReclaimKind::Orphan && r.blobs.is_empty() {
        let repo_snapshots = r
            .path
            .parent()
            .and_then(Path::parent)
            .map(|repo| repo.join("snapshots"))
            .filter(|s| s.is_dir());
        if let Some(snaps) = repo_snapshots {
            plan.remove_unreached(root_of(&r.path)?, &r.path, &snaps)?;
            if let Some(manifest) = shared_payload_manifest(settings, r) {
                plan.remove(root_of(&manifest)?, &manifest)?;
            }
            return Ok(plan);
        }
    }
    plan.remove_tree(root_of(&r.path)?, &r.path)?;
    // A detached revision's blobs go only if they are its own repo's (a link into another
    // repo's blobs, or a blobs/ folder shared through a link, is not proof nothing needs them).
    let repo = r.path.ancestors().nth(2).and_then(|p| Root::open(p).ok());
    for b in &r.blobs {
        if let Some(repo) = &repo
            && repo.beneath(b).is_none()
        {
            return Err(Refusal::OutsideRoot {
                path: b.clone(),
                root: repo.path().to_path_buf(),
            });
        }
        plan.remove(root_of(b)?, b)?;
    }
    if let Some(manifest) = shared_payload_manifest(settings, r) {
        plan.remove(root_of(&manifest)?, &manifest)?;
    }
    Ok(plan)
}
