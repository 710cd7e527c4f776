//! Planned file changes: shown as unified diffs in a dry run, applied all-or-nothing-checked
//! otherwise (every file is checked for writability before the first one is written), with a
//! one-time backup of each original and a state file that lets uninstall undo them exactly.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::dotenv::Originals;
use crate::fsutil;

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

/// Checks every edit can be written, then writes them, backing up each original once.
pub fn apply(edits: &[Edit], backup_dir: &Path) -> Result<()> {
    for e in edits.iter().filter(|e| e.changes()) {
        fsutil::check_writable(&e.real)?;
    }
    for e in edits.iter().filter(|e| e.changes()) {
        if let Some(old) = &e.old {
            backup_once(&e.real, old, backup_dir)?;
        }
        match &e.new {
            Some(text) => fsutil::write_atomic(&e.real, text.as_bytes())?,
            None => fsutil::remove_file(&e.real)?,
        }
    }
    Ok(())
}

fn backup_once(real: &Path, content: &str, backup_dir: &Path) -> Result<()> {
    if real.starts_with(backup_dir.parent().unwrap_or(backup_dir)) {
        return Ok(()); // modelenv's own state needs no backup
    }
    let name = real
        .to_string_lossy()
        .trim_start_matches('/')
        .replace('/', "%");
    let dest = backup_dir.join(name);
    if dest.exists() {
        return Ok(());
    }
    fs::create_dir_all(backup_dir).with_context(|| format!("creating {}", backup_dir.display()))?;
    fsutil::write_atomic(&dest, content.as_bytes())
}
