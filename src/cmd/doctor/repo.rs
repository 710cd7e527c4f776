//! The repo: project-local model caches, configs that point at one, the root `.env.example`,
//! and whether those caches are git-ignored.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::cmd::show;
use crate::settings::Settings;
use crate::units::human_size;

use super::{Check, Status};

/// `p` relative to `root`, for check ids and messages.
fn rel_to(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

pub(super) fn checks(settings: &Settings, repo: Option<&Path>) -> Vec<Check> {
    let root = match repo {
        Some(r) => Some(settings.absolute(r)),
        None => crate::repo::git_root(&settings.cwd),
    };
    let Some(root) = root else {
        return vec![Check::new(
            "repo",
            Status::Skip,
            "not inside a git repository (pass --repo DIR)",
        )];
    };
    let mut out = Vec::new();
    let exclude = [
        settings.hf_home.clone(),
        settings.custom_model_dir.clone(),
        settings.ollama_models.clone(),
    ];
    let caches = crate::scan::caches(&root, &exclude);
    for c in &caches {
        let rel = rel_to(&root, &c.path);
        out.push(
            Check::new(format!("repo.cache.{rel}"), Status::Fail, format!("project-local model cache {rel} ({}) keeps its own copies", human_size(c.bytes)))
                .hint("run `modelenv migrate` to see the plan, then `modelenv migrate --apply` to move it into the central cache")
                .path(&c.path),
        );
    }
    for c in crate::scan::configs(&root) {
        let rel = rel_to(&root, &c.path);
        out.push(
            Check::new(
                format!("repo.config.{rel}:{}", c.line),
                Status::Fail,
                format!(
                    "{rel}:{} sets {}={} (a project-local cache)",
                    c.line, c.key, c.value
                ),
            )
            .hint(format!(
                "point it at the central hub cache ({}), read from the environment",
                show(settings, &settings.hub_cache())
            ))
            .path(&c.path),
        );
    }
    out.extend(dotenv_overrides(settings, &root));
    let env_example = root.join(".env.example");
    match std::fs::read_to_string(&env_example) {
        Ok(text) => {
            let mut orig = crate::dotenv::Originals::default();
            match crate::dotenv::apply(&text, settings, &mut orig, ".env.example") {
                Ok(new) if new == text => out.push(Check::new(
                    "repo.env_example",
                    Status::Pass,
                    "the root .env.example has the central locations",
                )),
                Ok(_) => out.push(
                    Check::new(
                        "repo.env_example",
                        Status::Fail,
                        "the root .env.example lacks or differs from the central locations",
                    )
                    .hint("run `modelenv install` in the repo")
                    .path(&env_example),
                ),
                Err(e) => out.push(Check::new(
                    "repo.env_example",
                    Status::Warn,
                    format!("the root .env.example: {e}"),
                )),
            }
        }
        Err(_) => out.push(
            Check::new(
                "repo.env_example",
                Status::Warn,
                "the repo has no root .env.example with the central locations",
            )
            .hint("run `modelenv install` in the repo"),
        ),
    }
    if !caches.is_empty()
        && let Ok(git) = which::which("git")
    {
        for c in &caches {
            let ignored = Command::new(&git)
                .arg("-C")
                .arg(&root)
                .args(["check-ignore", "-q"])
                .arg(&c.path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ignored {
                let rel = rel_to(&root, &c.path);
                out.push(
                    Check::new(
                        format!("repo.gitignore.{rel}"),
                        Status::Warn,
                        format!("{rel} is not git-ignored"),
                    )
                    .hint(format!(
                        "add `{}/` to .gitignore",
                        c.path
                            .file_name()
                            .map(|n| n.to_string_lossy())
                            .unwrap_or_default()
                    )),
                );
            }
        }
    }
    out
}

/// `.env` files a project loads (python-dotenv, pydantic-settings, docker compose) override
/// the shell's values for that program: each line setting a cache variable to anything but
/// the central location, with its file and line. Templates (`.env.example`…) are not loaded.
fn dotenv_overrides(settings: &Settings, root: &Path) -> Vec<Check> {
    const SKIP: [&str; 6] = [
        ".git",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        "target",
    ];
    let wanted = |key: &str| match key {
        "HF_HOME" => Some(settings.hf_home.clone()),
        "HF_HUB_CACHE" | "HUGGINGFACE_HUB_CACHE" | "TRANSFORMERS_CACHE" => {
            Some(settings.hub_cache())
        }
        "HF_DATASETS_CACHE" => Some(settings.datasets_cache()),
        _ => None,
    };
    let home = settings.home.to_string_lossy();
    let mut out = Vec::new();
    let walk = walkdir::WalkDir::new(root)
        .max_depth(4)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            !(e.file_type().is_dir()
                && e.depth() > 0
                && SKIP.contains(&e.file_name().to_string_lossy().as_ref()))
        });
    for e in walk.flatten() {
        let name = e.file_name().to_string_lossy();
        let template = [".example", ".sample", ".template", ".dist"]
            .iter()
            .any(|t| name.ends_with(t));
        if !e.file_type().is_file() || !(name == ".env" || name.starts_with(".env.")) || template {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path()) else {
            continue;
        };
        let rel = rel_to(root, e.path());
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            let t = t.strip_prefix("export ").unwrap_or(t);
            let Some((key, raw)) = t.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let Some(want) = wanted(key) else {
                continue;
            };
            let v = raw.trim().trim_matches(|c| c == '"' || c == '\'');
            if !v.starts_with(['/', '~', '$']) {
                continue; // project-local: a `repo.config` check already names it
            }
            // python-dotenv expands `${VAR}`, nothing else; HOME is the one that matters here.
            let v = v.replace("${HOME}", &home);
            let ok = !v.starts_with('~')
                && !v.contains('$')
                && Path::new(&v).is_absolute()
                && super::same_path(Path::new(&v), &want);
            if !ok {
                out.push(
                    Check::new(
                        format!("repo.dotenv.{rel}:{}", i + 1),
                        Status::Fail,
                        format!(
                            "{rel}:{} sets {key}={} for every program that loads it, overriding the shell's {}",
                            i + 1,
                            raw.trim(),
                            show(settings, &want)
                        ),
                    )
                    .hint(format!(
                        "edit {rel}:{}: remove the line, or write {key}={} (`~` and `$HOME` are not expanded by python-dotenv)",
                        i + 1,
                        want.strip_prefix(&settings.home)
                            .map(|r| format!("${{HOME}}/{}", r.display()))
                            .unwrap_or_else(|_| want.display().to_string())
                    ))
                    .path(e.path()),
                );
            }
        }
    }
    out
}
