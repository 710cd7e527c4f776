//! One module per subcommand.

pub mod completions;
pub mod config;
pub mod dedupe;
pub mod default_link;
pub mod doctor;
pub mod init;
pub mod install;
pub mod inventory;
pub mod manage;
pub mod migrate;
pub mod models;
pub mod prune;
pub mod scan;
pub mod share;
pub mod system;
pub mod uninstall;
pub mod usage;

use std::path::Path;
use std::process::ExitCode;

use crate::settings::Settings;

/// How a command ended. Errors and refusals (nothing changed, the reason on stderr) are the
/// `Err` of a command's `Result` and exit 2; the user declining a prompt is `Ok`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Exit {
    /// 0: done, or nothing to do.
    Ok,
    /// 1: the command ran and found or left problems (a failed check, an operation refused).
    Problems,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        match e {
            Exit::Ok => ExitCode::SUCCESS,
            Exit::Problems => ExitCode::from(1),
        }
    }
}

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
    given_dirs(settings, dirs, verb)
}

/// Folders given on the command line, each checked to exist and be a folder (else an error:
/// exit 2), with `..` and links resolved so reports and checks see the real folder.
pub fn given_dirs(
    settings: &Settings,
    dirs: &[std::path::PathBuf],
    verb: &str,
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    dirs.iter()
        .map(|d| {
            let p = settings.absolute(d);
            let real = std::fs::canonicalize(&p)
                .map_err(|e| anyhow::anyhow!("cannot {verb} {}: {e}", p.display()))?;
            anyhow::ensure!(real.is_dir(), "cannot {verb} {}: not a folder", p.display());
            Ok(real)
        })
        .collect()
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

/// Before a command changes anything: the store lock (one modelenv at a time), then whatever
/// an interrupted earlier run left in the journal is finished.
pub fn begin_changes(settings: &Settings, command: &str) -> anyhow::Result<Changes> {
    // Every store is locked too (for other users of a shared one), even by commands that only
    // edit files: the journal they finish may be a prune's or a migrate's.
    let stores: Vec<(std::path::PathBuf, bool)> = store_paths(settings)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (p, i == 0))
        .collect();
    begin(settings, command, &stores)
}

/// [`begin_changes`] for `install --system` and `uninstall --system`, whose journal (root's,
/// in the system state folder) never holds a store's operations: no store is locked, so root
/// creates no lock file or `.locks` folder in a shared store that its users could not use.
pub fn begin_system_changes(settings: &Settings, command: &str) -> anyhow::Result<Changes> {
    begin(settings, command, &[])
}

fn begin(
    settings: &Settings,
    command: &str,
    stores: &[(std::path::PathBuf, bool)],
) -> anyhow::Result<Changes> {
    let lock = crate::fsops::StoreLock::acquire(&settings.state_dir, command)?
        .with_stores(stores, command)?;
    let mut run = crate::fsops::Run::new(&settings.state_dir, "resume", settings.test_kill_after);
    let mut resumed = Vec::new();
    let mut resumed_ops = Vec::new();
    for (cmd, outcome) in run.resume()? {
        crate::ui::note(format!(
            "finished the interrupted `modelenv {cmd}` ({} operation(s))",
            outcome.results.len()
        ));
        for p in outcome.problems() {
            crate::ui::warn(p);
        }
        resumed.push(cmd);
        resumed_ops.extend(outcome.results.into_iter().map(|r| r.op));
    }
    Ok(Changes {
        _lock: lock,
        resumed,
        resumed_ops,
    })
}

/// The right to change the stores, held until dropped, and the interrupted commands that
/// were finished before it was granted, with their operations.
pub struct Changes {
    _lock: crate::fsops::StoreLock,
    pub resumed: Vec<String>,
    pub resumed_ops: Vec<crate::fsops::OpView>,
}

impl Changes {
    /// An interrupted run just finished moved or removed `p` (by identity: `p`, which is
    /// gone, is resolved through the folders that are left, as the run's plan named it).
    pub fn finished_with(&self, p: &std::path::Path) -> bool {
        let real = crate::fsutil::resolve_existing(p);
        self.resumed_ops.iter().any(|op| op.path == real)
    }
}

/// Every store a model can live in, and the extra folders a command was given, by identity.
pub fn store_roots(settings: &Settings, extra: &[std::path::PathBuf]) -> crate::fsops::Roots {
    let mut paths = store_paths(settings);
    paths.extend(extra.iter().map(|d| settings.absolute(d)));
    crate::fsops::Roots::new(paths)
}

/// The model stores modelenv manages: the hub cache (first), Ollama's, the custom folder, LM
/// Studio's.
pub fn store_paths(settings: &Settings) -> Vec<std::path::PathBuf> {
    vec![
        settings.hub_cache(),
        settings.ollama_models.clone(),
        settings.custom_model_dir.clone(),
        crate::stores::lmstudio_models(&settings.home),
    ]
}

/// Removes the folders install created that are empty now (deepest first), then drops every
/// one of them from the undo record (a folder that is not empty is the user's now); returns
/// the ones it removed.
pub(super) fn remove_empty_dirs(
    settings: &Settings,
    command: &str,
    mut dirs: Vec<std::path::PathBuf>,
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    use anyhow::Context;
    let tried = dirs.clone();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    let mut plan = crate::fsops::Plan::new();
    let mut planned = Vec::new();
    for d in dirs {
        let empty = std::fs::read_dir(&d).is_ok_and(|mut r| r.next().is_none());
        // A parent holds only folders removed before it.
        let only_planned = std::fs::read_dir(&d).is_ok_and(|r| {
            r.filter_map(|e| e.ok())
                .all(|e| planned.iter().any(|p: &std::path::PathBuf| *p == e.path()))
        });
        let Some(parent) = d.parent() else { continue };
        if !(empty || only_planned) {
            continue;
        }
        let root = crate::fsops::Root::open(parent)
            .with_context(|| format!("opening {}", parent.display()))?;
        plan.remove_empty_dir(&root, &d)?;
        planned.push(d);
    }
    let removed = if plan.is_empty() {
        Vec::new()
    } else {
        let outcome = crate::fsops::Run::new(&settings.state_dir, command, None).execute(&plan)?;
        for p in outcome.problems() {
            crate::ui::warn(p);
        }
        // Only what was removed (one operation per folder, in order).
        use crate::fsops::Status;
        planned
            .into_iter()
            .zip(&outcome.results)
            .filter(|(_, r)| matches!(r.status, Status::Done | Status::AlreadyDone))
            .map(|(d, _)| d)
            .collect()
    };
    let mut state = crate::edit::State::load(&settings.state_dir)?;
    state.created_dirs.retain(|d| !tried.contains(d));
    crate::edit::apply(settings, command, &[state.edit(&settings.state_dir)?])?;
    Ok(removed)
}
