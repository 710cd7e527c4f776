//! The Hugging Face hub cache, read by the same rules as huggingface_hub's `scan_cache_dir`
//! (`utils/_cache_manager.py`), so sizes agree with `size_on_disk` repo by repo:
//! a repo's size is the sum of `st_size` over the distinct blobs its snapshots reach, where a
//! blob is the first hop of each snapshot symlink (the shared `blobs/` store is followed for
//! the size but never treated as a repo).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use rustc_hash::{FxHashMap, FxHashSet};
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{
    FileInfo, InodeSet, Model, Reclaim, ReclaimKind, Revision, StoreKind, StoreScan, StoreSummary,
    Time, Warnings, fastfs, name_hash,
};
use crate::settings::normalize;

/// Files the OS drops into folders; huggingface_hub skips them everywhere.
pub const FILES_TO_IGNORE: [&str; 3] = [".DS_Store", "Thumbs.db", "desktop.ini"];
pub const SHARED_MARKER: &str = ".huggingface-shared-blobs";

pub fn repo_type(prefix: &str) -> Option<&'static str> {
    match prefix {
        "models" => Some("model"),
        "datasets" => Some("dataset"),
        "spaces" => Some("space"),
        // huggingface_hub 2.4 maps `kernels--` folders to the kernel repo type.
        "kernels" => Some("kernel"),
        _ => None,
    }
}

/// The folder name huggingface_hub uses for a repo: `models--org--name`.
pub fn folder_name(kind: &str, id: &str) -> String {
    format!("{kind}s--{}", id.replace('/', "--"))
}

/// Whether `dir` holds at least one `models--`/`datasets--`/`spaces--` folder.
pub fn looks_like_hub(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|rd| rd.flatten().any(|e| is_repo_folder(&e.file_name())))
}

/// How many repo folders (`models--…`, `datasets--…`, `spaces--…`) the hub cache `dir` holds.
pub fn repo_folder_count(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |rd| {
        rd.flatten()
            .filter(|e| is_repo_folder(&e.file_name()))
            .count()
    })
}

/// Whether `name` is a repo folder's name (`models--…`, `datasets--…`, `spaces--…`, `kernels--…`).
pub fn is_repo_folder(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .and_then(|n| n.split_once("--"))
        .is_some_and(|(p, _)| repo_type(p).is_some())
}

/// Whether `<cache>/blobs` is huggingface_hub's marked shared blob store.
pub fn is_shared_store(dir: &Path) -> bool {
    let marker = dir.join(SHARED_MARKER);
    fs::symlink_metadata(&marker).is_ok_and(|m| m.is_file())
        && fs::read_to_string(&marker).is_ok_and(|t| t == "1\n")
}

struct RepoScan {
    model: Option<Model>,
    /// (device, inode, size) of every file it holds.
    physical: Vec<(u64, u64, u64)>,
    reclaim: Vec<Reclaim>,
    /// Shared-store payloads this repo's blobs link to.
    shared_targets: Vec<PathBuf>,
}

pub fn scan(root: &Path, store: StoreKind, warnings: &Warnings) -> StoreScan {
    let Ok(entries) = fs::read_dir(root) else {
        if root.exists() {
            warnings.push(format!("{}: cannot read the folder", root.display()));
        }
        return StoreScan::missing(root, store);
    };
    let shared_dir = root.join("blobs");
    let shared = is_shared_store(&shared_dir);
    let mut repo_paths = Vec::new();
    let mut loose = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if FILES_TO_IGNORE.contains(&name.as_ref()) {
            continue;
        }
        match name.as_ref() {
            ".locks" => loose.push(e.path()),
            "CACHEDIR.TAG" => loose.push(e.path()),
            "blobs" if shared => {}
            _ => repo_paths.push(e.path()),
        }
    }
    repo_paths.sort_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    let scans: Vec<RepoScan> = repo_paths
        .par_iter()
        .map(|p| match archive_target(root, p) {
            None => scan_repo(p, store, warnings),
            Some(at) => scan_archived(p, at, store, warnings),
        })
        .collect();

    let mut inodes = InodeSet::default();
    let mut models = Vec::new();
    let mut reclaim = Vec::new();
    let mut linked: FxHashSet<PathBuf> = FxHashSet::default();
    for s in scans {
        s.physical
            .iter()
            .for_each(|&(d, i, n)| inodes.add_raw(d, i, n));
        models.extend(s.model);
        reclaim.extend(s.reclaim);
        linked.extend(s.shared_targets);
    }
    for p in loose {
        for f in walk_files(&p, warnings) {
            inodes.add(&f);
        }
    }
    if shared {
        // Payloads no repo links to any more: what `hf cache prune` calls unreferenced shared blobs.
        for f in walk_files(&shared_dir, warnings) {
            inodes.add(&f);
            let name = f
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let is_payload = name.len() == 64 && name_hash(&name).is_some();
            if is_payload && !linked.contains(&f.path) {
                reclaim.push(Reclaim {
                    store,
                    kind: ReclaimKind::Orphan,
                    path: f.path.clone(),
                    bytes: f.freed(),
                    model: None,
                    blobs: Vec::new(),
                    mtime: Some(f.mtime),
                });
            }
        }
    }
    StoreScan {
        summary: StoreSummary {
            store,
            path: root.to_path_buf(),
            exists: true,
            bytes: inodes.bytes(),
            files: inodes.len(),
            models: models.len(),
        },
        models,
        reclaim,
    }
}

/// Folders in the hub cache `root` that are not in the hub layout (not a `models--`,
/// `datasets--` or `spaces--` folder, `.locks` or the shared blob store): an
/// `mlx_lm.convert --mlx-path` output, a `--local-dir` download pointed into the cache.
/// huggingface_hub's `scan_cache_dir` only warns about each ("not a valid HuggingFace cache
/// directory"); no library loads a model from one. Links are not followed or listed.
pub fn stray_folders(root: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(root) else {
        return Vec::new();
    };
    let shared = is_shared_store(&root.join("blobs"));
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let repo_named = name
                .split_once("--")
                .is_some_and(|(p, _)| repo_type(p).is_some());
            !repo_named && name != ".locks" && !(shared && name == "blobs")
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Every regular file below `dir` (symlinks not followed), as physical files; `dir` may
/// itself be a file.
pub fn walk_files(dir: &Path, warnings: &Warnings) -> Vec<FileInfo> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    match fastfs::OpenDir::open(dir) {
        Ok(fd) => fastfs::files_below(fd, dir, &mut out, &mut errors),
        Err(_) => match fs::symlink_metadata(dir) {
            Ok(m) if m.is_file() => out.push(FileInfo::new(dir.to_path_buf(), &m, None)),
            Ok(_) => {}
            Err(e) => errors.push(format!("{}: {e}", dir.display())),
        },
    }
    for e in errors {
        warnings.push(e);
    }
    out
}

/// Where a repo folder that is a link (an archived model) points, made absolute.
fn archive_target(root: &Path, repo: &Path) -> Option<PathBuf> {
    if !fs::symlink_metadata(repo).ok()?.file_type().is_symlink() {
        return None;
    }
    let t = fs::read_link(repo).ok()?;
    Some(if t.is_absolute() { t } else { root.join(t) })
}

/// An archived repo: read where it is when its drive is there (its bytes are not the
/// store's), else listed as offline, which is not corruption.
fn scan_archived(repo: &Path, at: PathBuf, store: StoreKind, warnings: &Warnings) -> RepoScan {
    if at.is_dir() {
        let mut s = scan_repo(repo, store, warnings);
        s.physical.clear();
        if let Some(m) = &mut s.model {
            m.archived = Some(super::Archived { at, online: true });
        }
        return s;
    }
    let name = repo
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (kind, id) = match name.split_once("--") {
        Some((p, rest)) => (
            repo_type(p).unwrap_or("model").to_owned(),
            rest.replace("--", "/"),
        ),
        None => ("model".to_owned(), name.clone()),
    };
    warnings.push(format!(
        "archive offline: {id} is archived to {}, which cannot be reached now (is its drive connected?)",
        at.display()
    ));
    RepoScan {
        model: Some(Model {
            store,
            id,
            kind,
            bytes: 0,
            path: repo.to_path_buf(),
            last_modified: None,
            last_accessed: None,
            files: 0,
            refs: Vec::new(),
            revisions: Vec::new(),
            contents: Vec::new(),
            archived: Some(super::Archived { at, online: false }),
        }),
        physical: Vec::new(),
        reclaim: Vec::new(),
        shared_targets: Vec::new(),
    }
}

fn corrupt(repo: &Path, what: impl std::fmt::Display, warnings: &Warnings) {
    warnings.push(format!("corrupt cache entry {}: {what}", repo.display()));
}

fn scan_repo(repo: &Path, store: StoreKind, warnings: &Warnings) -> RepoScan {
    let mut out = RepoScan {
        model: None,
        physical: Vec::new(),
        reclaim: Vec::new(),
        shared_targets: Vec::new(),
    };
    let mut errors = Vec::new();
    let result = scan_repo_inner(repo, store, &mut out, &mut errors);
    for e in errors {
        warnings.push(e);
    }
    if let Err(what) = result {
        corrupt(repo, what, warnings);
        out.model = None;
        // A repo huggingface_hub calls corrupt offers no revision or blob, but its unfinished
        // downloads hold no model and are still listed.
        out.reclaim.retain(|r| r.kind == ReclaimKind::Incomplete);
    }
    out
}

/// Reads one repo folder. `Err` names why huggingface_hub would call it corrupt.
///
/// The steps, in order: open the folder and read its name, read `blobs/`, `refs/` and the
/// side folders, walk `snapshots/`, then sum up the model and what can be reclaimed.
fn scan_repo_inner(
    repo: &Path,
    store: StoreKind,
    out: &mut RepoScan,
    errors: &mut Vec<String>,
) -> Result<(), String> {
    let (mut repo_fd, kind, id) = open_repo(repo, out)?;
    let children = repo_fd
        .entries()
        .map_err(|e| format!("cannot list it: {e}"))?;
    let child = |n: &str| children.iter().find(|c| c.name == n).map(|c| c.kind);
    let qualified = format!("{}:{id}", store.name());

    let mut files = RepoFiles::default();
    if child("blobs").is_some() {
        read_blobs(&repo_fd, repo, store, &qualified, &mut files, out, errors);
    }
    let blob_count = files.infos.len();

    // refs/: branch or PR name → commit hash (file content as is, like huggingface_hub).
    let mut refs_by_hash: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    match child("refs") {
        Some(fastfs::Kind::File) => return Err("refs is a file".into()),
        Some(_) => {
            if let Ok(rfd) = repo_fd.sub(OsStr::new("refs")) {
                read_refs(rfd, &repo.join("refs"), "", &mut refs_by_hash, out, errors);
            }
        }
        None => {}
    }

    // Small side folders count toward the store's bytes.
    for side in [".no_exist", "trees"] {
        if child(side).is_some()
            && let Ok(fd) = repo_fd.sub(OsStr::new(side))
        {
            let mut found = Vec::new();
            fastfs::files_below(fd, &repo.join(side), &mut found, errors);
            out.physical.extend(found.iter().map(FileInfo::physical));
        }
    }

    if child("snapshots").is_none() {
        return Err("no snapshots folder".into());
    }
    let snaps = read_snapshots(&repo_fd, repo, &mut files, &mut refs_by_hash, out, errors)?;
    if !refs_by_hash.is_empty() {
        let missing: Vec<String> = refs_by_hash
            .iter()
            .map(|(h, r)| format!("{} -> {h}", r.iter().cloned().collect::<Vec<_>>().join(",")))
            .collect();
        return Err(format!(
            "refs point to missing snapshots: {}",
            missing.join("; ")
        ));
    }

    let infos = &files.infos;
    let bytes: u64 = snaps.reached.iter().map(|&i| infos[i].size).sum();
    let (last_modified, last_accessed) = repo_times(&repo_fd, infos, &snaps.reached);
    // A repo read only in part (an unreadable ref, folder or link) may reach anything: none
    // of its revisions or blobs is offered for deletion.
    if errors.is_empty() {
        reclaim_detached(store, &qualified, infos, &snaps, out);
        reclaim_orphans(store, &qualified, &infos[..blob_count], &snaps.reached, out);
    }

    let Snapshots {
        revisions, reached, ..
    } = snaps;
    let mut reached: Vec<usize> = reached.into_iter().collect();
    reached.sort_by(|a, b| infos[*a].path.as_os_str().cmp(infos[*b].path.as_os_str()));
    let contents: Vec<FileInfo> = reached.into_iter().map(|i| infos[i].clone()).collect();
    let mut refs: Vec<String> = revisions
        .iter()
        .flat_map(|r| r.refs.iter().cloned())
        .collect();
    refs.sort();
    out.model = Some(Model {
        store,
        id,
        kind: kind.to_owned(),
        bytes,
        path: repo.to_path_buf(),
        last_modified: Some(last_modified),
        last_accessed: Some(last_accessed),
        files: contents.len(),
        refs,
        revisions,
        contents,
        archived: None,
    });
    Ok(())
}

/// Every file a repo's snapshots may reach, each known by its index: the `blobs/` entries
/// first, then the files snapshots reach elsewhere (links out of `blobs/`, and plain files in
/// a snapshot without symlinks). Indexes let revisions share a blob without copying it.
#[derive(Default)]
struct RepoFiles {
    infos: Vec<FileInfo>,
    /// Path → index into `infos`, so a snapshot link finds the blob it lands on.
    index: FxHashMap<OsString, usize>,
}

impl RepoFiles {
    /// Adds a file that snapshot links may land on; returns its index.
    fn add_linkable(&mut self, info: FileInfo) -> usize {
        self.index
            .insert(info.path.clone().into_os_string(), self.infos.len());
        self.infos.push(info);
        self.infos.len() - 1
    }

    /// Adds a plain file of a snapshot, which is its own blob and no link's target.
    fn add_own(&mut self, info: FileInfo) -> usize {
        self.infos.push(info);
        self.infos.len() - 1
    }

    /// The index of the file a snapshot link at `bp` lands on, added on first sight when it
    /// lies outside `blobs/`. `None` for a link to a folder, which is skipped. `Err` when the
    /// link is broken, which makes huggingface_hub call the repo corrupt.
    fn link_target(&mut self, bp: PathBuf) -> Result<Option<usize>, String> {
        if let Some(&i) = self.index.get(bp.as_os_str()) {
            return Ok(Some(i));
        }
        match fs::metadata(&bp) {
            // A link to a folder is a folder: huggingface_hub's glob walks it.
            Ok(m) if m.is_dir() => Ok(None),
            Ok(m) => Ok(Some(self.add_linkable(FileInfo::new(bp, &m, None)))),
            Err(_) => Err(format!("blob missing (broken symlink): {}", bp.display())),
        }
    }
}

/// Opens a repo folder and reads its kind and id from its name (`models--org--name`), since
/// everything after depends on both. A file in a repo's place still counts toward the store's
/// bytes before the repo is called corrupt.
fn open_repo(
    repo: &Path,
    out: &mut RepoScan,
) -> Result<(fastfs::OpenDir, &'static str, String), String> {
    let repo_fd = match fastfs::OpenDir::open(repo) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
            if let Ok(m) = fs::metadata(repo) {
                out.physical
                    .push(FileInfo::new(repo.to_path_buf(), &m, None).physical());
            }
            return Err("not a folder".into());
        }
        Err(e) => {
            return Err(format!(
                "cannot read it ({e}); an archive drive may be missing"
            ));
        }
    };
    let name = repo
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (prefix, rest) = name
        .split_once("--")
        .ok_or("not a hub cache folder (no `--` in its name)")?;
    let kind = repo_type(prefix).ok_or_else(|| format!("unknown repo type `{prefix}`"))?;
    let id = rest.replace("--", "/");
    Ok((repo_fd, kind, id))
}

/// Reads `blobs/` into `files` before any snapshot, so links find their blobs by path. Every
/// entry counts toward the store's bytes; `.incomplete` downloads are reclaimable at once; and
/// links into a shared blob store are noted, so `scan` can tell which shared payloads no repo
/// uses any more.
fn read_blobs(
    repo_fd: &fastfs::OpenDir,
    repo: &Path,
    store: StoreKind,
    qualified: &str,
    files: &mut RepoFiles,
    out: &mut RepoScan,
    errors: &mut Vec<String>,
) {
    let blobs_dir = repo.join("blobs");
    let Ok(mut bfd) = repo_fd.sub(OsStr::new("blobs")) else {
        return;
    };
    for e in bfd.entries().unwrap_or_default() {
        let path = blobs_dir.join(&e.name);
        let bname = e.name.to_string_lossy();
        let st = match bfd.stat(&e.name, true) {
            Ok(st) => st,
            Err(_) => {
                errors.push(format!("{}: broken blob link", path.display()));
                continue;
            }
        };
        if e.kind == fastfs::Kind::Symlink
            && let Ok(t) = bfd.readlink(&e.name)
        {
            out.shared_targets.push(normalize(&blobs_dir.join(t)));
        }
        let info = FileInfo::from_stat(path, &st, name_hash(&bname));
        if bname.ends_with(".incomplete") {
            out.reclaim.push(Reclaim {
                store,
                kind: ReclaimKind::Incomplete,
                path: info.path.clone(),
                bytes: info.size,
                model: Some(qualified.to_owned()),
                blobs: Vec::new(),
                mtime: Some(info.mtime),
            });
        }
        out.physical.push(info.physical());
        files.add_linkable(info);
    }
}

/// What a repo's snapshots reach.
struct Snapshots {
    /// One per snapshot folder, in commit order.
    revisions: Vec<Revision>,
    /// Indexes into the repo's files reached by any snapshot: the model's contents.
    reached: FxHashSet<usize>,
    /// Indexes reached by each revision, in the order of `revisions`.
    rev_blobs: Vec<FxHashSet<usize>>,
}

/// Walks `snapshots/`, one revision per commit folder, and names each with its refs. The refs
/// found are taken out of `refs_by_hash`, so whatever is left names a missing snapshot.
fn read_snapshots(
    repo_fd: &fastfs::OpenDir,
    repo: &Path,
    files: &mut RepoFiles,
    refs_by_hash: &mut BTreeMap<String, BTreeSet<String>>,
    out: &mut RepoScan,
    errors: &mut Vec<String>,
) -> Result<Snapshots, String> {
    let snapshots = repo.join("snapshots");
    let mut snap_fd = repo_fd
        .sub(OsStr::new("snapshots"))
        .map_err(|_| "no snapshots folder".to_string())?;
    let mut revs = snap_fd
        .entries()
        .map_err(|e| format!("cannot read snapshots: {e}"))?;
    revs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut snaps = Snapshots {
        revisions: Vec::new(),
        reached: FxHashSet::default(),
        rev_blobs: Vec::new(),
    };
    for rev in revs {
        let commit = rev.name.to_string_lossy().into_owned();
        if FILES_TO_IGNORE.contains(&commit.as_str()) {
            continue;
        }
        let rev_path = snapshots.join(&rev.name);
        let rev_fd = match snap_fd.sub(&rev.name) {
            Ok(fd) => fd,
            Err(_) if rev.kind != fastfs::Kind::Dir => {
                return Err(format!("a file directly in snapshots/: {commit}"));
            }
            Err(e) => {
                errors.push(format!("{}: {e}", rev_path.display()));
                continue;
            }
        };
        let walk = walk_revision(
            rev_fd,
            rev_path.clone(),
            files,
            &mut snaps.reached,
            out,
            errors,
        )?;
        let rev_mtime = walk.max_mtime.or_else(|| {
            snap_fd
                .stat(&rev.name, true)
                .ok()
                .map(|st| Time::of_stat(&st).0.0)
        });
        let bytes = walk.used.iter().map(|&i| files.infos[i].size).sum();
        let refs: Vec<String> = refs_by_hash
            .remove(&commit)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        snaps.revisions.push(Revision {
            commit,
            refs,
            bytes,
            files: walk.files,
            path: rev_path,
            last_modified: rev_mtime.map(Time),
        });
        snaps.rev_blobs.push(walk.used);
    }
    Ok(snaps)
}

/// What the walk of one snapshot folder found.
struct RevisionWalk {
    /// Indexes into the repo's files this revision reaches.
    used: FxHashSet<usize>,
    /// The files it lists (links to files, and plain files).
    files: usize,
    /// The newest mtime among the files it reaches.
    max_mtime: Option<f64>,
}

/// Walks one snapshot folder depth-first. A link counts as the file it lands on one hop away
/// (its blob), as huggingface_hub counts it; a plain file is its own blob. Each file reached is
/// also added to `reached`. `Err` on a broken link, which makes the repo corrupt.
fn walk_revision(
    rev_fd: fastfs::OpenDir,
    rev_path: PathBuf,
    files: &mut RepoFiles,
    reached: &mut FxHashSet<usize>,
    out: &mut RepoScan,
    errors: &mut Vec<String>,
) -> Result<RevisionWalk, String> {
    let mut used: FxHashSet<usize> = FxHashSet::default();
    let mut count = 0usize;
    let mut max_mtime: Option<f64> = None;
    let mut stack = vec![(rev_fd, rev_path)];
    while let Some((mut dfd, dpath)) = stack.pop() {
        let list = match dfd.entries() {
            Ok(l) => l,
            Err(e) => {
                errors.push(format!("{}: {e}", dpath.display()));
                continue;
            }
        };
        for e in list {
            let idx = match e.kind {
                fastfs::Kind::Dir => {
                    let fpath = dpath.join(&e.name);
                    match dfd.sub(&e.name) {
                        Ok(fd) => stack.push((fd, fpath)),
                        Err(err) => errors.push(format!("{}: {err}", fpath.display())),
                    }
                    continue;
                }
                fastfs::Kind::Symlink => {
                    let target = match dfd.readlink(&e.name) {
                        Ok(t) => t,
                        Err(err) => {
                            errors.push(format!("{}: {err}", dpath.join(&e.name).display()));
                            continue;
                        }
                    };
                    match files.link_target(join_normalized(&dpath, &target))? {
                        Some(i) => i,
                        None => continue,
                    }
                }
                fastfs::Kind::File => match dfd.stat(&e.name, false) {
                    // No-symlink layout: the snapshot file is its own blob.
                    Ok(st) => {
                        let info = FileInfo::from_stat(dpath.join(&e.name), &st, None);
                        out.physical.push(info.physical());
                        files.add_own(info)
                    }
                    Err(err) => {
                        errors.push(format!("{}: {err}", dpath.join(&e.name).display()));
                        continue;
                    }
                },
                fastfs::Kind::Other => continue,
            };
            count += 1;
            let mt = files.infos[idx].mtime;
            max_mtime = Some(max_mtime.map_or(mt, |x: f64| x.max(mt)));
            reached.insert(idx);
            used.insert(idx);
        }
    }
    Ok(RevisionWalk {
        used,
        files: count,
        max_mtime,
    })
}

/// The repo's (last modified, last accessed): the newest over the files its snapshots reach,
/// or the folder's own times when they reach none.
fn repo_times(
    repo_fd: &fastfs::OpenDir,
    infos: &[FileInfo],
    reached: &FxHashSet<usize>,
) -> (Time, Time) {
    if reached.is_empty() {
        match repo_fd.stat_self() {
            Ok(st) => Time::of_stat(&st),
            Err(_) => (Time(0.0), Time(0.0)),
        }
    } else {
        (
            Time(
                reached
                    .iter()
                    .map(|&i| infos[i].mtime)
                    .fold(f64::MIN, f64::max),
            ),
            Time(
                reached
                    .iter()
                    .map(|&i| infos[i].atime)
                    .fold(f64::MIN, f64::max),
            ),
        )
    }
}

/// Detached revisions (no ref names them) are reclaimable, each with the blobs only it
/// reaches: a blob a named revision also reaches stays, and a blob two detached revisions
/// share goes with the first, so no byte is offered twice.
fn reclaim_detached(
    store: StoreKind,
    qualified: &str,
    infos: &[FileInfo],
    snaps: &Snapshots,
    out: &mut RepoScan,
) {
    let kept: FxHashSet<usize> = snaps
        .revisions
        .iter()
        .zip(&snaps.rev_blobs)
        .filter(|(r, _)| !r.refs.is_empty())
        .flat_map(|(_, b)| b.iter().copied())
        .collect();
    let mut claimed: FxHashSet<usize> = FxHashSet::default();
    // A repo with no ref at all was downloaded by commit hash: its revisions are pinned.
    let pinned = snaps.revisions.iter().all(|r| r.refs.is_empty());
    for (r, used) in snaps.revisions.iter().zip(&snaps.rev_blobs) {
        if !r.refs.is_empty() {
            continue;
        }
        let mut only: Vec<usize> = used
            .iter()
            .copied()
            .filter(|b| !kept.contains(b) && !claimed.contains(b))
            .collect();
        only.sort_by(|a, b| infos[*a].path.as_os_str().cmp(infos[*b].path.as_os_str()));
        claimed.extend(only.iter().copied());
        out.reclaim.push(Reclaim {
            store,
            kind: if pinned {
                ReclaimKind::Unreferenced
            } else {
                ReclaimKind::Detached
            },
            path: r.path.clone(),
            bytes: only.iter().map(|&i| infos[i].freed()).sum(),
            model: Some(qualified.to_owned()),
            blobs: only.iter().map(|&i| infos[i].path.clone()).collect(),
            mtime: r.last_modified.map(|t| t.0),
        });
    }
}

/// Complete blobs no snapshot reaches are reclaimable orphans. `blobs` are the repo's
/// `blobs/` entries, whose indexes come first; `.incomplete` ones were offered already.
fn reclaim_orphans(
    store: StoreKind,
    qualified: &str,
    blobs: &[FileInfo],
    reached: &FxHashSet<usize>,
    out: &mut RepoScan,
) {
    for (i, f) in blobs.iter().enumerate() {
        if reached.contains(&i) || f.path.as_os_str().as_bytes().ends_with(b".incomplete") {
            continue;
        }
        out.reclaim.push(Reclaim {
            store,
            kind: ReclaimKind::Orphan,
            path: f.path.clone(),
            bytes: f.freed(),
            model: Some(qualified.to_owned()),
            blobs: Vec::new(),
            mtime: Some(f.mtime),
        });
    }
}

/// Reads refs recursively (`refs/main`, `refs/pr/1`).
fn read_refs(
    mut dir: fastfs::OpenDir,
    path: &Path,
    prefix: &str,
    refs: &mut BTreeMap<String, BTreeSet<String>>,
    out: &mut RepoScan,
    errors: &mut Vec<String>,
) {
    for e in dir.entries().unwrap_or_default() {
        let n = e.name.to_string_lossy().into_owned();
        if FILES_TO_IGNORE.contains(&n.as_str()) {
            continue;
        }
        let rel = if prefix.is_empty() {
            n.clone()
        } else {
            format!("{prefix}/{n}")
        };
        match e.kind {
            fastfs::Kind::Dir => {
                if let Ok(fd) = dir.sub(&e.name) {
                    read_refs(fd, &path.join(&e.name), &rel, refs, out, errors);
                }
            }
            _ => {
                if let Ok(st) = dir.stat(&e.name, true) {
                    out.physical
                        .push(FileInfo::from_stat(path.join(&e.name), &st, None).physical());
                }
                match dir.read(&e.name) {
                    Ok(bytes) => {
                        refs.entry(String::from_utf8_lossy(&bytes).into_owned())
                            .or_default()
                            .insert(rel);
                    }
                    Err(err) => errors.push(format!("{}: {err}", path.join(&e.name).display())),
                }
            }
        }
    }
}

/// `dir` joined with a relative link target, with `..` folded lexically (as `os.path.abspath`
/// does), on bytes: the hot path of every snapshot file.
fn join_normalized(dir: &Path, target: &Path) -> PathBuf {
    let t = target.as_os_str().as_bytes();
    if t.first() == Some(&b'/') {
        return normalize(target);
    }
    let mut out: Vec<u8> = dir.as_os_str().as_bytes().to_vec();
    for seg in t.split(|b| *b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                if let Some(i) = out.iter().rposition(|b| *b == b'/') {
                    out.truncate(i.max(1));
                }
            }
            s => {
                if out.last() != Some(&b'/') {
                    out.push(b'/');
                }
                out.extend_from_slice(s);
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_fold_like_abspath() {
        let d = Path::new("/c/models--a--b/snapshots/abc/sub");
        assert_eq!(
            join_normalized(d, Path::new("../../../blobs/x")),
            Path::new("/c/models--a--b/blobs/x")
        );
        assert_eq!(
            join_normalized(Path::new("/a"), Path::new("../../x")),
            Path::new("/x")
        );
        assert_eq!(
            join_normalized(Path::new("/a"), Path::new("/abs/./y")),
            Path::new("/abs/y")
        );
    }
}
