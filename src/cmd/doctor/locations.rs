//! Central locations (exist or can be created, free space) and where each library resolves
//! them under a set of variables: this process's (the `env` checks), or a fresh shell's.

use std::path::{Path, PathBuf};

use crate::cmd::show;
use crate::resolve::{self, Resolved, TRANSFORMERS_LEGACY, Transformers, Vars};
use crate::settings::Settings;
use crate::units::human_size;

use super::{Check, Status, same_path};

pub(super) fn checks(settings: &Settings) -> Vec<Check> {
    let items = [
        ("hf_home", "HF_HOME", settings.hf_home.clone()),
        ("hub_cache", "hub cache", settings.hub_cache()),
        (
            "datasets_cache",
            "datasets cache",
            settings.datasets_cache(),
        ),
        (
            "custom_model_dir",
            "CUSTOM_MODEL_DIR",
            settings.custom_model_dir.clone(),
        ),
    ];
    let mut out: Vec<Check> = items
        .into_iter()
        .map(|(id, name, p)| {
            let id = format!("location.{id}");
            let shown = show(settings, &p);
            match std::fs::metadata(&p) {
                Ok(m) if m.is_dir() => Check::new(id, Status::Pass, format!("{name}: {shown} exists")),
                Ok(_) => Check::new(id, Status::Fail, format!("{name}: {shown} exists but is not a folder"))
                    .hint("move it away or choose another location with `modelenv install --hf-home DIR`"),
                Err(_) => match crate::fsutil::check_writable(&p) {
                    Ok(()) => Check::new(id, Status::Pass, format!("{name}: {shown} will be created on first use")),
                    Err(e) => Check::new(id, Status::Fail, format!("{name}: {shown} cannot be created: {e}"))
                        .hint("choose a writable location with `modelenv config set hf_home DIR` and reinstall"),
                },
            }
            .path(&p)
        })
        .collect();
    // A custom folder inside a library's cache (a link made after install can put it there).
    if let Err(e) = crate::settings::check_layout(settings)
        && let Some(c) = out.iter_mut().find(|c| c.id == "location.custom_model_dir")
    {
        *c = Check::new(
            "location.custom_model_dir",
            Status::Fail,
            format!("{e:#}"),
        )
        .hint("`modelenv config set custom_model_dir DIR` with a folder outside HF_HOME's caches, then move its contents there")
        .path(&settings.custom_model_dir);
    }
    // Free space where the hub cache lives, against the recommended headroom.
    if let Some(at) = settings
        .hub_cache()
        .ancestors()
        .find(|a| a.exists())
        .map(Path::to_path_buf)
        && let Ok(vfs) = rustix::fs::statvfs(&at)
    {
        let free = vfs.f_bavail * vfs.f_frsize;
        let want = settings.headroom_for(vfs.f_blocks * vfs.f_frsize);
        let msg = format!(
            "{} free on the filesystem of {} (headroom {})",
            human_size(free),
            show(settings, &at),
            human_size(want)
        );
        out.push(if free >= want {
            Check::new("location.free_space", Status::Pass, msg)
        } else {
            Check::new("location.free_space", Status::Warn, msg)
                .hint("see what can go with `modelenv usage` and free it with `modelenv prune --apply`, or set the target with `modelenv config set headroom 20GB`")
        });
    }
    out
}

/// The transformers releases a verdict about TRANSFORMERS_CACHE is for: those the probes
/// found (with the interpreter each is in), else both majors, said to be assumed.
pub(super) struct Assumed {
    pub transformers: Vec<(Transformers, String)>,
    /// The versions were found by a probe (not assumed for want of an interpreter).
    pub probed: bool,
}

impl Assumed {
    pub fn from_probes(found: &[(Transformers, String)]) -> Assumed {
        if found.is_empty() {
            return Assumed {
                transformers: vec![
                    (
                        Transformers {
                            major: 4,
                            hub_major: 0,
                        },
                        "transformers 4.x (assumed: no interpreter with transformers was checked)"
                            .to_owned(),
                    ),
                    (
                        Transformers {
                            major: 5,
                            hub_major: 1,
                        },
                        "transformers 5.x (assumed)".to_owned(),
                    ),
                ],
                probed: false,
            };
        }
        Assumed {
            transformers: found.to_vec(),
            probed: true,
        }
    }
}

/// Each library's resolution under `vars`, compared with the central locations.
/// `unset` is the status when CUSTOM_MODEL_DIR is missing altogether (`Skip`: say nothing).
pub(super) fn libraries(
    settings: &Settings,
    vars: &dyn Vars,
    prefix: &str,
    origin: &str,
    unset: Status,
    assumed: &Assumed,
) -> Vec<Check> {
    let fix = |var: Option<&str>| match var {
        Some(v) => format!(
            "fix or remove {v} where it is set (a line in your shell startup files, a .env the project loads, the service's environment)"
        ),
        None => "run `modelenv install` and open a new shell".to_owned(),
    };
    let hub_central = settings.hub_cache();
    let mut out = Vec::new();
    let mut judge = |id: &str, library: &str, r: Resolved, want: &Path| {
        let id = format!("{prefix}.{id}");
        let c = if let Some(d) = &r.defect {
            Check::new(id, Status::Fail, format!("{library}: {d} {origin}")).hint(fix(r.from))
        } else if same_path(&r.path, want) {
            match &r.warning {
                Some(w) => Check::new(id, Status::Warn, format!("{library}: {w} {origin}"))
                    .hint("write it as a full path (`modelenv install` does)"),
                None => Check::new(
                    id,
                    Status::Pass,
                    format!("{library} uses {} {origin}", show(settings, want)),
                ),
            }
        } else {
            let why = r
                .from
                .map(|v| format!(" (from {v})"))
                .unwrap_or_else(|| " (its default)".into());
            Check::new(
                id,
                Status::Fail,
                format!(
                    "{library} uses {}{why} {origin}, not {}",
                    r.path.display(),
                    show(settings, want)
                ),
            )
            .hint(fix(r.from))
        };
        out.push(c.path(&r.path));
    };
    judge(
        "huggingface_hub",
        "huggingface_hub and mlx-lm (hub cache)",
        resolve::hub_cache(vars),
        &hub_central,
    );
    judge(
        "datasets",
        "datasets (Arrow cache, HF_DATASETS_CACHE)",
        resolve::datasets_cache(vars),
        &settings.datasets_cache(),
    );
    judge(
        "llama_cpp",
        "llama.cpp (-hf downloads)",
        resolve::llama_cache(vars),
        &hub_central,
    );
    judge(
        "ollama",
        "Ollama (OLLAMA_MODELS)",
        resolve::ollama_models(vars),
        &settings.ollama_models,
    );
    // transformers 4.x lets the legacy variables win (as given): any other value than the hub
    // cache splits it; 5.x ignores them.
    if let Some(legacy) = TRANSFORMERS_LEGACY
        .into_iter()
        .find(|n| vars.var(n).is_some())
    {
        let raw = vars.var(legacy).unwrap_or("");
        let id = format!("{prefix}.transformers");
        let verdicts: Vec<(&str, Resolved, bool)> = assumed
            .transformers
            .iter()
            .map(|(t, label)| {
                let r = resolve::transformers_cache(vars, *t);
                let ok = r.defect.is_none() && same_path(&r.path, &hub_central);
                (label.as_str(), r, ok)
            })
            .collect();
        let ignored_by: Vec<&str> = assumed
            .transformers
            .iter()
            .filter(|(t, _)| t.major >= 5)
            .map(|(_, l)| l.as_str())
            .collect();
        let hub_ok = resolve::hub_cache(vars).defect.is_none()
            && same_path(&resolve::hub_cache(vars).path, &hub_central);
        let c = if let Some((label, r, _)) = verdicts.iter().find(|(_, _, ok)| !ok) {
            let what = match &r.defect {
                Some(d) => d.clone(),
                None => format!(
                    "{legacy}={raw} makes from_pretrained use {} while everything else uses the hub cache: it splits the cache",
                    r.path.display()
                ),
            };
            Check::new(id, Status::Fail, format!("{label}: {what} {origin}"))
                .hint(format!(
                    "set {legacy} to {} (a full path: transformers 4.x expands nothing) or remove it",
                    hub_central.display()
                ))
                .path(&r.path)
        } else if !ignored_by.is_empty() && hub_ok && !same_path(Path::new(raw), &hub_central) {
            Check::new(
                id,
                Status::Warn,
                format!(
                    "{legacy}={raw} {origin} is ignored by {}; transformers 4.x would split the cache with it",
                    ignored_by.join(", ")
                ),
            )
            .hint(format!("remove {legacy} where it is set"))
        } else {
            // Only a transformers 4.x that is really installed warns about the variable.
            let warns = assumed.probed
                && legacy == "TRANSFORMERS_CACHE"
                && assumed.transformers.iter().any(|(t, _)| t.major == 4);
            Check::new(
                id,
                Status::Pass,
                format!(
                    "transformers ({}) uses the hub cache {origin}{}",
                    assumed
                        .transformers
                        .iter()
                        .map(|(_, l)| l.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    if warns {
                        "; transformers 4.x prints a FutureWarning about TRANSFORMERS_CACHE on import, which is harmless here (`modelenv config set transformers_cache false --apply` stops exporting it)"
                    } else {
                        ""
                    }
                ),
            )
        };
        out.push(c);
    }
    if let Some(x) = vars.var("HF_XET_CACHE") {
        let p = PathBuf::from(x);
        if x.contains('$') || !p.is_absolute() && !x.starts_with('~') {
            out.push(Check::new(format!("{prefix}.xet"), Status::Fail, format!("HF_XET_CACHE={x} {origin}: xet-core expands `~` but not `$` variables, and it must be absolute")).hint(fix(Some("HF_XET_CACHE"))));
        }
    }
    match vars.var("CUSTOM_MODEL_DIR") {
        Some(v) if same_path(Path::new(v), &settings.custom_model_dir) => {}
        Some(v) => out.push(
            Check::new(
                format!("{prefix}.custom_model_dir"),
                Status::Fail,
                format!(
                    "CUSTOM_MODEL_DIR={v} {origin}, not {}",
                    show(settings, &settings.custom_model_dir)
                ),
            )
            .hint(fix(Some("CUSTOM_MODEL_DIR"))),
        ),
        None if unset == Status::Skip => {}
        None => out.push(
            Check::new(
                format!("{prefix}.custom_model_dir"),
                unset,
                format!("CUSTOM_MODEL_DIR is not set {origin}"),
            )
            .hint(fix(None)),
        ),
    }
    out
}
