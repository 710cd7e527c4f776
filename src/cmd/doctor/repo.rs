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
