//! One module per subcommand.

pub mod completions;
pub mod config;
pub mod dedupe;
pub mod doctor;
pub mod init;
pub mod install;
pub mod inventory;
pub mod manage;
pub mod migrate;
pub mod models;
pub mod prune;
pub mod scan;
pub mod uninstall;
pub mod usage;

use std::path::Path;

use crate::settings::Settings;

/// A path for messages: `~/…` below HOME.
pub fn show(settings: &Settings, p: &Path) -> String {
    settings.tilde(p)
}

/// The folders a repo-wide command works on: those given (relative to the current folder),
/// else the git root of the current folder.
pub fn roots(
    settings: &Settings,
    dirs: &[std::path::PathBuf],
    verb: &str,
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    if dirs.is_empty() {
        return match crate::repo::git_root(&settings.cwd) {
            Some(r) => Ok(vec![r]),
            None => anyhow::bail!("not inside a git repository: pass the folders to {verb}"),
        };
    }
    Ok(dirs
        .iter()
        .map(|d| {
            if d.is_absolute() {
                d.clone()
            } else {
                settings.cwd.join(d)
            }
        })
        .collect())
}

/// The edits that touch the user's files (modelenv's own state is not the user's business in
/// diffs and summaries); in a dry run, each one's diff is printed.
pub fn user_changes<'a>(
    settings: &Settings,
    edits: &'a [crate::edit::Edit],
    dry_run: bool,
) -> Vec<&'a crate::edit::Edit> {
    let changed: Vec<&crate::edit::Edit> = edits
        .iter()
        .filter(|e| e.changes() && !e.real.starts_with(&settings.state_dir))
        .collect();
    if dry_run {
        for e in &changed {
            print!("{}", e.diff(&show(settings, &e.path)));
        }
    }
    changed
}
