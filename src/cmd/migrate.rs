//! `modelenv migrate`: the plan (each cache merge, each config diff, the bytes freed) as a dry
//! run; with `--apply`, carried out so that a rerun after any interruption completes it.

use crate::cmd::Exit;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::cli::MigrateArgs;
use crate::edit::{self, Edit};
use crate::fsops::{OpView, Plan, Run};
use crate::fsutil::resolve_existing;
use crate::migrate::{self, CacheResult};
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
    /// The plan: exactly what `--apply` does.
    operations: Vec<OpView>,
    /// With `--apply`: bytes of file data read (0 when every move was a rename).
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_read: Option<u64>,
}

/// The hub caches given with `--store`, checked: each exists, is in the hub layout and is not
/// (by identity) the central store or inside it.
fn other_stores(settings: &Settings, args: &MigrateArgs) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for s in &args.stores {
        let p = settings.absolute(s);
        let real = std::fs::canonicalize(&p)
            .map_err(|e| anyhow::anyhow!("cannot migrate the store {}: {e}", p.display()))?;
        anyhow::ensure!(
            crate::stores::hub::looks_like_hub(&real),
            "{} is not a Hugging Face hub cache (no models--*/datasets--* folders in it); pass the `hub` folder of the old HF_HOME",
            p.display()
        );
        if let Some(central) = migrate::central_overlap(settings, &real, &[]) {
            anyhow::bail!(
                "{} is, holds or lies inside the central {}; nothing to merge",
                p.display(),
                show(settings, &central)
            );
        }
        out.push(real);
    }
    Ok(out)
}

#[derive(Serialize)]
struct LocalReport {
    applied: bool,
    /// Every operation happened (false: some were refused at apply time and reported).
    complete: bool,
    import: crate::migrate_local::Import,
    operations: Vec<OpView>,
    /// With `--apply`: bytes of file data read (each imported file is checked against its
    /// etag once).
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_read: Option<u64>,
}

/// `migrate --local-dir DIR`: the download becomes blobs and a snapshot of the central store.
fn run_local(settings: &Settings, args: &MigrateArgs, dir: &Path) -> Result<Exit> {
    let dir = super::given_dirs(settings, &[dir.to_path_buf()], "migrate")?.remove(0);
    let _lock = if args.apply {
        Some(super::begin_changes(settings, "migrate")?)
    } else {
        None
    };
    let (import, plan) = crate::migrate_local::plan(
        settings,
        &dir,
        args.repo.as_deref(),
        &args.repo_type,
        args.git_ref.as_deref(),
    )?;
    let mut report = LocalReport {
        applied: args.apply,
        complete: true,
        import,
        operations: plan.views(),
        bytes_read: None,
    };
    let mut code = Exit::Ok;
    if args.apply && !plan.is_empty() {
        let before = crate::fsops::bytes_read();
        let outcome = Run::new(&settings.state_dir, "migrate", settings.test_kill_after)
            .with_progress(std::io::stderr().is_terminal())
            .execute(&plan)?;
        report.bytes_read = Some(crate::fsops::bytes_read() - before);
        for p in outcome.problems() {
            crate::ui::warn(p);
            code = Exit::Problems;
        }
        report.complete = outcome.complete();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(code);
    }
    let i = &report.import;
    let (verb, would) = if !report.complete {
        (
            "stopped: some of the import was refused (see above) of",
            "would ",
        )
    } else if args.apply {
        ("imported", "")
    } else {
        ("would import", "would ")
    };
    println!(
        "{}: {} {} ({} file(s)) as {} {} at {} in {}",
        show(settings, &i.path),
        verb,
        human_size(i.imported_bytes),
        i.files,
        i.repo_type,
        i.repo,
        &i.commit[..12],
        show(settings, &i.repo_path)
    );
    println!("  its files {would}stay where they are, as hard links of the central blobs");
    if i.already_central_bytes > 0 {
        println!(
            "  {} already central: `modelenv dedupe --dir {} --apply` links them",
            human_size(i.already_central_bytes),
            crate::shell::quote_posix(&i.path.display().to_string())
        );
    }
    match &i.git_ref {
        Some(r) => println!(
            "  the ref {r} {would}name{} this commit",
            if would.is_empty() { "s" } else { "" }
        ),
        None => crate::ui::note(
            "no ref names this commit: the libraries find it by its hash, and by name (`main`) only online; add `--ref main` if the download was made from main, so they find it offline too",
        ),
    }
    if !args.apply {
        crate::ui::hint(
            "dry run: nothing was changed; `modelenv migrate --local-dir … --apply` does exactly this",
        );
    }
    Ok(code)
}

#[derive(Serialize)]
struct StrayReport {
    applied: bool,
    strays: Vec<crate::migrate_local::StrayMove>,
    operations: Vec<OpView>,
}

/// `migrate --stray DIR…`: stray folders of the hub cache move to CUSTOM_MODEL_DIR.
fn run_strays(settings: &Settings, args: &MigrateArgs) -> Result<Exit> {
    // Where strays go must not be inside the hub cache they leave.
    crate::settings::check_layout(settings)?;
    // With --apply, an interrupted earlier run is finished first: the same command run again
    // after a kill finds its folders moved, which is done, not an error.
    let lock = if args.apply {
        Some(super::begin_changes(settings, "migrate")?)
    } else {
        None
    };
    let mut given = args.strays.clone();
    if let Some(changes) = &lock {
        given.retain(|d| {
            let p = settings.absolute(d);
            let moved = !p.exists() && changes.finished_with(&p);
            if moved {
                crate::ui::note(format!(
                    "{} was moved by the interrupted run just finished",
                    show(settings, &p)
                ));
            }
            !moved
        });
    }
    let dirs = super::given_dirs(settings, &given, "move")?;
    let mut plan = Plan::new();
    let mut report = StrayReport {
        applied: args.apply,
        strays: Vec::new(),
        operations: Vec::new(),
    };
    for d in &dirs {
        report
            .strays
            .push(crate::migrate_local::plan_stray(settings, d, &mut plan)?);
    }
    report.operations = plan.views();
    let mut code = Exit::Ok;
    if args.apply {
        let outcome = Run::new(&settings.state_dir, "migrate", settings.test_kill_after)
            .with_progress(std::io::stderr().is_terminal())
            .execute(&plan)?;
        for p in outcome.problems() {
            crate::ui::warn(p);
            code = Exit::Problems;
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(code);
    }
    for s in &report.strays {
        // Said moved only when it is where it went and gone from where it was.
        let verb = match args.apply {
            false => "would move",
            true if !s.path.exists() && s.to.exists() => "moved",
            true => "NOT moved (see above)",
        };
        println!(
            "{}: {} {verb} to {}",
            show(settings, &s.path),
            human_size(s.bytes),
            show(settings, &s.to)
        );
    }
    if !args.apply {
        crate::ui::hint(
            "dry run: nothing was changed; `modelenv migrate --stray … --apply` does exactly this",
        );
    }
    Ok(code)
}

pub fn run(settings: &Settings, _env: &Env, args: &MigrateArgs) -> Result<Exit> {
    if let Some(dir) = &args.local_dir {
        return run_local(settings, args, dir);
    }
    if !args.strays.is_empty() {
        return run_strays(settings, args);
    }
    let stores = other_stores(settings, args)?;
    for w in &settings.unexpressible {
        crate::ui::warn(w);
    }
    let roots = if args.dirs.is_empty() && !stores.is_empty() {
        Vec::new()
    } else {
        super::roots(settings, &args.dirs, "migrate")?
    };
    let archives = super::manage::archive_folders(settings)?;
    for root in &roots {
        // A folder that is, holds or lies inside a store is not a project: its models are
        // the store's (`migrate ..` from a folder next to the store, a home folder).
        if let Some(store) = migrate::central_overlap(settings, root, &[]) {
            anyhow::bail!(
                "{} is, holds or lies inside {}, which modelenv manages; migrate the project folders inside it one by one",
                show(settings, root),
                show(settings, &store)
            );
        }
    }
    let _lock = if args.apply {
        Some(super::begin_changes(settings, "migrate")?)
    } else {
        None
    };
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
        operations: Vec::new(),
        bytes_read: None,
    };
    // The whole plan first (each config file and each cache a group), so the dry run shows
    // exactly what --apply does.
    let read_before = crate::fsops::bytes_read();
    let mut plan = Plan::new();
    let mut cache_groups = Vec::new();
    let mut planned = migrate::Planned::default();
    let mut config_plans = Vec::new();
    for root in &roots {
        // Configs are rewritten after the caches they point at are in place (their groups go
        // last in the plan).
        let mroots = migrate::MigrateRoots::new(settings, root, &archives)?;
        let first_cache = report.caches.len();
        let first_group = cache_groups.len();
        let mut items = Vec::new();
        for c in crate::scan::caches(root, &exclude) {
            if c.kind == "local-dir" {
                // The project loads it by its path; only `--local-dir` imports one.
                crate::ui::note(format!(
                    "{} is a --local-dir download; it stays where it is (`modelenv migrate --local-dir` imports it, `modelenv dedupe` links what the central store holds)",
                    show(settings, &c.path)
                ));
                continue;
            }
            if c.kind == "model-folder" {
                crate::ui::note(format!(
                    "{} is a converted or saved model the project loads by its path; it stays where it is (`modelenv dedupe --dir {}` links weights stored elsewhere too)",
                    show(settings, &c.path),
                    crate::shell::quote_posix(&c.path.display().to_string())
                ));
                continue;
            }
            items.push(migrate::plan_cache(
                settings,
                &mroots,
                root,
                &c,
                &mut planned,
            ));
        }
        // A cache part of which goes to CUSTOM_MODEL_DIR (what the project loads by its path:
        // a loose weights file, a folder beside the repo folders) stays when a config line
        // names it: the line, pointed at the hub cache, could not follow it.
        let configs_all = crate::scan::configs(root);
        for (res, item) in items.iter_mut() {
            if !res.to_custom || !res.problems.is_empty() {
                continue;
            }
            let me = [(resolve_existing(&res.path), true, 0)];
            if let Some(line) = configs_all
                .iter()
                .find(|l| matches!(named(root, &settings.home, l, &me), Named::Moving(_)))
            {
                *item = Plan::new();
                res.moved_bytes = 0;
                res.duplicate_bytes = 0;
                res.problems.push(format!(
                    "{}:{} names it, and part of it would go to CUSTOM_MODEL_DIR, where that line could not follow; kept",
                    show(settings, &line.path),
                    line.line
                ));
            }
        }
        for (res, item) in items.drain(..) {
            cache_groups.push(plan.push_group(item));
            report.caches.push(res);
        }
        // A config line is pointed at the central store only when what it names moves (or
        // names nothing yet): one naming a cache that stays, or a folder migrate did not
        // take, keeps the project using it as it is.
        let here: Vec<(PathBuf, bool, u32)> = report.caches[first_cache..]
            .iter()
            .zip(&cache_groups[first_group..])
            .map(|(c, g)| (resolve_existing(&c.path), c.problems.is_empty(), *g))
            .collect();
        let mut waits = Vec::new();
        let mut configs = configs_all;
        configs.retain(|line| match named(root, &settings.home, line, &here) {
            Named::Nothing => true,
            Named::Moving(groups) => {
                waits.extend(groups);
                true
            }
            Named::Unknown => {
                crate::ui::note(format!(
                    "{}:{} names {}, which holds a variable modelenv does not expand: left as it is",
                    show(settings, &line.path),
                    line.line,
                    line.value.trim()
                ));
                false
            }
            Named::Staying(p) => {
                crate::ui::note(format!(
                    "{}:{} names {}, which stays where it is ({}): left as it is",
                    show(settings, &line.path),
                    line.line,
                    line.value.trim(),
                    show(settings, &p)
                ));
                false
            }
        });
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
        if !edits.is_empty() {
            // Done only if the caches its lines name were moved when their turn came.
            waits.sort_unstable();
            waits.dedup();
            config_plans.push((
                edit::plan(&edits, &settings.state_dir.join("backups"))?,
                waits,
            ));
        }
    }
    for store in &stores {
        // A whole other hub cache: planned like a project cache whose project is its parent.
        let parent = store.parent().unwrap_or(Path::new("/"));
        let mroots = migrate::MigrateRoots::new(settings, parent, &archives)?;
        let cache = crate::scan::Cache {
            path: store.clone(),
            bytes: crate::scan_size(store),
            kind: "hf-layout",
            models: Vec::new(),
        };
        let (res, item) = migrate::plan_cache(settings, &mroots, parent, &cache, &mut planned);
        cache_groups.push(plan.push_group(item));
        report.caches.push(res);
    }
    for (p, after) in config_plans {
        plan.push_group_after(p, &after);
    }
    report.operations = plan.views();
    if args.apply {
        check_space(settings, &report.caches)?;
        let outcome = Run::new(&settings.state_dir, "migrate", settings.test_kill_after)
            .with_progress(std::io::stderr().is_terminal())
            .execute(&plan)?;
        // What the planners read to compare copies, and what the changes read.
        report.bytes_read = Some(crate::fsops::bytes_read() - read_before);
        debug_assert!(report.bytes_read >= Some(outcome.bytes_read));
        for (c, g) in report.caches.iter_mut().zip(&cache_groups) {
            let removed = outcome
                .results
                .iter()
                .any(|r| r.group == *g && r.op.path == c.path && r.op.op != "check");
            c.removed = removed && outcome.group_ok(*g);
            for r in outcome.results.iter().filter(|r| r.group == *g) {
                if r.status == crate::fsops::Status::Skipped {
                    continue;
                }
                if let Some(d) = &r.detail {
                    c.problems.push(d.clone());
                }
            }
        }
        for r in outcome
            .results
            .iter()
            .filter(|r| !cache_groups.contains(&r.group))
        {
            if let Some(d) = &r.detail {
                crate::ui::warn(d);
            }
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
    Ok(if problems { Exit::Problems } else { Exit::Ok })
}

/// Refuses, before the first change, a migrate whose copies do not fit: the bytes that cross
/// filesystems must fit in the destination's free space with a margin (1% + 100 MB).
fn check_space(settings: &Settings, caches: &[CacheResult]) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dev = |p: &std::path::Path| {
        p.ancestors()
            .find_map(|a| std::fs::metadata(a).ok())
            .map(|m| m.dev())
    };
    let mut need: std::collections::BTreeMap<std::path::PathBuf, u64> = Default::default();
    for c in caches {
        let dest = if c.kind == "loose-file" {
            settings.custom_model_dir.clone()
        } else {
            settings.hub_cache()
        };
        if dev(&c.path) != dev(&dest) {
            *need.entry(dest).or_default() += c.moved_bytes;
        }
    }
    for (dest, bytes) in need {
        let existing = dest.ancestors().find(|a| a.is_dir()).unwrap_or(&dest);
        let st = rustix::fs::statvfs(existing)?;
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        let want = bytes + bytes / 100 + 100_000_000;
        if free < want {
            anyhow::bail!(
                "{} has {} free, and migrate must copy {} there (plus a margin: {}); nothing was changed. Free space or pick another location with --hf-home / --custom-model-dir",
                show(settings, existing),
                human_size(free),
                human_size(bytes),
                human_size(want)
            );
        }
    }
    Ok(())
}

fn print_human(settings: &Settings, r: &Report) {
    let (moved, freed, changed) = if r.applied {
        ("moved", "freed", "changed")
    } else {
        ("would move", "would be freed", "would change")
    };
    for c in &r.configs {
        print!("{}", c.diff);
    }
    for c in &r.caches {
        let removed = if c.removed { "; removed" } else { "" };
        if c.kind == "loose-file" {
            println!(
                "{}: {} {moved} to {}{removed}",
                show(settings, &c.path),
                human_size(c.moved_bytes),
                show(settings, &settings.custom_model_dir)
            );
        } else {
            println!(
                "{}: {} repo(s), {} {moved} to {}, {} already there{removed}",
                show(settings, &c.path),
                c.repos,
                human_size(c.moved_bytes),
                show(settings, &settings.hub_cache()),
                human_size(c.duplicate_bytes),
            );
        }
        for p in &c.repaired {
            crate::ui::warn(p);
        }
        for p in &c.problems {
            crate::ui::warn(p);
        }
    }
    if r.caches.is_empty() && r.configs.is_empty() {
        println!("nothing to migrate: no project-local cache or config found");
        return;
    }
    println!(
        "{} config file(s) {changed}; {} {moved}; {} {freed}",
        r.configs.len(),
        human_size(r.moved_bytes),
        human_size(r.freed_bytes)
    );
    if !r.applied {
        crate::ui::hint(
            "dry run: nothing was changed; `modelenv migrate --apply` does exactly this",
        );
    }
}

/// What a config line's location names, among the caches of its project.
enum Named {
    /// No folder (yet): the line can point at the central store.
    Nothing,
    /// Caches that move, in these plan groups (all of them, when it names their parent).
    Moving(Vec<u32>),
    /// A value with a variable (`./${NAME}`, which python-dotenv expands): what it names
    /// cannot be told for sure.
    Unknown,
    /// A folder that stays: a cache kept, or one migrate did not take (skipped, a link out).
    Staying(PathBuf),
}

/// The folder `line`'s value names, tried against the line's file's folder and each folder
/// above it up to the project root (a relative value is relative to where the program runs,
/// which is one of them); the nearest that exists decides, by identity. `caches`: each cache
/// of the project resolved, whether it moves, its plan group.
fn named(
    root: &Path,
    home: &Path,
    line: &crate::scan::ConfigLine,
    caches: &[(PathBuf, bool, u32)],
) -> Named {
    if line.value.contains('$') {
        return Named::Unknown;
    }
    // `~/` as the libraries expand it (huggingface_hub and datasets call expanduser).
    let value = crate::settings::expand_path(line.value.trim(), home);
    let value = value.as_path();
    let candidates: Vec<PathBuf> = if value.is_absolute() {
        vec![value.to_path_buf()]
    } else {
        let dir = line.path.parent().unwrap_or(root);
        dir.ancestors()
            .take_while(|a| a.starts_with(root))
            .map(|a| a.join(value))
            .collect()
    };
    let Some(found) = candidates.iter().find(|c| c.symlink_metadata().is_ok()) else {
        return Named::Nothing;
    };
    // A folder with no file in it (made, nothing downloaded yet) strands nothing.
    let holds_files = walkdir::WalkDir::new(found)
        .into_iter()
        .flatten()
        .any(|e| !e.file_type().is_dir());
    if !holds_files {
        return Named::Nothing;
    }
    let real = resolve_existing(found);
    let related: Vec<&(PathBuf, bool, u32)> = caches
        .iter()
        .filter(|(c, _, _)| c.starts_with(&real) || real.starts_with(c))
        .collect();
    match related.iter().find(|(_, moves, _)| !moves) {
        Some((c, _, _)) => Named::Staying(c.clone()),
        None if related.is_empty() => Named::Staying(found.clone()),
        None => Named::Moving(related.iter().map(|(_, _, g)| *g).collect()),
    }
}
