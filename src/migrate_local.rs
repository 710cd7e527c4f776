//! Hidden copies brought into the open. `migrate --stray`: a folder of the hub cache that is
//! not in the hub layout moves to CUSTOM_MODEL_DIR under its own name.
//!
//! `migrate --local-dir`: a `--local-dir` download imported into the central hub cache as
//! the blobs and snapshot huggingface_hub itself would have made for its commit. The folder
//! stays usable where it is: each file the central store lacks is checked against its etag,
//! moved into `blobs/` (a rename: one filesystem only) and linked back under its old name, so
//! it keeps its inode and mtime and its download metadata stays valid. Files the central
//! store already holds are left for `modelenv dedupe` to link.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::fsops::{Plan, Root, Verify};
use crate::settings::Settings;
use crate::stores::localdir::{self, BlobIndex};
use crate::stores::name_hash;

#[derive(Debug, Serialize)]
pub struct Import {
    pub path: PathBuf,
    pub repo: String,
    pub repo_type: String,
    /// Where the repo is in the central hub cache.
    pub repo_path: PathBuf,
    pub commit: String,
    pub snapshot: PathBuf,
    pub files: usize,
    /// Bytes moved into the central blobs (and linked back).
    pub imported_bytes: u64,
    /// Bytes the central store already held: `modelenv dedupe` links them.
    pub already_central_bytes: u64,
    /// The ref (`--ref`) that names the commit after the import.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
}

fn nearest(p: &Path) -> Result<Root> {
    let existing = p.ancestors().find(|a| a.is_dir()).unwrap_or(Path::new("/"));
    Root::open(existing).with_context(|| format!("opening {}", existing.display()))
}

/// `../` × depth + `../../blobs/<etag>`: the relative link huggingface_hub makes.
fn snapshot_target(filename: &str, etag: &str) -> PathBuf {
    let depth = filename.matches('/').count();
    PathBuf::from(format!("{}../../blobs/{etag}", "../".repeat(depth)))
}

/// Plans the import of the download `dir`, changing nothing. Every reason it cannot be
/// imported whole is an error (exit 2): nothing is planned then.
pub fn plan(
    settings: &Settings,
    dir: &Path,
    repo: Option<&str>,
    repo_type: &str,
    git_ref: Option<&str>,
) -> Result<(Import, Plan)> {
    if let Some(r) = git_ref
        && !valid_ref(r)
    {
        bail!(
            "--ref {r:?} is not a ref name (a branch or tag such as `main` or `v1.0`: letters, digits, `.`, `_`, `-`, parts joined by `/`; not a commit hash); nothing was changed"
        );
    }
    if !localdir::is_local_dir(dir) {
        bail!(
            "{} is not a --local-dir download: it has no {}/ (huggingface_hub's download metadata)",
            dir.display(),
            localdir::METADATA_DIR
        );
    }
    let hub = settings.hub_cache();
    if let Some(central) = crate::migrate::central_overlap(settings, dir, &[])
        && (central == hub || central == settings.hf_home)
    {
        bail!(
            "{} is, holds or lies inside the hub cache {}; nothing to import",
            dir.display(),
            central.display()
        );
    }
    let blobs = BlobIndex::of_hub(&hub);
    let found = localdir::read(dir, &blobs);
    if found.files.is_empty() {
        bail!("{} holds no downloaded file to import", dir.display());
    }
    let (repo, repo_type) = match (repo, &found.repo) {
        (Some(r), Some(held)) if r != held => bail!(
            "--repo {r}: the central store already holds these files as {held}; pass --repo {held} (or leave --repo out), nothing was changed"
        ),
        (Some(r), _) => (r.to_owned(), repo_type.to_owned()),
        (None, Some(r)) => (r.clone(), found.repo_type.unwrap_or("model").to_owned()),
        (None, None) => bail!(
            "the download metadata of {} does not name its repo and no central repo holds its files; pass it: --repo ORG/NAME",
            dir.display()
        ),
    };
    if !valid_repo_id(&repo) {
        bail!(
            "{repo} is not a repo id (ORG/NAME or NAME: letters, digits, `-`, `_`, `.`; no `--` or `..`, not starting or ending with `-` or `.`); pass --repo ORG/NAME"
        );
    }
    let [commit] = found.commits.as_slice() else {
        bail!(
            "{} holds files of {} commits ({}); a snapshot is one commit: download it again with `hf download --local-dir` to make it whole",
            dir.display(),
            found.commits.len(),
            found.commits.join(", ")
        );
    };
    if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "{commit} in the download metadata of {} is not a commit hash",
            dir.display()
        );
    }
    let stale: Vec<&str> = found
        .files
        .iter()
        .filter(|f| !f.metadata_valid)
        .map(|f| f.filename.as_str())
        .collect();
    if !stale.is_empty() {
        bail!(
            "{} changed since it was downloaded (huggingface_hub no longer trusts its metadata), so it may not be the commit's content: {}; restore or download it again",
            dir.display(),
            stale.join(", ")
        );
    }
    let repo_blobs = hub
        .join(crate::stores::hub::folder_name(&repo_type, &repo))
        .join("blobs");
    for f in &found.files {
        // A file with another name besides (a backup made with `ln`) would make that name the
        // central blob too; one whose other name is already its central blob was imported.
        if let Ok(m) = std::fs::symlink_metadata(&f.path)
            && m.nlink() > 1
            && !std::fs::symlink_metadata(repo_blobs.join(&f.etag))
                .is_ok_and(|b| (b.dev(), b.ino()) == (m.dev(), m.ino()))
        {
            bail!(
                "{} has other hard links: importing it would make them the central blob too; copy it (`cp --remove-destination`) or remove the other names first",
                f.path.display()
            );
        }
        if crate::stores::downloads::lock_held(&localdir::lock_path(dir, &f.filename)) {
            bail!(
                "huggingface_hub is downloading {} (its lock is held); run migrate when it is done",
                f.path.display()
            );
        }
        if name_hash(&f.etag).is_none() {
            bail!(
                "the etag {} of {} is not a content hash; it cannot be a central blob",
                f.etag,
                f.path.display()
            );
        }
    }
    let repo_path = hub.join(crate::stores::hub::folder_name(&repo_type, &repo));
    let snapshot = repo_path.join("snapshots").join(commit);
    let local_root = Root::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    let hub_root = nearest(&hub)?;
    let hub_dev = fs::metadata(hub_root.path())?.dev();
    let mut plan = Plan::new();
    plan.group();
    let mut import = Import {
        path: dir.to_path_buf(),
        repo: repo.clone(),
        repo_type: repo_type.clone(),
        repo_path: repo_path.clone(),
        commit: commit.clone(),
        snapshot: snapshot.clone(),
        files: found.files.len(),
        imported_bytes: 0,
        already_central_bytes: 0,
        git_ref: git_ref.map(str::to_owned),
    };
    // Every file to import is proven to hold its etag's content before the first one moves,
    // then each moves and is linked back, and only then the snapshot links are made.
    let mut moving: HashSet<&str> = HashSet::new();
    let mut to_move = Vec::new();
    let mut central_checks = Vec::new();
    for f in &found.files {
        let blob = repo_path.join("blobs").join(&f.etag);
        match fs::symlink_metadata(&blob) {
            Ok(m) if m.is_file() && m.len() == f.bytes => {
                // The snapshot will point at it: it must hold its name's content (checked
                // again right before the first change).
                if crate::fsops::planner_name_matches(&blob, &f.etag)? == Some(false) {
                    bail!(
                        "the central blob {} is damaged (its content is not what its name promises): the snapshot would serve it for {}; delete that blob (this download has the good copy) and run this again; nothing was changed",
                        blob.display(),
                        f.path.display()
                    );
                }
                central_checks.push((blob, f.etag.clone()));
                import.already_central_bytes += f.bytes;
            }
            Ok(_) => bail!(
                "{} is in the central store but is not a file of {} bytes like {}; fix or remove it first",
                blob.display(),
                f.bytes,
                f.path.display()
            ),
            Err(_) if moving.contains(f.etag.as_str()) => {
                import.already_central_bytes += f.bytes;
            }
            Err(_) => {
                if fs::symlink_metadata(&f.path)?.dev() != hub_dev {
                    bail!(
                        "{} is on another filesystem than the hub cache {}; import needs both on one (a copy would leave two)",
                        f.path.display(),
                        hub.display()
                    );
                }
                plan.check(&local_root, &f.path, Verify::Name(f.etag.clone()))?;
                moving.insert(&f.etag);
                import.imported_bytes += f.bytes;
                to_move.push((f, blob));
            }
        }
    }
    // The ref, when asked: written last, so it never names a snapshot still being made.
    let ref_write = match git_ref {
        None => None,
        Some(r) => {
            let path = repo_path.join("refs").join(r);
            match fs::symlink_metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(path),
                Err(e) => bail!("reading {}: {e}", path.display()),
                Ok(m) if !m.is_file() => bail!(
                    "{} is not a file (a link or a folder): huggingface_hub reads a ref as a file holding the commit; fix or remove it first; nothing was changed",
                    path.display()
                ),
                Ok(_) => {
                    let held = fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    if held == *commit {
                        None
                    } else if held.trim() == commit {
                        // huggingface_hub reads the file as it is: with a line end it names
                        // no commit. Written again without one.
                        Some(path)
                    } else {
                        bail!(
                            "the central store's ref {r} of {repo} names the commit {} and this download is {commit}: leave --ref out (the import is then reached by its commit) or download {r} again; nothing was changed",
                            held.trim()
                        )
                    }
                }
            }
        }
    };
    let mut links = Vec::new();
    for f in &found.files {
        let link = snapshot.join(&f.filename);
        let target = snapshot_target(&f.filename, &f.etag);
        match fs::symlink_metadata(&link) {
            Err(_) => links.push((link, target)),
            Ok(m) if m.file_type().is_symlink() && fs::read_link(&link)? == target => {}
            Ok(_) => bail!(
                "{} is already in the snapshot and is not a link to the blob {}; nothing was changed",
                link.display(),
                f.etag
            ),
        }
    }
    // With anything to change, the central blobs the snapshot points at are checked again
    // right before the first change.
    if !to_move.is_empty() || !links.is_empty() {
        for (blob, etag) in central_checks {
            plan.check(&hub_root, &blob, Verify::Name(etag))?;
        }
    }
    for (f, blob) in to_move {
        plan.move_to(
            &local_root,
            &f.path,
            &hub_root,
            &blob,
            Verify::Name(f.etag.clone()),
        )?;
        plan.link_back(&local_root, &f.path, &hub_root, &blob)?;
    }
    for (link, target) in links {
        plan.symlink(&hub_root, &link, &target)?;
    }
    if let Some(path) = ref_write {
        if let Some(dir) = path.parent().filter(|d| !d.is_dir()) {
            plan.create_dir(&hub_root, dir)?;
        }
        // As huggingface_hub writes it: the commit, no line end.
        plan.write(&hub_root, &path, commit.as_bytes())?;
    }
    Ok((import, plan))
}

/// A branch or tag name as a ref file under `refs/` can hold it: `/`-joined parts of letters,
/// digits, `.`, `_` and `-`, none `.` or `..`; not a commit hash.
fn valid_ref(r: &str) -> bool {
    let is_commit = r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit());
    !is_commit
        && r.split('/').all(|p| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}

/// A stray folder of the hub cache and where it goes.
#[derive(Debug, Serialize)]
pub struct StrayMove {
    pub path: PathBuf,
    pub to: PathBuf,
    pub bytes: u64,
}

/// Plans moving the stray folder `dir` of the central hub cache to CUSTOM_MODEL_DIR under its
/// name; anything else given is an error (exit 2) and nothing is planned.
pub fn plan_stray(settings: &Settings, dir: &Path, plan: &mut Plan) -> Result<StrayMove> {
    let hub = settings.hub_cache();
    let hub_root = Root::open(&hub).with_context(|| format!("opening {}", hub.display()))?;
    let parent = dir.parent().unwrap_or(Path::new("/"));
    let in_hub = Root::open(parent).is_ok_and(|r| r.is(&hub_root));
    let listed = crate::stores::hub::stray_folders(&hub)
        .iter()
        .any(|s| s.file_name() == dir.file_name());
    if !in_hub || !listed {
        bail!(
            "{} is not a stray folder of the hub cache {} (a folder directly in it, not in the hub layout); `modelenv usage` lists them",
            dir.display(),
            hub.display()
        );
    }
    if localdir::is_local_dir(dir) {
        for (f, _) in localdir::entries(dir) {
            if crate::stores::downloads::lock_held(&localdir::lock_path(dir, &f)) {
                bail!(
                    "huggingface_hub is downloading into {} (the lock of {f} is held); run migrate when it is done",
                    dir.display()
                );
            }
        }
    }
    // A relative link that climbs out of the folder (into a repo's blobs) would point
    // nowhere once the folder moves.
    if let Some(link) = link_out_of(dir) {
        bail!(
            "{} links out of {} (relative links into the hub cache would break once it moves); replace it by the file it points to first",
            link.display(),
            dir.display()
        );
    }
    let name = dir.file_name().context("a folder with no name")?;
    let to = settings.custom_model_dir.join(name);
    if fs::symlink_metadata(&to).is_ok() {
        bail!(
            "{} exists already; rename one of the two first",
            to.display()
        );
    }
    let custom_root = nearest(&settings.custom_model_dir)?;
    plan.group();
    plan.move_to(&hub_root, dir, &custom_root, &to, Verify::Source)?;
    Ok(StrayMove {
        path: dir.to_path_buf(),
        to,
        bytes: crate::scan_size(dir),
    })
}

/// A repo id as huggingface_hub's `validate_repo_id` accepts it (and one that reads back
/// from its cache folder name unchanged: no `--`).
fn valid_repo_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('/').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 96
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                && !p.starts_with(['-', '.'])
                && !p.ends_with(['-', '.'])
                && !p.contains("--")
                && !p.contains("..")
        })
}

/// A relative symbolic link under `dir` whose target lies outside it, if any. Reads only.
fn link_out_of(dir: &Path) -> Option<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_symlink()
                && let Ok(target) = fs::read_link(&p)
                && target.is_relative()
                && !crate::settings::normalize(&d.join(&target)).starts_with(dir)
            {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // fixtures are made by hand
mod tests {
    use super::*;

    #[test]
    fn repo_ids_are_checked_as_huggingface_hub_checks_them() {
        for ok in ["org/name", "gpt2", "Org-1/na.me_2"] {
            assert!(valid_repo_id(ok), "{ok}");
        }
        for bad in [
            ".",
            "org/.",
            "org/na me",
            "org/a--b",
            "a/b/c",
            "org/",
            "-x/y",
            "x/y.",
            "a..b",
        ] {
            assert!(!valid_repo_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_relative_link_out_of_a_folder_is_found() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("conv");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::os::unix::fs::symlink("../inside", d.join("sub/ok")).unwrap();
        assert_eq!(link_out_of(&d), None);
        std::os::unix::fs::symlink("../../models--o--m/blobs/x", d.join("sub/out")).unwrap();
        assert_eq!(link_out_of(&d), Some(d.join("sub/out")));
    }

    #[test]
    fn snapshot_links_climb_out_of_subfolders() {
        assert_eq!(
            snapshot_target("a/b/c.bin", "e"),
            PathBuf::from("../../../../blobs/e")
        );
        assert_eq!(
            snapshot_target("c.bin", "e"),
            PathBuf::from("../../blobs/e")
        );
    }
}
