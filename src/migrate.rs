//! Moving project-local caches into the central store and pointing configs at it, losing
//! nothing. Every step checks the disk before it acts, so a run stopped at any moment (even
//! by SIGKILL) is completed by the next: blobs are renamed (same filesystem) or copied to a
//! temporary name, synced, verified against their content hash and then renamed into place; a
//! local cache is deleted only once every file in it is verified present centrally.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sha1::Digest as _;

use crate::scan::{Cache, ConfigLine};
use crate::settings::Settings;
use crate::stores::dupes::sha256_file;
use crate::stores::hub::repo_type;

/// Counts mutating steps; a test hook can stop the process with SIGKILL after N of them.
pub struct Steps {
    done: u64,
    kill_after: Option<u64>,
}

impl Steps {
    pub fn new(kill_after: Option<u64>) -> Steps {
        Steps {
            done: 0,
            kill_after,
        }
    }

    fn step(&mut self) {
        self.done += 1;
        if self.kill_after.is_some_and(|n| self.done >= n) {
            // SAFETY: getpid and kill have no preconditions; this ends the process at once.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}

/// The hash a blob's name promises: sha256 (64 hex) or the git blob sha1 (40 hex).
fn content_matches_name(path: &Path, name: &str) -> Result<bool> {
    match name.len() {
        64 => Ok(sha256_file(path)? == name),
        40 => {
            let data = fs::read(path)?;
            let mut h = sha1::Sha1::new();
            h.update(format!("blob {}\0", data.len()).as_bytes());
            h.update(&data);
            Ok(h.finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                == name)
        }
        _ => Ok(true),
    }
}

fn same_fs(a: &Path, b: &Path) -> bool {
    let dev = |p: &Path| {
        p.ancestors()
            .find_map(|x| fs::metadata(x).ok())
            .map(|m| m.dev())
    };
    dev(a).is_some() && dev(a) == dev(b)
}

fn tmp_name(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".modelenv-partial");
    PathBuf::from(s)
}

fn sync_dir(p: &Path) {
    if let Some(d) = p.parent()
        && let Ok(f) = fs::File::open(d)
    {
        let _ = f.sync_all();
    }
}

/// Puts `src`'s bytes at `dest` (which must not exist): a rename on one filesystem, else a
/// synced copy under a temporary name, verified with `verify`, then renamed into place.
/// Returns the bytes that crossed filesystems.
fn place(
    src: &Path,
    dest: &Path,
    verify: &dyn Fn(&Path) -> Result<bool>,
    steps: &mut Steps,
) -> Result<u64> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    if same_fs(src, dest) {
        fs::rename(src, dest)
            .with_context(|| format!("moving {} to {}", src.display(), dest.display()))?;
        sync_dir(dest);
        steps.step();
        return Ok(0);
    }
    let tmp = tmp_name(dest);
    let bytes = fs::copy(src, &tmp)
        .with_context(|| format!("copying {} to {}", src.display(), tmp.display()))?;
    fs::File::open(&tmp)?.sync_all()?;
    steps.step();
    if !verify(&tmp)? {
        let _ = fs::remove_file(&tmp);
        bail!(
            "the copy of {} at {} does not verify; the source is kept",
            src.display(),
            tmp.display()
        );
    }
    fs::rename(&tmp, dest)?;
    sync_dir(dest);
    steps.step();
    Ok(bytes)
}

#[derive(Debug, Default, Serialize)]
pub struct CacheResult {
    pub path: PathBuf,
    pub repos: usize,
    pub bytes: u64,
    /// Bytes that were not in the central store yet.
    pub moved_bytes: u64,
    /// Bytes already stored centrally (dropped from the local copy).
    pub duplicate_bytes: u64,
    pub removed: bool,
    pub problems: Vec<String>,
}

/// What a cache holds, read without changing anything.
fn walk_repo_files(repo: &Path) -> Vec<(PathBuf, fs::Metadata)> {
    walkdir::WalkDir::new(repo)
        .min_depth(1)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .filter_map(|e| Some((e.path().to_path_buf(), e.path().symlink_metadata().ok()?)))
        .collect()
}

/// Merges one local cache into the central hub cache (`apply` false: only measures).
/// `planned` carries what earlier caches of this run move, so a dry run counts a model
/// shared by several projects as moved once.
pub fn merge_cache(
    settings: &Settings,
    repo_root: &Path,
    cache: &Cache,
    apply: bool,
    planned: &mut std::collections::HashMap<PathBuf, u64>,
    steps: &mut Steps,
) -> Result<CacheResult> {
    let hub = settings.hub_cache();
    let mut res = CacheResult {
        path: cache.path.clone(),
        bytes: cache.bytes,
        ..Default::default()
    };
    let mut verified = true;
    let project = cache
        .path
        .parent()
        .unwrap_or(repo_root)
        .strip_prefix(repo_root)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let loose_dest = |rel: &Path| settings.custom_model_dir.join(&project).join(rel);

    if cache.kind == "loose-file" {
        let rel = cache
            .path
            .strip_prefix(repo_root)
            .unwrap_or(&cache.path)
            .to_path_buf();
        let dest = settings.custom_model_dir.join(&rel);
        res.moved_bytes += cache.bytes;
        if apply {
            let src_hash = sha256_file(&cache.path)?;
            if !dest.exists() {
                place(
                    &cache.path,
                    &dest,
                    &|p| Ok(sha256_file(p)? == src_hash),
                    steps,
                )?;
            }
            if sha256_file(&dest)? == src_hash {
                if cache.path.exists() {
                    fs::remove_file(&cache.path)?;
                    steps.step();
                }
                res.removed = true;
            } else {
                res.problems.push(format!(
                    "{} differs from {}; kept both",
                    dest.display(),
                    cache.path.display()
                ));
            }
        }
        return Ok(res);
    }

    let entries: Vec<PathBuf> = fs::read_dir(&cache.path)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    for entry in entries {
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_repo = name
            .split_once("--")
            .is_some_and(|(p, _)| repo_type(p).is_some())
            && entry.is_dir();
        if !is_repo {
            // Cache bookkeeping goes with the cache; anything else is kept in the custom dir.
            if name == ".locks" || name == "CACHEDIR.TAG" || name == "version.txt" {
                continue;
            }
            for e in walkdir::WalkDir::new(&entry)
                .into_iter()
                .flatten()
                .filter(|e| e.file_type().is_file())
            {
                let rel = e
                    .path()
                    .strip_prefix(&cache.path)
                    .unwrap_or(e.path())
                    .to_path_buf();
                let dest = loose_dest(&rel);
                let size = e.metadata().map(|m| m.len()).unwrap_or(0);
                res.moved_bytes += size;
                if apply {
                    let h = sha256_file(e.path())?;
                    if !dest.exists() {
                        place(e.path(), &dest, &|p| Ok(sha256_file(p)? == h), steps)?;
                    }
                    verified &= sha256_file(&dest).map(|d| d == h).unwrap_or(false);
                }
            }
            continue;
        }
        res.repos += 1;
        let central = hub.join(&name);
        // Blobs first: a snapshot link must never point at a blob that is not there yet.
        let blobs = entry.join("blobs");
        for (b, meta) in walk_repo_files(&blobs) {
            let bname = b
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if bname.ends_with(".incomplete") || bname.ends_with(".modelenv-partial") {
                continue; // an unfinished download holds no model
            }
            let dest = central.join("blobs").join(&bname);
            let size = fs::metadata(&b).map(|m| m.len()).unwrap_or(meta.len());
            let central_size = fs::metadata(&dest)
                .map(|m| m.len())
                .ok()
                .or_else(|| planned.get(&dest).copied());
            match central_size {
                Some(len) if len == size => {
                    res.duplicate_bytes += size;
                    if apply && !content_matches_name(&b, &bname)? {
                        res.problems.push(format!(
                            "{} does not match its name; the local cache is kept",
                            b.display()
                        ));
                        verified = false;
                    }
                }
                Some(_) => {
                    res.problems.push(format!(
                        "{} and {} differ in size; the local cache is kept",
                        b.display(),
                        dest.display()
                    ));
                    verified = false;
                }
                None => {
                    res.moved_bytes += size;
                    planned.insert(dest.clone(), size);
                    if apply {
                        if !content_matches_name(&b, &bname)? {
                            res.problems.push(format!(
                                "{} does not match its name; not moved",
                                b.display()
                            ));
                            verified = false;
                            continue;
                        }
                        let want = bname.clone();
                        place(&b, &dest, &|p| content_matches_name(p, &want), steps)?;
                    }
                }
            }
        }
        if !apply {
            continue;
        }
        // Snapshots: links recreated relative to the central blobs; real files placed as is.
        let snaps = entry.join("snapshots");
        for (f, meta) in walk_repo_files(&snaps) {
            let rel = f.strip_prefix(&snaps).unwrap_or(&f).to_path_buf();
            let dest = central.join("snapshots").join(&rel);
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&f)?;
                let etag = target
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let blob = central.join("blobs").join(&etag);
                if !blob.exists() {
                    res.problems.push(format!(
                        "{}: its blob {etag} is in neither cache",
                        f.display()
                    ));
                    verified = false;
                    continue;
                }
                if fs::symlink_metadata(&dest).is_err() {
                    let depth = rel.components().count() - 1; // below snapshots/<commit>/
                    let link = PathBuf::from(format!(
                        "{}../../blobs/{etag}",
                        "../".repeat(depth.saturating_sub(1))
                    ));
                    fs::create_dir_all(dest.parent().unwrap_or(&central))?;
                    std::os::unix::fs::symlink(&link, &dest)
                        .with_context(|| format!("linking {}", dest.display()))?;
                    steps.step();
                }
                verified &= dest.exists();
            } else if meta.is_file() {
                if fs::symlink_metadata(&dest).is_err() {
                    let h = sha256_file(&f)?;
                    place(&f, &dest, &|p| Ok(sha256_file(p)? == h), steps)?;
                }
                verified &= dest.exists();
            }
        }
        // refs: the central one wins on a conflict; the other revision's snapshot stays.
        for (r, meta) in walk_repo_files(&entry.join("refs")) {
            if !meta.is_file() {
                continue;
            }
            let rel = r
                .strip_prefix(entry.join("refs"))
                .unwrap_or(&r)
                .to_path_buf();
            let dest = central.join("refs").join(&rel);
            if !dest.exists() {
                crate::fsutil::write_atomic(&dest, &fs::read(&r)?)?;
                steps.step();
            }
        }
        for side in [".no_exist", "trees"] {
            for (f, meta) in walk_repo_files(&entry.join(side)) {
                if !meta.is_file() {
                    continue;
                }
                let dest = central
                    .join(side)
                    .join(f.strip_prefix(entry.join(side)).unwrap_or(&f));
                if !dest.exists() {
                    crate::fsutil::write_atomic(&dest, &fs::read(&f)?)?;
                    steps.step();
                }
            }
        }
        // Every local snapshot file must now resolve centrally.
        for (f, _) in walk_repo_files(&snaps) {
            let rel = f.strip_prefix(&snaps).unwrap_or(&f);
            if !central.join("snapshots").join(rel).exists() {
                res.problems
                    .push(format!("{} is not present centrally", f.display()));
                verified = false;
            }
        }
        for d in [
            central.join("blobs"),
            central.join("refs"),
            central.join("snapshots"),
        ] {
            fs::create_dir_all(d)?;
        }
    }
    if apply && verified && res.problems.is_empty() {
        fs::remove_dir_all(&cache.path)
            .with_context(|| format!("removing {}", cache.path.display()))?;
        sync_dir(&cache.path);
        steps.step();
        res.removed = true;
    }
    Ok(res)
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

/// Adds `import os` after a module docstring and `__future__` imports when it is missing.
fn ensure_import_os(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.iter().any(|l| {
        let t = l.trim();
        t == "import os"
            || t.starts_with("import os ")
            || t.starts_with("import os,")
            || t.starts_with("import os.")
    }) {
        return text.to_owned();
    }
    let mut i = 0;
    while i < lines.len() && (lines[i].trim().is_empty() || lines[i].trim_start().starts_with('#'))
    {
        i += 1;
    }
    if i < lines.len() {
        let t = lines[i].trim_start();
        for quote in ["\"\"\"", "'''"] {
            if let Some(after) = t.strip_prefix(quote) {
                if after.contains(quote) {
                    i += 1;
                } else {
                    i += 1;
                    while i < lines.len() && !lines[i].contains(quote) {
                        i += 1;
                    }
                    i += 1;
                }
                break;
            }
        }
    }
    while i < lines.len() && lines[i].trim_start().starts_with("from __future__") {
        i += 1;
    }
    let i = i.min(lines.len());
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out: String = lines[..i].concat();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    out.push_str("import os");
    out.push_str(eol);
    out.push_str(&lines[i..].concat());
    out
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
        let mut parts: Vec<String> = old.split_inclusive('\n').map(str::to_owned).collect();
        let mut python = false;
        for c in lines {
            let Some(line) = parts.get_mut(c.line - 1) else {
                continue;
            };
            let central = central_for(settings, &c.key);
            if name.ends_with(".py") {
                let literal_at = line
                    .find(&format!("\"{}\"", c.value))
                    .or_else(|| line.find(&format!("'{}'", c.value)));
                if let Some(at) = literal_at {
                    let len = c.value.len() + 2;
                    let expr = format!("({})", python_expr(settings, &c.key));
                    line.replace_range(at..at + len, &expr);
                    python = true;
                }
            } else if name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".toml") {
                if let Some(at) = line.find(&c.value) {
                    let q = serde_json::to_string(&central.to_string_lossy())?;
                    line.replace_range(at..at + c.value.len(), &q);
                }
            } else {
                let v = crate::dotenv::render_value(&central, settings)?;
                if let Some(new) = crate::dotenv::replace_value(line, &v) {
                    *line = new;
                }
            }
        }
        let mut new: String = parts.concat();
        if python {
            new = ensure_import_os(&new);
        }
        if new != old {
            out.insert(path, (old, new));
        }
    }
    Ok(out)
}

/// One migrate at a time: an exclusive lock held for the run.
pub fn lock(settings: &Settings) -> Result<fs::File> {
    fs::create_dir_all(&settings.state_dir)?;
    let p = settings.state_dir.join("migrate.lock");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(|_| {
        anyhow::anyhow!(
            "another `modelenv migrate` is running (lock {} is held)",
            p.display()
        )
    })?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_os_goes_after_docstring_and_future() {
        let t = "\"\"\"Settings.\"\"\"\nfrom __future__ import annotations\nfrom pydantic import BaseModel\n";
        assert_eq!(
            ensure_import_os(t),
            "\"\"\"Settings.\"\"\"\nfrom __future__ import annotations\nimport os\nfrom pydantic import BaseModel\n"
        );
        assert_eq!(ensure_import_os("import os\nx = 1\n"), "import os\nx = 1\n");
    }
}
