//! `modelenv migrate`: the plan (each cache merge, each config diff, the bytes freed) as a dry
//! run; with `--apply`, carried out so that a rerun after any interruption completes it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::cli::MigrateArgs;
use crate::edit::{self, Edit};
use crate::migrate::{self, CacheResult, Steps};
use crate::settings::{Env, Settings};
use crate::units::human_size;

use super::show;

#[derive(Serialize)]
struct ConfigChange {
    path: PathBuf,
    diff: String,
}

#[derive(Serialize)]
struct Report {
    applied: bool,
    caches: Vec<CacheResult>,
    configs: Vec<ConfigChange>,
    /// Bytes the local caches held that the central store did not have yet.
    moved_bytes: u64,
    /// Bytes freed: the local copies of content already stored centrally.
    freed_bytes: u64,
}

pub fn run(settings: &Settings, env: &Env, args: &MigrateArgs) -> Result<ExitCode> {
    let roots = super::roots(settings, &args.dirs, "migrate")?;
    let _lock = if args.apply {
        Some(migrate::lock(settings)?)
    } else {
        None
    };
    let mut planned = std::collections::HashMap::new();
    let mut steps = Steps::new(
        env.get("MODELENV_TEST_KILL_AFTER")
            .and_then(|v| v.parse().ok()),
    );
    let exclude = [
        settings.hf_home.clone(),
        settings.custom_model_dir.clone(),
        settings.ollama_models.clone(),
    ];
    let mut report = Report {
        applied: args.apply,
        caches: Vec::new(),
        configs: Vec::new(),
        moved_bytes: 0,
        freed_bytes: 0,
    };
    for root in &roots {
        // Configs first: the projects point at the central store before their caches go.
        let configs = crate::scan::configs(root);
        let edits: Vec<Edit> = migrate::config_edits(settings, &configs)?
            .into_iter()
            .map(|(path, (old, new))| Edit {
                real: path.clone(),
                path,
                old: Some(old),
                new: Some(new),
            })
            .collect();
        for e in &edits {
            report.configs.push(ConfigChange {
                path: e.path.clone(),
                diff: e.diff(&show(settings, &e.path)),
            });
        }
        if args.apply && !edits.is_empty() {
            edit::apply(&edits, &settings.state_dir.join("backups"))?;
        }
        let caches = crate::scan::caches(root, &exclude);
        let bar = (args.apply && std::io::stderr().is_terminal()).then(|| {
            let pb = indicatif::ProgressBar::new(caches.len() as u64);
            pb.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} caches {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            pb
        });
        for c in &caches {
            if let Some(b) = &bar {
                b.set_message(show(settings, &c.path));
            }
            let r = migrate::merge_cache(settings, root, c, args.apply, &mut planned, &mut steps)?;
            if let Some(b) = &bar {
                b.inc(1);
            }
            report.caches.push(r);
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    }
    report.moved_bytes = report.caches.iter().map(|c| c.moved_bytes).sum();
    report.freed_bytes = report.caches.iter().map(|c| c.duplicate_bytes).sum();
    let problems = report.caches.iter().any(|c| !c.problems.is_empty());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(settings, &report);
    }
    Ok(if problems {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_human(settings: &Settings, r: &Report) {
    let verb = if r.applied { "" } else { "would " };
    for c in &r.configs {
        print!("{}", c.diff);
    }
    for c in &r.caches {
        println!(
            "{}: {} repo(s), {} {verb}move to the central store, {} already there{}",
            show(settings, &c.path),
            c.repos,
            human_size(c.moved_bytes),
            human_size(c.duplicate_bytes),
            if c.removed { "; removed" } else { "" }
        );
        for p in &c.problems {
            crate::ui::warn(p);
        }
    }
    if r.caches.is_empty() && r.configs.is_empty() {
        println!("nothing to migrate: no project-local cache or config found");
        return;
    }
    println!(
        "{} config file(s) {verb}change; {} {verb}move; {} {verb}be freed",
        r.configs.len(),
        human_size(r.moved_bytes),
        human_size(r.freed_bytes)
    );
    if !r.applied {
        println!("dry run: nothing was changed; run `modelenv migrate --apply`");
    }
}
