//! Planned file changes: shown as unified diffs in a dry run, applied all-or-nothing-checked
//! otherwise (every file is checked for writability before the first one is written), with a
//! one-time backup of each original and a state file that lets uninstall undo them exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::dotenv::Originals;
use crate::fsops::{Plan, Root, Run, Status};
use crate::fsutil;
use crate::settings::Settings;

/// One file's planned change. `new == None` deletes the file.
#[derive(Debug)]
pub struct Edit {
    /// The path as the user knows it (may be a symlink).
    pub path: PathBuf,
    /// The file that really holds the content.
    pub real: PathBuf,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl Edit {
    pub fn changes(&self) -> bool {
        self.old != self.new
    }

    pub fn diff(&self, display: &str) -> String {
        let old = self.old.as_deref().unwrap_or("");
        let new = self.new.as_deref().unwrap_or("");
        let display = display.trim_start_matches('/');
        let a = if self.old.is_some() {
            format!("a/{display}")
        } else {
            "/dev/null".into()
        };
        let b = if self.new.is_some() {
            format!("b/{display}")
        } else {
            "/dev/null".into()
        };
        similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(&a, &b)
            .to_string()
    }
}

/// What install did to each file, keyed by the path as the user knows it.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq, Clone)]
pub struct State {
    #[serde(default)]
    pub files: BTreeMap<PathBuf, Originals>,
    /// `.env` files install edited (their records are in `files` too).
    #[serde(default)]
    pub dotenv_files: Vec<PathBuf>,
    /// `install --system` only: the system config as it was before install first changed it,
    /// put back by `uninstall --system` (`text: None`: install created it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_before: Option<Before>,
    /// `install --system` only: the folders it created for its files (`/etc/modelenv`),
    /// removed by `uninstall --system` when they are empty again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_dirs: Vec<PathBuf>,
    /// Hub caches `config set hf_home` moved the central store away from while they still
    /// held models: named by later runs, merged by `config set … --apply`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub old_hub_caches: Vec<PathBuf>,
    /// `install --system` only: the system config as install last wrote it; uninstall puts
    /// the old one back only while it is still that (an admin's later edit is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_written: Option<String>,
}

/// A file's content before modelenv first changed it (`None`: it did not exist).
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq, Clone)]
pub struct Before {
    pub text: Option<String>,
}

impl State {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("state.json")
    }

    pub fn load(state_dir: &Path) -> Result<State> {
        let p = Self::path(state_dir);
        fsutil::check_owned(state_dir)?;
        fsutil::check_owned(&p)?;
        match fsutil::read_optional(&p)? {
            None => Ok(State::default()),
            Some(t) => serde_json::from_str(&t).with_context(|| format!("parsing {}", p.display())),
        }
    }

    /// Records the folders `edits` create for the files they create (the missing ancestors),
    /// so uninstall can remove them once they are empty again.
    pub fn note_created_dirs(&mut self, edits: &[Edit]) {
        for e in edits.iter().filter(|e| e.changes() && e.new.is_some()) {
            if let Some(parent) = e.real.parent() {
                self.note_missing_dirs(parent);
            }
        }
    }

    /// Records `dir` and its ancestors that do not exist yet: the folders something about
    /// to be made there will create.
    pub fn note_missing_dirs(&mut self, dir: &Path) {
        for d in dir.ancestors().take_while(|a| !a.exists()) {
            if !self.created_dirs.iter().any(|c| c == d) {
                self.created_dirs.push(d.to_path_buf());
            }
        }
    }

    /// The state file's edit (`None` content deletes it when nothing is recorded).
    pub fn edit(&self, state_dir: &Path) -> Result<Edit> {
        let p = Self::path(state_dir);
        let old = fsutil::read_optional(&p)?;
        let new = if self.files.is_empty()
            && self.dotenv_files.is_empty()
            && self.config_before.is_none()
            && self.created_dirs.is_empty()
            && self.old_hub_caches.is_empty()
            && self.config_written.is_none()
        {
            None
        } else {
            Some(serde_json::to_string_pretty(self)? + "\n")
        };
        // Rewrite only when the meaning changed, so a repeated install touches no byte.
        let same = match (&old, &new) {
            (Some(o), Some(_)) => serde_json::from_str::<State>(o).ok().as_ref() == Some(self),
            (None, None) => true,
            _ => false,
        };
        Ok(Edit {
            real: p.clone(),
            path: p,
            new: if same { old.clone() } else { new },
            old,
        })
    }
}

/// The nearest folder of `p` that exists: the root its edit stays under (missing folders
/// between are created beneath it).
fn existing_ancestor(p: &Path) -> &Path {
    p.ancestors()
        .skip(1)
        .find(|a| a.is_dir())
        .unwrap_or(Path::new("/"))
}

/// Plans `edits`: a one-time backup of each original, then each file's new content (or its
/// removal). Nothing is changed.
pub fn plan(edits: &[Edit], backup_dir: &Path) -> Result<Plan> {
    Ok(plan_indexed(edits, backup_dir)?.0)
}

/// [`plan`], and for each edit that changes a file, the index of the operation that replaces
/// it: what a rollback must undo when that operation happened.
fn plan_indexed(edits: &[Edit], backup_dir: &Path) -> Result<(Plan, Vec<(usize, usize)>)> {
    let mut plan = Plan::new();
    let mut replaced = Vec::new();
    // modelenv's own record of what it changes is written before the files it describes.
    let state_dir = backup_dir.parent().unwrap_or(backup_dir);
    let mut ordered: Vec<(usize, &Edit)> = edits
        .iter()
        .enumerate()
        .filter(|(_, e)| e.changes())
        .collect();
    ordered.sort_by_key(|(_, e)| !e.real.starts_with(state_dir));
    for (i, e) in ordered {
        check_target(e)?;
        let root = Root::open(existing_ancestor(&e.real))
            .with_context(|| format!("opening the folder of {}", e.real.display()))?;
        if let Some(old) = &e.old
            && let Some(dest) = backup_path(&e.real, backup_dir)
            && !dest.exists()
        {
            let broot = Root::open(existing_ancestor(&dest))
                .with_context(|| format!("opening {}", backup_dir.display()))?;
            plan.write(&broot, &dest, old.as_bytes())?;
        }
        replaced.push((plan.len(), i));
        match &e.new {
            Some(text) => plan.write(&root, &e.real, text.as_bytes())?,
            None => plan.remove(&root, &e.real)?,
        }
    }
    Ok((plan, replaced))
}

/// Refuses, before anything changes, edits of files that cannot be written.
pub fn check(edits: &[Edit]) -> Result<()> {
    for e in edits.iter().filter(|e| e.changes()) {
        check_target(e)?;
    }
    Ok(())
}

/// A file modelenv may replace: writable, and replacing it keeps what the user has.
fn check_target(e: &Edit) -> Result<()> {
    fsutil::check_writable(&e.real)?;
    fsutil::check_replaceable(&e.real)
}

/// Checks every edit can be written, then writes them, backing up each original once. All or
/// nothing: when one cannot be written (a full disk), the files already replaced get their
/// old content back, the undo record included, and the error names what failed.
pub fn apply(settings: &Settings, command: &str, edits: &[Edit]) -> Result<()> {
    let backups = settings.state_dir.join("backups");
    let (plan, replaced) = plan_indexed(edits, &backups)?;
    let outcome =
        Run::new(&settings.state_dir, command, settings.test_kill_after).execute(&plan)?;
    if outcome.complete() {
        return Ok(());
    }
    let problems = outcome.problems().join("\n");
    let mut back = Plan::new();
    for &(op, i) in replaced.iter().rev() {
        if outcome.results.get(op).map(|r| r.status) != Some(Status::Done) {
            continue;
        }
        let e = &edits[i];
        let root = Root::open(existing_ancestor(&e.real))
            .with_context(|| format!("opening the folder of {}", e.real.display()))?;
        match &e.old {
            Some(old) => back.write(&root, &e.real, old.as_bytes())?,
            None => back.remove(&root, &e.real)?,
        }
    }
    let undone =
        Run::new(&settings.state_dir, &format!("{command} rollback"), None).execute(&back)?;
    if undone.complete() {
        bail!(
            "{problems}\n`{command}` changed nothing: the {} file(s) it had already written were put back",
            back.len()
        );
    }
    bail!(
        "{problems}\nputting back what `{command}` had written failed too:\n{}\nthe originals are in {}",
        undone.problems().join("\n"),
        backups.display()
    )
}

/// Where the first original of `real` is kept; `None` for modelenv's own state.
fn backup_path(real: &Path, backup_dir: &Path) -> Option<PathBuf> {
    if real.starts_with(backup_dir.parent().unwrap_or(backup_dir)) {
        return None;
    }
    let name = real
        .to_string_lossy()
        .trim_start_matches('/')
        .replace('/', "%");
    Some(backup_dir.join(name))
}
