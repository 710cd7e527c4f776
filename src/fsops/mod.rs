//! The one module that changes the disk. Everything else plans: it builds a [`Plan`] of
//! operations, each naming the [`Root`] it must stay under and the [`Fingerprint`] the planner
//! saw, and hands it to [`Run::execute`]. Right before each operation the guard re-resolves
//! its path beneath the root without following any link (`openat` + `O_NOFOLLOW`, component by
//! component), checks the root and the target are the ones the plan saw (device, inode, size,
//! mtime; the content hash where it drops or links a copy), refuses other filesystems and
//! special files, and only then acts through the directory handle it resolved.
//!
//! `clippy.toml` bans the calls that remove, rename, link or write files everywhere but here,
//! so a new command cannot bypass the guard; `scripts/check-fs-ban.sh` proves the ban bites.

#![allow(clippy::disallowed_methods)]

mod exec;
mod guard;
pub mod hash;
mod journal;
mod plan;
pub mod share;
mod tree;
mod write;

pub use exec::{OpResult, Outcome, Run, Status};
pub use guard::{Fingerprint, Refusal, Root, Roots};
pub use journal::{StoreLock, interrupted};
pub use plan::{LinkKind, OpView, Plan, Verify};
pub use tree::{bytes_read, planner_name_matches, planner_sha256};
pub use write::{sibling_path, write_atomic};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod mutant_tests;
