//! The Hugging Face hub cache, read by the same rules as huggingface_hub's `scan_cache_dir`
//! (`utils/_cache_manager.py`), so sizes agree with `size_on_disk` repo by repo:
//! a repo's size is the sum of `st_size` over the distinct blobs its snapshots reach, where a
//! blob is the first hop of each snapshot symlink (the shared `blobs/` store is followed for
//! the size but never treated as a repo).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{
    FileInfo, InodeSet, Model, Reclaim, ReclaimKind, Revision, StoreKind, StoreScan, StoreSummary,
    Time, Warnings, name_hash,
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
        _ => None,
    }
}

/// The folder name huggingface_hub uses for a repo: `models--org--name`.
pub fn folder_name(kind: &str, id: &str) -> String {
    format!("{kind}s--{}", id.replace('/', "--"))
}

/// Whether `dir` holds at least one `models--`/`datasets--`/`spaces--` folder.
pub fn looks_like_hub(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.split_once("--"))
                .is_some_and(|(p, _)| repo_type(p).is_some())
        })
    })
}

/// Whether `<cache>/blobs` is huggingface_hub's marked shared blob store.
pub fn is_shared_store(dir: &Path) -> bool {
    let marker = dir.join(SHARED_MARKER);
    fs::symlink_metadata(&marker).is_ok_and(|m| m.is_file())
        && fs::read_to_string(&marker).is_ok_and(|t| t == "1\n")
}

struct RepoScan {
    model: Option<Model>,
    physical: Vec<FileInfo>,
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
    repo_paths.sort();
    let scans: Vec<RepoScan> = repo_paths
        .par_iter()
        .map(|p| scan_repo(p, store, warnings))
        .collect();

    let mut inodes = InodeSet::default();
    let mut models = Vec::new();
    let mut reclaim = Vec::new();
    let mut linked: BTreeSet<PathBuf> = BTreeSet::new();
    for s in scans {
        s.physical.iter().for_each(|f| inodes.add(f));
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
                    bytes: f.size,
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

/// Every regular file below `dir` (symlinks not followed), as physical files.
pub fn walk_files(dir: &Path, warnings: &Warnings) -> Vec<FileInfo> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false) {
        match e {
            Ok(e) if e.file_type().is_file() => match e.metadata() {
                Ok(m) => out.push(FileInfo::new(e.path().to_path_buf(), &m, None)),
                Err(err) => warnings.push(format!("{}: {err}", e.path().display())),
            },
            Ok(_) => {}
            Err(err) => warnings.push(format!("{}: {err}", err.path().unwrap_or(dir).display())),
        }
    }
    out
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
    let meta = match fs::metadata(repo) {
        Ok(m) => m,
        Err(e) => {
            corrupt(
                repo,
                format!("cannot read it ({e}); an archive drive may be missing"),
                warnings,
            );
            return out;
        }
    };
    if !meta.is_dir() {
        out.physical
            .push(FileInfo::new(repo.to_path_buf(), &meta, None));
        corrupt(repo, "not a folder", warnings);
        return out;
    }
    let name = repo
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some((prefix, rest)) = name.split_once("--") else {
        corrupt(
            repo,
            "not a hub cache folder (no `--` in its name)",
            warnings,
        );
        return out;
    };
    let Some(kind) = repo_type(prefix) else {
        corrupt(repo, format!("unknown repo type `{prefix}`"), warnings);
        return out;
    };
    let id = rest.replace("--", "/");

    // blobs/: every stored object, complete or not.
    let mut blobs: HashMap<PathBuf, FileInfo> = HashMap::new();
    let blobs_dir = repo.join("blobs");
    if let Ok(rd) = fs::read_dir(&blobs_dir) {
        for e in rd.flatten() {
            let path = e.path();
            let bname = e.file_name().to_string_lossy().into_owned();
            let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
            let meta = match fs::metadata(&path) {
                Ok(m) => m,
                Err(_) => {
                    warnings.push(format!("{}: broken blob link", path.display()));
                    continue;
                }
            };
            if is_link && let Ok(t) = fs::read_link(&path) {
                out.shared_targets.push(normalize(&blobs_dir.join(t)));
            }
            let info = FileInfo::new(path.clone(), &meta, name_hash(&bname));
            if bname.ends_with(".incomplete") {
                out.reclaim.push(Reclaim {
                    store,
                    kind: ReclaimKind::Incomplete,
                    path: path.clone(),
                    bytes: info.size,
                    model: Some(format!("{}:{id}", store.name())),
                    blobs: Vec::new(),
                    mtime: Some(info.mtime),
                });
            }
            out.physical.push(info.clone());
            blobs.insert(path, info);
        }
    }

    // refs/: branch or PR name → commit hash (file content as is, like huggingface_hub).
    let mut refs_by_hash: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let refs_dir = repo.join("refs");
    if refs_dir.is_file() {
        corrupt(repo, "refs is a file", warnings);
        return out;
    }
    if refs_dir.exists() {
        for e in walkdir::WalkDir::new(&refs_dir)
            .min_depth(1)
            .into_iter()
            .flatten()
        {
            let n = e.file_name().to_string_lossy();
            if e.path().is_dir() || FILES_TO_IGNORE.contains(&n.as_ref()) {
                continue;
            }
            if let Ok(m) = e.metadata() {
                out.physical
                    .push(FileInfo::new(e.path().to_path_buf(), &m, None));
            }
            let rel = e
                .path()
                .strip_prefix(&refs_dir)
                .unwrap_or(e.path())
                .to_string_lossy()
                .into_owned();
            match fs::read_to_string(e.path()) {
                Ok(hash) => {
                    refs_by_hash.entry(hash).or_default().insert(rel);
                }
                Err(err) => warnings.push(format!("{}: {err}", e.path().display())),
            }
        }
    }

    // Small side folders count toward the store's bytes.
    for side in [".no_exist", "trees"] {
        let p = repo.join(side);
        if p.is_dir() {
            out.physical.extend(walk_files(&p, warnings));
        }
    }

    let snapshots = repo.join("snapshots");
    if !snapshots.is_dir() {
        corrupt(repo, "no snapshots folder", warnings);
        return out;
    }
    let mut revisions = Vec::new();
    // blob path → (size, mtime, atime), over every snapshot.
    let mut reached: BTreeMap<PathBuf, (u64, f64, f64)> = BTreeMap::new();
    let mut rev_blobs: Vec<(String, BTreeSet<PathBuf>)> = Vec::new();
    let mut rd: Vec<_> = match fs::read_dir(&snapshots) {
        Ok(rd) => rd.flatten().collect(),
        Err(e) => {
            corrupt(repo, format!("cannot read snapshots: {e}"), warnings);
            return out;
        }
    };
    rd.sort_by_key(|e| e.file_name());
    for rev in rd {
        let commit = rev.file_name().to_string_lossy().into_owned();
        if FILES_TO_IGNORE.contains(&commit.as_str()) {
            continue;
        }
        let rev_path = rev.path();
        if rev_path.is_file() {
            corrupt(
                repo,
                format!("a file directly in snapshots/: {commit}"),
                warnings,
            );
            return out;
        }
        let mut used: BTreeSet<PathBuf> = BTreeSet::new();
        let mut files = 0usize;
        let mut max_mtime: Option<f64> = None;
        for e in walkdir::WalkDir::new(&rev_path)
            .min_depth(1)
            .follow_links(false)
        {
            let e = match e {
                Ok(e) => e,
                Err(err) => {
                    warnings.push(format!(
                        "{}: {err}",
                        err.path().unwrap_or(&rev_path).display()
                    ));
                    continue;
                }
            };
            let ft = e.file_type();
            if ft.is_dir() {
                continue;
            }
            let (blob_path, info) = if ft.is_symlink() {
                if e.path().is_dir() {
                    continue;
                }
                let target = match fs::read_link(e.path()) {
                    Ok(t) => t,
                    Err(err) => {
                        warnings.push(format!("{}: {err}", e.path().display()));
                        continue;
                    }
                };
                let bp = normalize(&e.path().parent().unwrap_or(&rev_path).join(target));
                let info = match blobs.get(&bp) {
                    Some(i) => i.clone(),
                    None => match fs::metadata(&bp) {
                        Ok(m) => FileInfo::new(bp.clone(), &m, None),
                        Err(_) => {
                            corrupt(
                                repo,
                                format!("blob missing (broken symlink): {}", bp.display()),
                                warnings,
                            );
                            return out;
                        }
                    },
                };
                (bp, info)
            } else {
                let m = match e.metadata() {
                    Ok(m) => m,
                    Err(err) => {
                        warnings.push(format!("{}: {err}", e.path().display()));
                        continue;
                    }
                };
                // No-symlink layout: the snapshot file is its own blob.
                let info = FileInfo::new(e.path().to_path_buf(), &m, None);
                out.physical.push(info.clone());
                (e.path().to_path_buf(), info)
            };
            files += 1;
            let (mt, at) = (info.mtime, info.atime);
            max_mtime = Some(max_mtime.map_or(mt, |x: f64| x.max(mt)));
            reached
                .entry(blob_path.clone())
                .or_insert((info.size, mt, at));
            used.insert(blob_path);
        }
        let rev_mtime =
            max_mtime.or_else(|| fs::metadata(&rev_path).ok().map(|m| Time::of(&m).0.0));
        let bytes = used.iter().map(|b| reached[b].0).sum();
        let refs: Vec<String> = refs_by_hash
            .remove(&commit)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        revisions.push(Revision {
            commit: commit.clone(),
            refs,
            bytes,
            files,
            path: rev_path,
            last_modified: rev_mtime.map(Time),
        });
        rev_blobs.push((commit, used));
    }
    if !refs_by_hash.is_empty() {
        let missing: Vec<String> = refs_by_hash
            .iter()
            .map(|(h, r)| format!("{} -> {h}", r.iter().cloned().collect::<Vec<_>>().join(",")))
            .collect();
        corrupt(
            repo,
            format!("refs point to missing snapshots: {}", missing.join("; ")),
            warnings,
        );
        return out;
    }

    let bytes: u64 = reached.values().map(|v| v.0).sum();
    let (last_modified, last_accessed) = if reached.is_empty() {
        let (m, a) = Time::of(&meta);
        (m, a)
    } else {
        (
            Time(reached.values().map(|v| v.1).fold(f64::MIN, f64::max)),
            Time(reached.values().map(|v| v.2).fold(f64::MIN, f64::max)),
        )
    };

    // Detached revisions and the blobs only they reach.
    let qualified = format!("{}:{id}", store.name());
    let kept: BTreeSet<&PathBuf> = revisions
        .iter()
        .zip(&rev_blobs)
        .filter(|(r, _)| !r.refs.is_empty())
        .flat_map(|(_, (_, b))| b.iter())
        .collect();
    let mut claimed: BTreeSet<PathBuf> = BTreeSet::new();
    for (r, (_, used)) in revisions.iter().zip(&rev_blobs) {
        if !r.refs.is_empty() {
            continue;
        }
        let only: Vec<PathBuf> = used
            .iter()
            .filter(|b| !kept.contains(b) && !claimed.contains(*b))
            .cloned()
            .collect();
        claimed.extend(only.iter().cloned());
        out.reclaim.push(Reclaim {
            store,
            kind: ReclaimKind::Detached,
            path: r.path.clone(),
            bytes: only.iter().map(|b| reached[b].0).sum(),
            model: Some(qualified.clone()),
            blobs: only,
            mtime: r.last_modified.map(|t| t.0),
        });
    }
    // Complete blobs no snapshot reaches.
    let mut orphans: Vec<&FileInfo> = blobs
        .iter()
        .filter(|(p, _)| !reached.contains_key(*p) && !p.to_string_lossy().ends_with(".incomplete"))
        .map(|(_, f)| f)
        .collect();
    orphans.sort_by(|a, b| a.path.cmp(&b.path));
    for f in orphans {
        out.reclaim.push(Reclaim {
            store,
            kind: ReclaimKind::Orphan,
            path: f.path.clone(),
            bytes: f.size,
            model: Some(qualified.clone()),
            blobs: Vec::new(),
            mtime: Some(f.mtime),
        });
    }

    let mut contents: Vec<FileInfo> = Vec::new();
    for bp in reached.keys() {
        let info = match blobs.get(bp) {
            Some(i) => i.clone(),
            None => match fs::metadata(bp) {
                Ok(m) => FileInfo::new(bp.clone(), &m, None),
                Err(_) => continue,
            },
        };
        contents.push(info);
    }
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
        files: reached.len(),
        refs,
        revisions,
        contents,
    });
    out
}
