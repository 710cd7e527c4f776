//! `--local-dir` downloads: folders huggingface_hub filled with full copies of a repo's files
//! (`hf download --local-dir`, `snapshot_download(local_dir=…)`), invisible to `hf cache ls`.
//! huggingface_hub keeps one metadata file per downloaded file in
//! `<dir>/.cache/huggingface/download/<path>.metadata`: the commit hash, the etag and the time
//! it was written (`_local_folder.py`). The etag is what the central hub cache names the blob
//! (the sha256 of an LFS file, the git blob id of a small one), so a file is matched with the
//! central store by name and size: no data is read.
//!
//! The metadata only vouches for a file as long as huggingface_hub's own rule in
//! `read_download_metadata` holds: the file's mtime minus one second is not after the
//! timestamp. A file changed since (its mtime is later) is not matched by name.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{FileInfo, NameHash, name_hash};

/// Where the download metadata lives below a local-dir download.
pub const METADATA_DIR: &str = ".cache/huggingface/download";

/// The folder holding huggingface_hub's bookkeeping for a local dir (metadata, locks, tags).
pub const BOOKKEEPING_DIR: &str = ".cache/huggingface";

fn is_real_dir(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// Whether `dir` is a local-dir download: it holds `.cache/huggingface/download`, each part a
/// real folder (a link is not followed).
pub fn is_local_dir(dir: &Path) -> bool {
    let c = dir.join(".cache");
    let h = c.join("huggingface");
    is_real_dir(&c) && is_real_dir(&h) && is_real_dir(&h.join("download"))
}

/// One metadata file, read the way `read_download_metadata` reads it: three stripped lines,
/// the third a float.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metadata {
    pub commit: String,
    pub etag: String,
    pub timestamp: f64,
}

pub fn parse_metadata(text: &str) -> Option<Metadata> {
    let mut lines = text.split_inclusive('\n').map(str::trim);
    let commit = lines.next()?.to_owned();
    let etag = lines.next()?.to_owned();
    let timestamp: f64 = lines.next()?.parse().ok()?;
    Some(Metadata {
        commit,
        etag,
        timestamp,
    })
}

/// huggingface_hub's rule: the metadata holds while `mtime - 1 <= timestamp`.
pub fn still_valid(timestamp: f64, mtime: f64) -> bool {
    mtime - 1.0 <= timestamp
}

/// The metadata text huggingface_hub writes (`write_download_metadata`).
pub fn metadata_text(commit: &str, etag: &str, timestamp: f64) -> String {
    format!("{commit}\n{etag}\n{timestamp}\n")
}

/// The metadata file of `filename` (a repo path, `/`-separated) in the download `dir`.
pub fn metadata_path(dir: &Path, filename: &str) -> PathBuf {
    dir.join(METADATA_DIR).join(format!("{filename}.metadata"))
}

/// huggingface_hub's lock for that metadata file (`metadata_path.with_suffix(".lock")`).
pub fn lock_path(dir: &Path, filename: &str) -> PathBuf {
    metadata_path(dir, filename).with_extension("lock")
}

/// Every `(filename, metadata)` of a download, sorted by filename; unreadable or malformed
/// metadata files are left out (huggingface_hub would delete them and download again).
pub fn entries(dir: &Path) -> Vec<(String, Metadata)> {
    let base = dir.join(METADATA_DIR);
    let mut out: Vec<(String, Metadata)> = walkdir::WalkDir::new(&base)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e.path().strip_prefix(&base).ok()?.to_str()?;
            let filename = rel.strip_suffix(".metadata")?.to_owned();
            let meta = parse_metadata(&fs::read_to_string(e.path()).ok()?)?;
            Some((filename, meta))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Where a file of a local-dir download has its metadata: the download folder and the
/// file's repo path, found by walking up from `file`.
pub fn owner_of(file: &Path) -> Option<(PathBuf, String)> {
    for dir in file.ancestors().skip(1) {
        let rel = file.strip_prefix(dir).ok()?.to_str()?;
        if rel.starts_with(".cache/") {
            return None;
        }
        if fs::symlink_metadata(metadata_path(dir, rel)).is_ok_and(|m| m.is_file()) {
            return Some((dir.to_path_buf(), rel.to_owned()));
        }
    }
    None
}

/// What a file's download metadata promises about its content while it is still valid: the
/// etag as a name hash, so duplicate detection compares it without reading it.
pub fn name_hashes(dir: &Path) -> HashMap<PathBuf, (NameHash, f64)> {
    entries(dir)
        .into_iter()
        .filter_map(|(f, m)| Some((dir.join(&f), (name_hash(&m.etag)?, m.timestamp))))
        .collect()
}

/// Gives the files of local-dir downloads among `files` the name hash their metadata
/// vouches for (valid metadata only), and returns the download folders found.
pub fn annotate(files: &mut [FileInfo]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| {
            let s = f.path.to_str()?;
            let at = s.find(&format!("/{METADATA_DIR}/"))?;
            Some(PathBuf::from(&s[..at]))
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs.retain(|d| is_local_dir(d));
    let mut known: HashMap<PathBuf, (NameHash, f64)> = HashMap::new();
    for d in &dirs {
        known.extend(name_hashes(d));
    }
    for f in files.iter_mut() {
        if let Some((h, ts)) = known.get(&f.path)
            && f.name_hash.is_none()
            && still_valid(*ts, f.mtime)
        {
            f.name_hash = Some(h.clone());
        }
    }
    dirs
}

/// Whether `p` is huggingface_hub's bookkeeping inside one of the download folders `dirs`.
pub fn is_bookkeeping(p: &Path, dirs: &[PathBuf]) -> bool {
    dirs.iter().any(|d| p.starts_with(d.join(BOOKKEEPING_DIR)))
}

/// A blob of the central hub cache.
#[derive(Clone, Debug)]
pub struct Blob {
    /// The repo folder holding it (`models--org--name`).
    pub repo_folder: String,
    pub path: PathBuf,
}

/// The central hub cache's blobs by name, read from folder listings only.
#[derive(Default)]
pub struct BlobIndex {
    by_name: HashMap<String, Vec<Blob>>,
    /// repo folder -> commits that have a snapshot.
    snapshots: HashMap<String, Vec<String>>,
}

fn list(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

impl BlobIndex {
    pub fn of_hub(hub: &Path) -> BlobIndex {
        let mut idx = BlobIndex::default();
        for repo in list(hub) {
            if repo_id(&repo).is_none() {
                continue;
            }
            for name in list(&hub.join(&repo).join("blobs")) {
                if name_hash(&name).is_none() {
                    continue;
                }
                idx.by_name.entry(name.clone()).or_default().push(Blob {
                    repo_folder: repo.clone(),
                    path: hub.join(&repo).join("blobs").join(&name),
                });
            }
            idx.snapshots
                .insert(repo.clone(), list(&hub.join(&repo).join("snapshots")));
        }
        idx
    }

    /// The blob named `etag` holding `size` bytes, preferring one in `repo_folder`.
    pub fn find(&self, etag: &str, size: u64, repo_folder: Option<&str>) -> Option<&Blob> {
        let mut cands: Vec<&Blob> = self.by_name.get(etag)?.iter().collect();
        cands.sort_by_key(|b| Some(b.repo_folder.as_str()) != repo_folder);
        cands
            .into_iter()
            .find(|b| fs::symlink_metadata(&b.path).is_ok_and(|m| m.is_file() && m.len() == size))
    }

    fn repos_holding(&self, etag: &str) -> Vec<&str> {
        self.by_name
            .get(etag)
            .map(|v| v.iter().map(|b| b.repo_folder.as_str()).collect())
            .unwrap_or_default()
    }
}

/// `models--org--name` as `org/name`, with its type.
pub fn repo_id(folder: &str) -> Option<(String, &'static str)> {
    let (prefix, rest) = folder.split_once("--")?;
    Some((rest.replace("--", "/"), super::hub::repo_type(prefix)?))
}

/// One file of a local-dir download.
#[derive(Clone, Debug, Serialize)]
pub struct LocalFile {
    /// Its path in the repo.
    pub filename: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub commit: String,
    pub etag: String,
    /// `read_download_metadata` would return the metadata (the file was not changed since).
    pub metadata_valid: bool,
    /// The central blob holding the same content (named by the etag, same size), when the
    /// metadata is valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub central: Option<PathBuf>,
    /// The file already is that blob (a hard link).
    pub linked: bool,
}

/// A local-dir download and how much of it the central store already holds.
#[derive(Clone, Debug, Serialize)]
pub struct Download {
    pub path: PathBuf,
    /// `org/name`, inferred from the central repo holding most of its files' etags (the
    /// metadata does not name the repo); absent when none does, or several do equally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo_type: Option<&'static str>,
    /// The commits its files were downloaded at (one, unless it was downloaded twice).
    pub commits: Vec<String>,
    /// Bytes of its downloaded files, each inode once.
    pub bytes: u64,
    /// Bytes whose content the central store already holds in another file: what `dedupe`
    /// frees by linking them.
    pub in_central_bytes: u64,
    /// Bytes already linked to the central blob.
    pub linked_bytes: u64,
    /// Bytes the central store does not hold (or that the metadata no longer vouches for):
    /// what `migrate --local-dir` imports.
    pub not_in_central_bytes: u64,
    pub files: Vec<LocalFile>,
}

/// Reads one local-dir download against the central blobs. Reads only metadata files and
/// folder listings; no file's data.
pub fn read(dir: &Path, central: &BlobIndex) -> Download {
    let entries = entries(dir);
    let mut commits: Vec<String> = entries.iter().map(|(_, m)| m.commit.clone()).collect();
    commits.sort();
    commits.dedup();
    // The repo: the central repo holding most of its etags (LFS etags only when it has
    // any: small files such as a shared tokenizer config are in many repos), if one does
    // alone; among repos tied, the one with a snapshot of the commit.
    let lfs = entries.iter().any(|(_, m)| m.etag.len() == 64);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, m) in entries.iter().filter(|(_, m)| !lfs || m.etag.len() == 64) {
        let mut repos = central.repos_holding(&m.etag);
        repos.sort();
        repos.dedup();
        for r in repos {
            *counts.entry(r).or_default() += 1;
        }
    }
    let best = counts.values().copied().max().unwrap_or(0);
    let mut full: Vec<&str> = counts
        .iter()
        .filter(|(_, n)| **n == best)
        .map(|(r, _)| *r)
        .collect();
    if full.len() > 1 {
        let with_commit: Vec<&str> = full
            .iter()
            .copied()
            .filter(|r| {
                central
                    .snapshots
                    .get(*r)
                    .is_some_and(|s| commits.iter().all(|c| s.contains(c)))
            })
            .collect();
        full = with_commit;
    }
    let repo_folder = (full.len() == 1).then(|| full[0].to_owned());
    let (repo, repo_type) = match repo_folder.as_deref().and_then(repo_id) {
        Some((id, t)) => (Some(id), Some(t)),
        None => (None, None),
    };
    let mut files = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let (mut bytes, mut in_central, mut linked_bytes, mut not_in) = (0, 0, 0, 0);
    for (filename, m) in entries {
        let path = dir.join(&filename);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue; // deleted since: the metadata is outdated
        };
        if !meta.is_file() {
            continue;
        }
        let mtime = meta.mtime() as f64 + meta.mtime_nsec() as f64 / 1e9;
        let valid = still_valid(m.timestamp, mtime);
        let blob = valid
            .then(|| central.find(&m.etag, meta.len(), repo_folder.as_deref()))
            .flatten();
        let linked = blob.is_some_and(|b| {
            fs::symlink_metadata(&b.path)
                .is_ok_and(|bm| (bm.dev(), bm.ino()) == (meta.dev(), meta.ino()))
        });
        if seen.insert((meta.dev(), meta.ino())) {
            bytes += meta.len();
            match (blob, linked) {
                (Some(_), true) => linked_bytes += meta.len(),
                (Some(_), false) => in_central += meta.len(),
                (None, _) => not_in += meta.len(),
            }
        }
        files.push(LocalFile {
            filename,
            path,
            bytes: meta.len(),
            commit: m.commit,
            etag: m.etag,
            metadata_valid: valid,
            central: blob.map(|b| b.path.clone()),
            linked,
        });
    }
    Download {
        path: dir.to_path_buf(),
        repo,
        repo_type,
        commits,
        bytes,
        in_central_bytes: in_central,
        linked_bytes,
        not_in_central_bytes: not_in,
        files,
    }
}

/// Folders never worth entering when looking for downloads.
const SKIP: &[&str] = &[".git", "node_modules", "target", "__pycache__", ".tox"];

/// The local-dir downloads below `root` (itself included), at most `max_depth` folders deep;
/// a download's own folders are not searched further.
pub fn find(root: &Path, max_depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut it = walkdir::WalkDir::new(root)
        .follow_links(false)
        .max_depth(max_depth)
        .sort_by_file_name()
        .into_iter();
    while let Some(Ok(e)) = it.next() {
        if !e.file_type().is_dir() {
            continue;
        }
        let name = e.file_name().to_string_lossy();
        if e.depth() > 0 && (SKIP.contains(&name.as_ref()) || name == ".cache") {
            it.skip_current_dir();
            continue;
        }
        if is_local_dir(e.path()) {
            out.push(e.path().to_path_buf());
            it.skip_current_dir();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_read_like_huggingface_hub() {
        let m = parse_metadata("abc\r\n  e1 \n1712656091.123\n").unwrap();
        assert_eq!(m.commit, "abc");
        assert_eq!(m.etag, "e1");
        assert_eq!(m.timestamp, 1712656091.123);
        assert!(parse_metadata("abc\ne1\nnot a time\n").is_none());
        assert!(parse_metadata("abc\ne1\n").is_none());
    }

    #[test]
    fn validity_follows_the_one_second_rule() {
        assert!(still_valid(100.0, 101.0));
        assert!(!still_valid(100.0, 101.5));
        assert!(still_valid(100.0, 50.0));
    }

    #[test]
    fn metadata_text_round_trips() {
        let t = metadata_text("c0ffee", "e", 1712656091.25);
        assert_eq!(parse_metadata(&t).unwrap().timestamp, 1712656091.25);
    }
}
