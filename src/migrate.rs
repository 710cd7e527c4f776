//! Moving project-local caches into the central store and pointing configs at it, losing
//! nothing. Every step checks the disk before it acts, so a run stopped at any moment (even
//! by SIGKILL) is completed by the next: blobs are renamed (same filesystem) or copied to a
//! temporary name, synced, verified against their content hash and then renamed into place; a
//! local cache is deleted only once every file in it is verified present centrally.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::configfile;
use crate::fsops::{Plan, Refusal, Root, Verify};
use crate::scan::{Cache, ConfigLine};
use crate::settings::Settings;
use crate::stores::hub::repo_type;

#[derive(Debug, Default, Serialize)]
pub struct CacheResult {
    pub path: PathBuf,
    /// `hf-layout`, `named` or `loose-file` (a single weights file).
    pub kind: &'static str,
    pub repos: usize,
    pub bytes: u64,
    /// Bytes that were not in the central store yet.
    pub moved_bytes: u64,
    /// Bytes already stored centrally (dropped from the local copy).
    pub duplicate_bytes: u64,
    pub removed: bool,
    pub problems: Vec<String>,
    /// Central files found damaged and replaced by a verified local copy (kept aside).
    pub repaired: Vec<String>,
    /// Some of what the project loads by this cache's path (a loose weights file, a folder
    /// beside the repo folders) goes to CUSTOM_MODEL_DIR, not to the hub cache.
    #[serde(skip)]
    pub to_custom: bool,
}

/// Every file and link below `dir`, links not followed.
fn walk_repo_files(dir: &Path) -> Vec<(PathBuf, fs::Metadata)> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .follow_links(false)
        .follow_root_links(false)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .filter_map(|e| Some((e.path().to_path_buf(), e.path().symlink_metadata().ok()?)))
        .collect()
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The folders a migrate plans under, by identity: the project being migrated, the central
/// hub cache and the custom model folder (each the nearest existing folder of its path, as
/// the central ones may not exist yet).
pub struct MigrateRoots {
    project: Root,
    hub: Root,
    custom: Root,
    /// Folders models were archived to: never a source.
    archives: Vec<PathBuf>,
    /// The libraries' own caches in HF_HOME, resolved: never where a user's file
    /// goes (CUSTOM_MODEL_DIR = HF_HOME and a project named `hub` would put it there).
    library: Vec<PathBuf>,
}

fn nearest(p: &Path) -> Result<Root> {
    let existing = p.ancestors().find(|a| a.is_dir()).unwrap_or(Path::new("/"));
    Root::open(existing).with_context(|| format!("opening {}", existing.display()))
}

impl MigrateRoots {
    pub fn new(settings: &Settings, project: &Path, archives: &[PathBuf]) -> Result<MigrateRoots> {
        Ok(MigrateRoots {
            archives: archives.to_vec(),
            project: Root::open(project)
                .with_context(|| format!("opening {}", project.display()))?,
            hub: nearest(&settings.hub_cache())?,
            custom: nearest(&settings.custom_model_dir)?,
            library: settings
                .library_caches()
                .iter()
                .map(|(_, d)| crate::fsutil::resolve_existing(d))
                .collect(),
        })
    }
}

/// One cache's plan being built: refusals become problems that keep the cache.
struct CachePlanner<'a> {
    roots: &'a MigrateRoots,
    plan: Plan,
    res: CacheResult,
}

impl CachePlanner<'_> {
    fn problem(&mut self, msg: impl Into<String>) {
        self.res.problems.push(msg.into());
    }

    fn ok(&mut self, r: Result<(), Refusal>) {
        if let Err(e) = r {
            self.problem(e.to_string());
        }
    }

    /// A file of the user's that goes to `dest` in CUSTOM_MODEL_DIR, unless that lies inside a
    /// library's cache (where deleting the repo, or the library's own tidying, would take it):
    /// then it stays, and its cache with it.
    fn place_user_file(&mut self, f: &Path, dest: &Path) {
        let real = crate::fsutil::resolve_existing(dest);
        if let Some(lib) = self.roots.library.iter().find(|l| real.starts_with(l)) {
            let msg = format!(
                "{} would go to {} in CUSTOM_MODEL_DIR, which lies inside the libraries' cache {}; the cache is kept (choose a CUSTOM_MODEL_DIR outside HF_HOME)",
                f.display(),
                dest.display(),
                lib.display()
            );
            self.problem(msg);
            return;
        }
        let custom = &self.roots.custom;
        self.place_file(f, custom, dest);
    }

    /// A file that must end up at `dest` (`dest_root`): moved there, or, when `dest` already
    /// holds it, both copies proven equal before the local one goes with its cache.
    fn place_file(&mut self, f: &Path, dest_root: &Root, dest: &Path) {
        let project = &self.roots.project;
        match fs::symlink_metadata(dest) {
            Err(_) => {
                let r = self
                    .plan
                    .move_to(project, f, dest_root, dest, Verify::Source);
                self.ok(r);
            }
            Ok(m) if m.len() == fs::metadata(f).map(|l| l.len()).unwrap_or(u64::MAX) => {
                match crate::fsops::planner_sha256(dest) {
                    Ok(h) => {
                        let r = self.plan.check(project, f, Verify::Sha256(h.clone()));
                        self.ok(r);
                        let r = self.plan.check(dest_root, dest, Verify::Sha256(h));
                        self.ok(r);
                    }
                    Err(e) => self.problem(format!("reading {}: {e}", dest.display())),
                }
            }
            Ok(_) => self.problem(format!(
                "{} differs from {}; both are kept",
                f.display(),
                dest.display()
            )),
        }
    }
}

/// The central location (or archive folder) `cache` is, holds or lies inside, compared by
/// identity (a central hub that is a link into a project, a project cache reached through a
/// link to the store, `..` spellings).
pub fn central_overlap(settings: &Settings, cache: &Path, archives: &[PathBuf]) -> Option<PathBuf> {
    let centrals = [
        settings.hf_home.clone(),
        settings.hub_cache(),
        settings.datasets_cache(),
        settings.custom_model_dir.clone(),
        settings.ollama_models.clone(),
        crate::stores::lmstudio_models(&settings.home),
    ]
    .into_iter()
    .chain(archives.iter().cloned());
    let cache_root = Root::open(cache).ok();
    centrals.into_iter().find(|c| {
        let Ok(central) = Root::open(c) else {
            return false;
        };
        // Where the store really is (a store that is a link into a project is there).
        let real = fs::canonicalize(c).unwrap_or_else(|_| c.clone());
        central.beneath(cache).is_some()
            || cache_root
                .as_ref()
                .is_some_and(|r| r.is(&central) || r.beneath(&real).is_some())
    })
}

/// What earlier caches of this run bring to the central store: blobs by size, refs by the
/// commit they name. A cache (or repo) that stays is taken out again.
#[derive(Clone, Default)]
pub struct Planned {
    blobs: HashMap<PathBuf, u64>,
    refs: HashMap<PathBuf, Vec<u8>>,
}

/// Plans merging one local cache into the central store, changing nothing. `planned` carries
/// the blobs earlier caches of this run move, so a model shared by several projects moves once.
pub fn plan_cache(
    settings: &Settings,
    roots: &MigrateRoots,
    repo_root: &Path,
    cache: &Cache,
    planned: &mut Planned,
) -> (CacheResult, Plan) {
    let mut p = CachePlanner {
        roots,
        plan: Plan::new(),
        res: CacheResult {
            path: cache.path.clone(),
            kind: cache.kind,
            bytes: cache.bytes,
            ..Default::default()
        },
    };
    if let Some(central) = central_overlap(settings, &cache.path, &roots.archives) {
        p.problem(format!(
            "{} is, holds or lies inside the central store {}; left alone",
            cache.path.display(),
            central.display()
        ));
        return (p.res, p.plan);
    }
    // Everything in it must be readable first: a folder found unreadable half-way through
    // would leave the cache half moved.
    if let Some(e) = walkdir::WalkDir::new(&cache.path)
        .follow_links(false)
        .into_iter()
        .find_map(Result::err)
    {
        p.problem(format!(
            "cannot read all of {}: {e}; the cache is kept",
            cache.path.display()
        ));
        return (p.res, p.plan);
    }
    let planned_before = planned.clone();
    let project = cache
        .path
        .parent()
        .unwrap_or(repo_root)
        .strip_prefix(repo_root)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    if cache.kind == "loose-file" {
        let rel = cache.path.strip_prefix(repo_root).unwrap_or(&cache.path);
        let dest = settings.custom_model_dir.join(rel);
        p.res.moved_bytes += cache.bytes;
        p.res.to_custom = true;
        p.place_user_file(&cache.path, &dest);
        if dest.exists() && p.res.problems.is_empty() {
            let r = p.plan.remove(&roots.project, &cache.path);
            p.ok(r);
        }
        return (p.res, p.plan);
    }
    let mut entries: Vec<PathBuf> = fs::read_dir(&cache.path)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for entry in entries {
        let name = name_of(&entry);
        let is_repo = name
            .split_once("--")
            .is_some_and(|(p, _)| repo_type(p).is_some())
            && fs::symlink_metadata(&entry).is_ok_and(|m| m.is_dir());
        if is_repo {
            let user_dest = settings.custom_model_dir.join(&project).join(&name);
            plan_repo(&mut p, settings, &entry, &name, &user_dest, planned);
        } else if fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink()) {
            p.problem(format!(
                "{} is a link (to {}); the cache is kept so the link and what it points to stay as they are",
                entry.display(),
                fs::read_link(&entry).unwrap_or_default().display()
            ));
        } else if !matches!(name.as_str(), ".locks" | "CACHEDIR.TAG" | "version.txt") {
            // Anything else is the user's: kept in the custom folder, under its project.
            p.res.to_custom = true;
            for (f, meta) in std::iter::once(&entry)
                .filter(|e| fs::symlink_metadata(e).is_ok_and(|m| m.is_file()))
                .map(|e| (e.clone(), fs::symlink_metadata(e).ok()))
                .chain(
                    walk_repo_files(&entry)
                        .into_iter()
                        .map(|(f, m)| (f, Some(m))),
                )
            {
                let Some(meta) = meta else {
                    continue;
                };
                if meta.file_type().is_symlink() {
                    p.problem(format!(
                        "{} is a link; the cache is kept so it stays as it is",
                        f.display()
                    ));
                    continue;
                }
                if !meta.is_file() {
                    continue;
                }
                let rel = f.strip_prefix(&cache.path).unwrap_or(&f);
                let dest = settings.custom_model_dir.join(&project).join(rel);
                p.res.moved_bytes += meta.len();
                p.place_user_file(&f, &dest);
            }
        }
    }
    if p.res.problems.is_empty() {
        let r = p
            .plan
            .remove_accounted_tree(&roots.project, &cache.path, cache_bookkeeping);
        p.ok(r);
    }
    if !p.res.problems.is_empty() {
        // A cache that stays stays whole: nothing is moved out of a folder modelenv is not
        // sure is a cache (a source folder named `huggingface`, a cache holding links). Later
        // caches must not count on what it would have brought.
        p.plan.truncate(0);
        p.res.moved_bytes = 0;
        p.res.duplicate_bytes = 0;
        *planned = planned_before;
    }
    // Every proof before the first change: a copy found wrong stops the cache untouched.
    p.plan.checks_first();
    (p.res, p.plan)
}

/// What a cache holds that is no content of its own, so nothing needs to carry it before
/// the cache goes (`rel`: a path in the cache): the cache tag and version at its top,
/// unfinished downloads, modelenv's own partial copies, and a repo folder's `refs`,
/// `.no_exist` and `trees` (merged: the central store's win). Lock files are empty, which
/// needs no exemption.
fn cache_bookkeeping(rel: &Path) -> bool {
    let names: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let Some(last) = names.last() else {
        return false;
    };
    // Inside those folders only: a file of the user's named `trees` is no bookkeeping.
    let repo_meta = names.windows(3).any(|w| {
        crate::stores::hub::is_repo_folder(w[0].as_ref())
            && matches!(w[1].as_str(), "refs" | ".no_exist" | "trees")
    });
    repo_meta
        || (names.len() == 1 && matches!(last.as_str(), "CACHEDIR.TAG" | "version.txt"))
        || last.ends_with(".incomplete")
        || last.ends_with(".modelenv-partial")
}

/// One `models--org--name` folder: blobs first (a snapshot link must never point at a blob
/// that is not there yet), then snapshots, refs and the rest of the bookkeeping.
fn plan_repo(
    p: &mut CachePlanner,
    settings: &Settings,
    entry: &Path,
    name: &str,
    user_dest: &Path,
    planned: &mut Planned,
) {
    let (plan_len, problems_before) = (p.plan.len(), p.res.problems.len());
    let planned_before = planned.clone();
    plan_repo_files(p, settings, entry, name, user_dest, planned);
    if p.res.problems.len() > problems_before {
        // A repo moves whole or not at all: no ref or snapshot centrally without its blobs.
        p.plan.truncate(plan_len);
        *planned = planned_before;
    }
}

fn is_hash_name(name: &str) -> bool {
    matches!(name.len(), 40 | 64) && name.bytes().all(|c| c.is_ascii_hexdigit())
}

/// A free name next to `p` for a damaged file kept aside.
fn aside_name(p: &Path) -> PathBuf {
    let name = name_of(p);
    (0..)
        .map(|i| match i {
            0 => p.with_file_name(format!("{name}.damaged")),
            i => p.with_file_name(format!("{name}.damaged-{i}")),
        })
        .find(|c| fs::symlink_metadata(c).is_err())
        .unwrap_or_else(|| p.with_file_name(format!("{name}.damaged")))
}

/// A local blob whose name and size the central store (or an earlier cache of this run)
/// already has. Both copies are proven to hold what the name promises before the local one
/// goes; a central copy that does not is replaced by the verified local one and kept aside
/// as `<name>.damaged`. A name that promises nothing is compared by content. Returns false
/// when the cache must stay (a problem was recorded).
fn plan_duplicate_blob(p: &mut CachePlanner, local: &Path, dest: &Path, bname: &str) -> bool {
    let (hub, project) = (&p.roots.hub, &p.roots.project);
    if !dest.exists() {
        if is_hash_name(bname) {
            // Another cache of this run moves its copy there: this one goes only once both
            // are proven to hold what the name promises (that copy, when it has arrived).
            let r = p.plan.check(project, local, Verify::Name(bname.to_owned()));
            p.ok(r);
            let r = p
                .plan
                .check_later(hub, dest, Verify::Name(bname.to_owned()));
            p.ok(r);
            return true;
        }
        p.problem(format!(
            "{} has the same name and size as a file another cache of this run moves; run migrate again afterwards",
            local.display()
        ));
        return false;
    }
    if is_hash_name(bname) {
        return match crate::fsops::planner_name_matches(dest, bname) {
            Ok(Some(true)) => {
                // The central copy is read once, here; at the change it must be the same
                // file, unchanged (no second read), and the local copy must hold its name.
                let r = p.plan.check(project, local, Verify::Name(bname.to_owned()));
                p.ok(r);
                let r = p.plan.check(hub, dest, Verify::Source);
                p.ok(r);
                true
            }
            Ok(_) => {
                let aside = aside_name(dest);
                p.res.repaired.push(format!(
                    "{} does not hold what its name promises: the verified copy from {} replaces it; the damaged file is kept as {}",
                    dest.display(),
                    local.display(),
                    aside.display()
                ));
                let name = Verify::Name(bname.to_owned());
                let r = p.plan.check(project, local, name.clone());
                p.ok(r);
                let r = p.plan.move_to(hub, dest, hub, &aside, Verify::Source);
                p.ok(r);
                let r = p.plan.move_into_freed(project, local, hub, dest, name);
                p.ok(r);
                true
            }
            Err(e) => {
                p.problem(format!("reading {}: {e}", dest.display()));
                false
            }
        };
    }
    match (
        crate::fsops::planner_sha256(dest),
        crate::fsops::planner_sha256(local),
    ) {
        (Ok(h), Ok(l)) if h != l => {
            p.problem(format!(
                "{} and {} have the same name and size but differ; both are kept",
                local.display(),
                dest.display()
            ));
            false
        }
        (Ok(h), Ok(_)) => {
            let r = p.plan.check(project, local, Verify::Sha256(h));
            p.ok(r);
            let r = p.plan.check(hub, dest, Verify::Source);
            p.ok(r);
            true
        }
        (Err(e), _) | (_, Err(e)) => {
            p.problem(format!(
                "reading {} or {}: {e}",
                local.display(),
                dest.display()
            ));
            false
        }
    }
}

fn plan_repo_files(
    p: &mut CachePlanner,
    settings: &Settings,
    entry: &Path,
    name: &str,
    user_dest: &Path,
    planned: &mut Planned,
) {
    let hub = &p.roots.hub;
    let project = &p.roots.project;
    p.res.repos += 1;
    let central = settings.hub_cache().join(name);
    for (b, meta) in walk_repo_files(&entry.join("blobs")) {
        let bname = name_of(&b);
        if bname.ends_with(".incomplete") {
            // An unfinished download holds no model, but one in progress is someone's.
            let hub_dir = entry.parent().unwrap_or(entry);
            if let Some(why) =
                crate::stores::downloads::hf_in_progress(hub_dir, &b, settings.test_mtime_age)
            {
                p.problem(format!(
                    "{} is a download in progress ({why}); the cache is kept",
                    b.display()
                ));
            }
            continue;
        }
        if bname.ends_with(".modelenv-partial") {
            continue; // modelenv's own interrupted copy
        }
        if !meta.is_file() {
            p.problem(format!(
                "{} is not a regular file; the local cache is kept",
                b.display()
            ));
            continue;
        }
        let dest = central.join("blobs").join(&bname);
        let size = meta.len();
        let central_size = fs::symlink_metadata(&dest)
            .map(|m| m.len())
            .ok()
            .or_else(|| planned.blobs.get(&dest).copied());
        match central_size {
            Some(len) if len == size => {
                p.res.duplicate_bytes += size;
                if !plan_duplicate_blob(p, &b, &dest, &bname) {
                    continue;
                }
            }
            Some(_) => p.problem(format!(
                "{} and {} differ in size; the local cache is kept",
                b.display(),
                dest.display()
            )),
            None => {
                p.res.moved_bytes += size;
                planned.blobs.insert(dest.clone(), size);
                let r = p.plan.move_to(project, &b, hub, &dest, Verify::Name(bname));
                p.ok(r);
            }
        }
    }
    let snaps = entry.join("snapshots");
    for (f, meta) in walk_repo_files(&snaps) {
        let rel = f.strip_prefix(&snaps).unwrap_or(&f).to_path_buf();
        let dest = central.join("snapshots").join(&rel);
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&f).unwrap_or_default();
            let etag = name_of(&target);
            // Only a link into this repo's own blobs is the cache's: one elsewhere (a file
            // of the user's outside the cache) would be rebuilt to another file.
            let leads_to = crate::settings::normalize(&f.parent().unwrap_or(&f).join(&target));
            if target.is_absolute() || leads_to != entry.join("blobs").join(&etag) {
                p.problem(format!(
                    "{} links to {}, not to its repo's blobs; the cache is kept so the link and what it points to stay as they are",
                    f.display(),
                    target.display()
                ));
                continue;
            }
            let blob = central.join("blobs").join(&etag);
            if !blob.exists() && !planned.blobs.contains_key(&blob) {
                p.problem(format!(
                    "{}: its blob {etag} is in neither cache",
                    f.display()
                ));
                continue;
            }
            if fs::symlink_metadata(&dest).is_err() {
                let depth = rel.components().count() - 1; // below snapshots/<commit>/
                let link = PathBuf::from(format!(
                    "{}../../blobs/{etag}",
                    "../".repeat(depth.saturating_sub(1))
                ));
                let r = p.plan.symlink(hub, &dest, &link);
                p.ok(r);
            }
        } else if meta.is_file() {
            p.place_file(&f, hub, &dest);
        }
    }
    // refs (the central one wins on a conflict; the other revision's snapshot stays),
    // .no_exist and trees: small files, copied when the central store lacks them.
    for side in ["refs", ".no_exist", "trees"] {
        for (f, meta) in walk_repo_files(&entry.join(side)) {
            let dest = central
                .join(side)
                .join(f.strip_prefix(entry.join(side)).unwrap_or(&f));
            if !meta.is_file() {
                if side == "refs" {
                    p.problem(format!(
                        "{} is not a plain file (a link?); the libraries read it as their ref, so this repo stays in the project cache",
                        f.display()
                    ));
                }
                continue;
            }
            if side == "refs"
                && let Ok(bytes) = fs::read(&f)
            {
                // Another cache of this run bringing the same ref with another commit.
                match planned.refs.get(&dest) {
                    Some(other) if *other != bytes => {
                        p.problem(format!(
                            "{} names another commit than the same ref another cache of this run brings; this repo stays in the project cache (run migrate again to see which)",
                            f.display()
                        ));
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        planned.refs.insert(dest.clone(), bytes);
                    }
                }
            }
            if fs::symlink_metadata(&dest).is_ok() {
                // A ref that names another commit centrally would leave this project's
                // revision unreferenced (and prunable): such a repo is not merged.
                if side == "refs" && fs::read(&f).ok() != fs::read(&dest).ok() {
                    p.problem(format!(
                        "{} names another commit than {}; the project's revision would lose its ref, so this repo stays in the project cache",
                        f.display(),
                        dest.display()
                    ));
                }
                continue;
            }
            match fs::read(&f) {
                Ok(bytes) => {
                    let r = p.plan.write(hub, &dest, &bytes);
                    p.ok(r);
                }
                Err(e) => p.problem(format!("reading {}: {e}", f.display())),
            }
        }
    }
    // Anything else in the repo folder (an adapter, notes) is the user's: it is kept in the
    // custom folder, never dropped with the cache.
    for (f, meta) in walk_repo_files(entry) {
        let rel = f.strip_prefix(entry).unwrap_or(&f);
        let top = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        let known = ["blobs", "snapshots", "refs", ".no_exist", "trees"];
        if top.is_some_and(|t| known.contains(&t.as_str())) || !meta.is_file() {
            continue;
        }
        p.res.moved_bytes += meta.len();
        p.place_user_file(&f, &user_dest.join(rel));
    }
    for d in ["blobs", "refs", "snapshots"] {
        let r = p.plan.create_dir(hub, &central.join(d));
        p.ok(r);
    }
}

/// The central location a config key should name.
fn central_for(settings: &Settings, key: &str) -> PathBuf {
    let k = key.to_ascii_uppercase();
    if k == "HF_HOME" {
        settings.hf_home.clone()
    } else if k.contains("DATASETS") {
        settings.datasets_cache()
    } else {
        settings.hub_cache()
    }
}

/// A Python expression for the central location that follows the environment.
fn python_expr(settings: &Settings, key: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"));
    let env_key = key.to_ascii_uppercase();
    let home = match settings.under_home(&settings.hf_home) {
        Some(rest) => format!(
            "os.path.expanduser({})",
            q(&format!("~/{}", rest.display()))
        ),
        None => q(&settings.hf_home.to_string_lossy()),
    };
    let hf_home = format!("(os.getenv(\"HF_HOME\") or {home})");
    match central_for(settings, key) {
        p if p == settings.hf_home => format!("os.getenv({}) or {hf_home}", q(&env_key)),
        p if p == settings.datasets_cache() => {
            format!(
                "os.getenv({}) or os.getenv(\"HF_DATASETS_CACHE\") or os.path.join({hf_home}, \"datasets\")",
                q(&env_key)
            )
        }
        _ => format!(
            "os.getenv({}) or os.getenv(\"HF_HUB_CACHE\") or os.path.join({hf_home}, \"hub\")",
            q(&env_key)
        ),
    }
}

/// The new text of each config file, every other line byte-identical.
pub fn config_edits(
    settings: &Settings,
    configs: &[ConfigLine],
) -> Result<BTreeMap<PathBuf, (String, String)>> {
    let mut by_file: BTreeMap<PathBuf, Vec<&ConfigLine>> = BTreeMap::new();
    for c in configs {
        by_file.entry(c.path.clone()).or_default().push(c);
    }
    let mut out = BTreeMap::new();
    for (path, lines) in by_file {
        let old =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if crate::dotenv::is_dotenv_name(&name) {
            let keys: Vec<_> = (lines.iter())
                .map(|c| (c.key.clone(), central_for(settings, &c.key), c.line))
                .collect();
            // A file modelenv cannot edit exactly is left as it is, with the reason.
            match crate::dotenv::set_values(&old, &keys, settings, &path.display().to_string()) {
                Ok(new) if new != old => {
                    out.insert(path, (old, new));
                }
                Ok(_) => {}
                Err(e) => crate::ui::warn(format!("skipping {e:#}")),
            }
            continue;
        }
        let mut new = old.clone();
        if lines.iter().all(|c| c.span.is_some()) {
            // A grammar found each value token: replace exactly those bytes, last first.
            let mut by_span: Vec<&ConfigLine> = lines.clone();
            by_span.sort_by_key(|c| std::cmp::Reverse(c.span.as_ref().map(|s| s.start)));
            let python = name.ends_with(".py");
            for c in by_span {
                let Some(span) = c.span.clone() else {
                    continue;
                };
                let central = central_for(settings, &c.key);
                let token = if python {
                    format!("({})", python_expr(settings, &c.key))
                } else if name.ends_with(".toml") {
                    configfile::toml_string(&central.to_string_lossy())
                } else {
                    configfile::yaml_string(&central.to_string_lossy())
                };
                new.replace_range(span, &token);
            }
            if python {
                new = configfile::ensure_import_os(&new);
            }
        }
        if new != old {
            out.insert(path, (old, new));
        }
    }
    Ok(out)
}
