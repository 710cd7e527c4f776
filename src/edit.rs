//! Planned file changes: shown as unified diffs in a dry run, applied all-or-nothing-checked
//! otherwise (every file is checked for writability before the first one is written), with a
//! one-time backup of each original and a state file that lets uninstall undo them exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::dotenv::Originals;
use crate::fsops::{Plan, Root, Run};
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

    /// The state file's edit (`None` content deletes it when nothing is recorded).
    pub fn edit(&self, state_dir: &Path) -> Result<Edit> {
        let p = Self::path(state_dir);
        let old = fsutil::read_optional(&p)?;
        let new = if self.files.is_empty() && self.dotenv_files.is_empty() {
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
    let mut plan = Plan::new();
    // modelenv's own record of what it changes is written before the files it describes.
    let state_dir = backup_dir.parent().unwrap_or(backup_dir);
    let mut ordered: Vec<&Edit> = edits.iter().filter(|e| e.changes()).collect();
    ordered.sort_by_key(|e| !e.real.starts_with(state_dir));
    for e in ordered {
        fsutil::check_writable(&e.real)?;
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
        match &e.new {
            Some(text) => plan.write(&root, &e.real, text.as_bytes())?,
            None => plan.remove(&root, &e.real)?,
        }
    }
    Ok(plan)
}

/// Refuses, before anything changes, edits of files that cannot be written.
pub fn check(edits: &[Edit]) -> Result<()> {
    for e in edits.iter().filter(|e| e.changes()) {
        fsutil::check_writable(&e.real)?;
    }
    Ok(())
}

/// Checks every edit can be written, then writes them, backing up each original once; stops
/// with an error naming every file that could not be written.
pub fn apply(settings: &Settings, command: &str, edits: &[Edit]) -> Result<()> {
    let plan = plan(edits, &settings.state_dir.join("backups"))?;
    let outcome =
        Run::new(&settings.state_dir, command, settings.test_kill_after).execute(&plan)?;
    if !outcome.complete() {
        bail!("{}", outcome.problems().join("\n"));
    }
    Ok(())
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
