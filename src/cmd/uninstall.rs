//! `modelenv uninstall`: removes the managed blocks and restores the `.env` lines install
//! changed, so the user's files come back byte for byte; symlinks stay symlinks.

use crate::cmd::Exit;

use anyhow::Result;

use crate::block;
use crate::cli::UninstallArgs;
use crate::dotenv;
use crate::edit::{self, Edit, State};
use crate::fsutil;
use crate::settings::Settings;
use crate::shell::{self, Shell};
use crate::ui;

use super::show;

pub fn run(settings: &Settings, args: &UninstallArgs) -> Result<Exit> {
    if args.system {
        return super::system::uninstall(settings, args);
    }
    let shells: Vec<Shell> = if args.shells.is_empty() {
        shell::ALL.to_vec()
    } else {
        args.shells.clone()
    };
    // Planned and checked first, so a refusal changes nothing; planned again under the lock
    // (see install), from the undo record as it is then.
    let (mut edits, mut dirs) = plan_edits(settings, &shells, args)?;
    edit::check(&edits)?;
    let _changes = if args.dry_run {
        None
    } else {
        let c = super::begin_changes(settings, "uninstall")?;
        (edits, dirs) = plan_edits(settings, &shells, args)?;
        edit::check(&edits)?;
        Some(c)
    };
    let changed = super::user_changes(settings, &edits, args.dry_run);
    if args.shells.is_empty() {
        super::default_link::uninstall(settings, args.dry_run)?;
    }
    if args.dry_run {
        for d in &dirs {
            ui::note(format!(
                "would remove the folder {} if nothing else is in it",
                show(settings, d)
            ));
        }
        ui::note(format!(
            "dry run: {} file(s) would change; nothing was written",
            changed.len()
        ));
        return Ok(Exit::Ok);
    }
    edit::apply(settings, "uninstall", &edits)?;
    let removed = super::remove_empty_dirs(settings, "uninstall", dirs)?;
    for e in &changed {
        let verb = if e.new.is_none() {
            "removed"
        } else {
            "restored"
        };
        eprintln!("{verb} {}", show(settings, &e.path));
    }
    for d in &removed {
        eprintln!("removed the folder {}", show(settings, d));
    }
    if changed.is_empty() {
        eprintln!("nothing to uninstall: no modelenv block found");
    }
    if settings.config_path.exists() {
        ui::note(format!(
            "kept {} (your chosen locations); delete it to forget them",
            show(settings, &settings.config_path)
        ));
    }
    Ok(Exit::Ok)
}

/// The edit that takes install's block out of `path` (or puts back the block that was there
/// before), per its record; the file is deleted when `delete_if_empty` and nothing else is
/// left. `None` when the file or its block is gone.
pub fn plan_unblock(
    settings: &Settings,
    path: std::path::PathBuf,
    rec: &dotenv::Originals,
    delete_if_empty: bool,
) -> Result<Option<Edit>> {
    let real = fsutil::resolve_link(&path)?;
    let Some(old) = fsutil::read_optional(&real)? else {
        return Ok(None);
    };
    let what = show(settings, &path);
    let new = match &rec.foreign_block {
        Some(f) => block::replace_exact(&old, f, &what)?,
        None if rec.own_block => block::remove(&old, rec.added_eol, &what)?,
        None => None,
    };
    let Some(new) = new else {
        return Ok(None);
    };
    let delete = delete_if_empty && new.trim().is_empty();
    Ok(Some(Edit {
        path,
        real,
        old: Some(old),
        new: if delete { None } else { Some(new) },
    }))
}

/// What uninstall changes: each startup file's block out, each `.env` back to its original
/// lines, the undo record emptied; and (whole uninstall) the folders install created, to
/// remove once empty. Reads only.
fn plan_edits(
    settings: &Settings,
    shells: &[Shell],
    args: &UninstallArgs,
) -> Result<(Vec<Edit>, Vec<std::path::PathBuf>)> {
    let mut state = State::load(&settings.state_dir)?;
    let mut edits = Vec::new();
    let mut dirs = Vec::new();
    for &shell in shells {
        let whole: Vec<_> = shell
            .targets(settings)
            .into_iter()
            .filter(|t| t.whole_file)
            .map(|t| t.path)
            .collect();
        for path in shell.all_candidate_files(settings) {
            // Without a record, modelenv did not write there in this HOME: a block there is
            // the user's, and the file is not even read.
            let Some(rec) = state.files.remove(&path) else {
                continue;
            };
            let delete_if_empty = rec.created || whole.contains(&path);
            edits.extend(plan_unblock(settings, path, &rec, delete_if_empty)?);
        }
    }
    if args.shells.is_empty() {
        // Kept in the record until they are dealt with: a kill before that leaves them to
        // the next uninstall.
        dirs = state.created_dirs.clone();
        for path in std::mem::take(&mut state.dotenv_files) {
            let rec = state.files.remove(&path).unwrap_or_default();
            let real = fsutil::resolve_link(&path)?;
            let Some(old) = fsutil::read_optional(&real)? else {
                continue;
            };
            let new = dotenv::revert(&old, &rec, &show(settings, &path))?;
            let delete = rec.created && new.is_empty();
            edits.push(Edit {
                path,
                real,
                old: Some(old),
                new: if delete { None } else { Some(new) },
            });
        }
    }
    edits.push(state.edit(&settings.state_dir)?);
    Ok((edits, dirs))
}
