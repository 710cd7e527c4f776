//! The remedy for contexts that read no startup file (`sh -c`, `bash -c`, cron, services):
//! they use the libraries' default `~/.cache/huggingface`, so when the central store is
//! elsewhere, install makes that default location a symbolic link to it, but only when the
//! default location does not exist or is an empty folder. The link is recorded in
//! `<state>/default-link`; uninstall removes it only while it still is that link.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::cmd::show;
use crate::fsops::{Plan, Root, Run};
use crate::settings::Settings;

/// Where the libraries look with no variable set: HOME/.cache/huggingface.
pub fn default_location(settings: &Settings) -> PathBuf {
    settings.home.join(".cache/huggingface")
}

fn record(settings: &Settings) -> PathBuf {
    settings.state_dir.join("default-link")
}

/// What install would do: `Some((link, target))` when the default location is absent or an
/// empty folder and the central store is elsewhere. Reads only.
pub fn planned(settings: &Settings) -> Option<(PathBuf, PathBuf)> {
    let d = default_location(settings);
    let central = &settings.hf_home;
    if crate::cmd::doctor::same_path(&d, central) || central.starts_with(&d) {
        return None;
    }
    match d.symlink_metadata() {
        Err(_) => Some((d, central.clone())),
        Ok(m) if m.is_dir() && std::fs::read_dir(&d).is_ok_and(|mut r| r.next().is_none()) => {
            Some((d, central.clone()))
        }
        Ok(_) => None,
    }
}

/// The deepest existing folder holding `p`, opened as a guard root.
fn root_for(p: &Path) -> Result<Root> {
    let anc = p
        .ancestors()
        .skip(1)
        .find(|a| a.is_dir())
        .unwrap_or(Path::new("/"));
    Ok(Root::open(anc)?)
}

/// Links the default location to the central store (install, not in a dry run); says why not
/// when the default location holds files.
pub fn install(settings: &Settings, dry_run: bool) -> Result<()> {
    let d = default_location(settings);
    let Some((link, target)) = planned(settings) else {
        if !crate::cmd::doctor::same_path(&d, &settings.hf_home)
            && d.symlink_metadata().is_ok()
            && !settings.hf_home.starts_with(&d)
        {
            crate::ui::note(format!(
                "{} holds files: not linked to the central store, so `sh -c`, cron and services keep using it",
                show(settings, &d)
            ));
        }
        return Ok(());
    };
    if dry_run {
        crate::ui::note(format!(
            "would link {} to {} for scripts, cron and services",
            show(settings, &link),
            show(settings, &target)
        ));
        return Ok(());
    }
    let mut plan = Plan::new();
    if !target.exists() {
        plan.create_dir(&root_for(&target)?, &target)?;
    }
    let root = root_for(&link)?;
    if link.symlink_metadata().is_ok() {
        plan.remove_empty_dir(&root, &link)?;
        plan.symlink_later(&root, &link, &target)?;
    } else {
        if !link.parent().is_some_and(Path::is_dir) {
            plan.create_dir(&root, link.parent().unwrap_or(Path::new("/")))?;
        }
        plan.symlink(&root, &link, &target)?;
    }
    let mut rec = Plan::new();
    let state_root = root_for(&record(settings))?;
    if !settings.state_dir.is_dir() {
        rec.create_dir(&state_root, &settings.state_dir)?;
    }
    rec.write(
        &state_root,
        &record(settings),
        format!("{}\n{}\n", link.display(), target.display()).as_bytes(),
    )?;
    let outcome =
        Run::new(&settings.state_dir, "install", settings.test_kill_after).execute(&plan)?;
    if !outcome.complete() {
        bail!("{}", outcome.problems().join("\n"));
    }
    let outcome =
        Run::new(&settings.state_dir, "install", settings.test_kill_after).execute(&rec)?;
    if !outcome.complete() {
        bail!("{}", outcome.problems().join("\n"));
    }
    eprintln!(
        "linked {} to {} (for scripts, cron and services, which read no startup file)",
        show(settings, &link),
        show(settings, &target)
    );
    Ok(())
}

/// Removes the link install made, if it is still that link.
pub fn uninstall(settings: &Settings, dry_run: bool) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(record(settings)) else {
        return Ok(());
    };
    let mut lines = text.lines();
    let (Some(link), Some(target)) = (lines.next(), lines.next()) else {
        return Ok(());
    };
    let (link, target) = (PathBuf::from(link), PathBuf::from(target));
    let ours = link
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
        && std::fs::read_link(&link).is_ok_and(|t| t == target);
    if dry_run {
        if ours {
            crate::ui::note(format!("would remove the link {}", show(settings, &link)));
        }
        return Ok(());
    }
    let mut plan = Plan::new();
    if ours {
        plan.remove(&root_for(&link)?, &link)?;
    }
    plan.remove(&root_for(&record(settings))?, &record(settings))?;
    let outcome =
        Run::new(&settings.state_dir, "uninstall", settings.test_kill_after).execute(&plan)?;
    if !outcome.complete() {
        bail!("{}", outcome.problems().join("\n"));
    }
    if ours {
        eprintln!("removed the link {}", show(settings, &link));
    }
    Ok(())
}
