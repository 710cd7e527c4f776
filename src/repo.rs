//! Finding the repository whose root `.env.example` modelenv manages.

use std::path::{Path, PathBuf};

/// The nearest folder at or above `start` that holds `.git` (a folder, or a file for worktrees).
pub fn git_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join(".git").symlink_metadata().is_ok())
        .map(Path::to_path_buf)
}
