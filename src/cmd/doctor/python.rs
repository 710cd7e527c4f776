//! The user's Python interpreters: where huggingface_hub, datasets, transformers and mlx-lm
//! really put a download, asked of each interpreter itself.
//!
//! A probe changes nothing and runs nothing of the user's folder: the interpreter gets the
//! user's environment exactly (nothing added, nothing removed), starts in `/` with safe-path
//! mode (`-P`, Python 3.11+; older ones drop `''` from `sys.path` as the probe's first
//! statement), so neither the current folder nor a script folder is on `sys.path`, and opens
//! no network connection. Interpreters are told apart by `sys.prefix`: a venv made from the
//! `python3` on PATH links to the same binary but is another environment.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::cmd::show;
use crate::resolve::{TRANSFORMERS_LEGACY, Transformers};
use crate::settings::{Env, Settings};

use super::{Check, Status, run_probe, same_path};

const MARK: &str = "\u{1}MODELENV-PY\u{1}";

/// Asks each library for the folder its download entry point uses when given no `cache_dir`:
/// the same constants and the same transformations (measured against the entry points by
/// tests/doctor_differential.rs).
const PY_PROBE: &str = r#"
import sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
import json, os
out = {"prefix": sys.prefix, "executable": sys.executable, "python": sys.version.split()[0],
       "safe_path": bool(getattr(sys.flags, "safe_path", False))}
NAMES = ("HOME", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME",
         "HF_DATASETS_CACHE", "TRANSFORMERS_CACHE", "PYTORCH_TRANSFORMERS_CACHE",
         "PYTORCH_PRETRAINED_BERT_CACHE")
out["env"] = {k: os.environ[k] for k in NAMES if k in os.environ}
def version(name):
    try:
        from importlib.metadata import version as v
        return v(name)
    except Exception:
        return None
def major(v):
    try:
        return int(v.split(".")[0])
    except Exception:
        return 0
def hub():
    from huggingface_hub import constants as c
    # hf_hub_download: cache_dir = constants.HF_HUB_CACHE when none is given.
    return {"cache": str(c.HF_HUB_CACHE)}
def ds():
    import datasets.config as dc
    const = str(dc.HF_DATASETS_CACHE)
    # builder.py and load.py: os.path.expanduser(str(cache_dir or config.HF_DATASETS_CACHE)).
    return {"constant": const, "cache": os.path.expanduser(const)}
def tf():
    import transformers.utils.hub as th
    from huggingface_hub import constants as c
    legacy = getattr(th, "TRANSFORMERS_CACHE", None) if major(version("transformers")) < 5 else None
    if legacy is None:
        return {"cache": str(c.HF_HUB_CACHE), "legacy": False}
    # cached_file passes TRANSFORMERS_CACHE to hf_hub_download(cache_dir=...), which takes it
    # as given before huggingface_hub 1.0 and expands `~` from 1.0 on.
    hub_major = major(version("huggingface_hub"))
    cache = os.path.expanduser(str(legacy)) if hub_major >= 1 else str(legacy)
    return {"cache": cache, "legacy": True, "hub_major": hub_major}
def mlx():
    import importlib.util
    if importlib.util.find_spec("mlx_lm") is None:
        raise ImportError("mlx_lm")
    from huggingface_hub import constants as c
    # mlx_lm.utils._download: snapshot_download(repo) with no cache_dir.
    return {"cache": str(c.HF_HUB_CACHE)}
for key, dist, fn in (("huggingface_hub", "huggingface_hub", hub), ("datasets", "datasets", ds),
                      ("transformers", "transformers", tf), ("mlx_lm", "mlx-lm", mlx)):
    v = version(dist)
    if v is None:
        out[key] = None
        continue
    try:
        r = fn()
        r["version"] = v
        out[key] = r
    except Exception as e:
        out[key] = {"version": v, "error": "%s: %s" % (type(e).__name__, e)}
print("\x01MODELENV-PY\x01" + json.dumps(out))
"#;

const PREFIX_PROBE: &str = "import sys\nprint('\\x01MODELENV-PY\\x01' + sys.prefix)";

/// What the probes found: their checks, and the transformers releases installed (with the
/// interpreter each is in), which decide the rule for TRANSFORMERS_CACHE everywhere else.
#[derive(Default)]
pub(super) struct Probed {
    pub checks: Vec<Check>,
    pub transformers: Vec<(Transformers, String)>,
}

/// The interpreters to ask: python3/python on PATH, $VIRTUAL_ENV, $CONDA_PREFIX, --python.
fn candidates(env: &Env, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let path = env.get("PATH").unwrap_or("");
    for name in ["python3", "python"] {
        if let Ok(p) = which::which_in(name, Some(path), "/") {
            found.push(p);
        }
    }
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(v) = env.get(var).filter(|v| !v.is_empty()) {
            found.push(Path::new(v).join("bin/python"));
        }
    }
    found.extend(extra.iter().cloned());
    let mut out: Vec<PathBuf> = Vec::new();
    for p in found {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Runs `script` with `py` from `/`, in safe-path mode where the interpreter has it, with the
/// user's environment untouched; returns what follows the marker.
fn run_py(py: &Path, script: &str, timeout: Duration) -> anyhow::Result<String> {
    let mut last = String::new();
    for safe in [true, false] {
        let mut cmd = Command::new(py);
        if safe {
            cmd.arg("-P");
        }
        cmd.args(["-c", script]).current_dir("/");
        let out = run_probe(cmd, timeout)?;
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(answer) = text.split(MARK).nth(1) {
            return Ok(answer.trim().to_owned());
        }
        last = text;
    }
    anyhow::bail!(
        "no answer{}",
        if last.is_empty() {
            String::new()
        } else {
            format!(" (printed {:?})", last.chars().take(80).collect::<String>())
        }
    )
}

pub(super) fn checks(
    settings: &Settings,
    env: &Env,
    extra: &[PathBuf],
    timeout: Duration,
) -> Probed {
    let list = candidates(env, extra);
    if list.is_empty() {
        return Probed {
            checks: vec![Check::new(
                "python",
                Status::Skip,
                "no Python interpreter found on PATH",
            )],
            transformers: vec![],
        };
    }
    // One probe per environment: the first path given for each sys.prefix.
    let prefixes: Vec<Option<String>> = std::thread::scope(|s| {
        let hs: Vec<_> = list
            .iter()
            .map(|py| s.spawn(move || run_py(py, PREFIX_PROBE, timeout).ok()))
            .collect();
        hs.into_iter().map(|h| h.join().ok().flatten()).collect()
    });
    let mut seen: Vec<&str> = Vec::new();
    let mut unique: Vec<&PathBuf> = Vec::new();
    for (py, prefix) in list.iter().zip(&prefixes) {
        match prefix {
            Some(p) if seen.contains(&p.as_str()) => {}
            Some(p) => {
                seen.push(p);
                unique.push(py);
            }
            None => unique.push(py),
        }
    }
    let results: Vec<Answer> = std::thread::scope(|s| {
        let handles: Vec<_> = unique
            .iter()
            .map(|py| s.spawn(move || probe_python(settings, py, timeout)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut out = Probed::default();
    for (c, t) in results {
        out.checks.extend(c);
        out.transformers.extend(t);
    }
    out
}

type Answer = (Vec<Check>, Vec<(Transformers, String)>);

fn major(v: &str) -> u32 {
    v.split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

fn probe_python(settings: &Settings, py: &Path, timeout: Duration) -> Answer {
    let name = py.display().to_string();
    let warn = |msg: String| {
        (
            vec![Check::new(format!("python.{name}"), Status::Warn, msg)],
            vec![],
        )
    };
    let answer = match run_py(py, PY_PROBE, timeout) {
        Ok(a) => a,
        Err(e) => {
            return warn(format!(
                "{name} could not be probed: {e} (a broken interpreter?)"
            ));
        }
    };
    let Ok(v) = serde_json::from_str::<Value>(&answer) else {
        return warn(format!("{name} gave an unreadable answer"));
    };
    let env = &v["env"];
    let hub_central = settings.hub_cache();
    let mut checks = Vec::new();
    let mut found = Vec::new();
    let libs: [(&str, &str, PathBuf); 4] = [
        ("huggingface_hub", "huggingface_hub", hub_central.clone()),
        ("datasets", "datasets", settings.datasets_cache()),
        ("transformers", "transformers", hub_central.clone()),
        ("mlx_lm", "mlx-lm", hub_central.clone()),
    ];
    for (key, label, want) in libs {
        let cid = format!("python.{name}.{key}");
        let lib = &v[key];
        if lib.is_null() {
            if key != "mlx_lm" {
                checks.push(Check::new(
                    cid,
                    Status::Skip,
                    format!("{label} is not installed for {name}"),
                ));
            }
            continue;
        }
        let ver = lib["version"].as_str().unwrap_or("?");
        if let Some(err) = lib["error"].as_str() {
            checks.push(Check::new(
                cid,
                Status::Warn,
                format!("{label} {ver} failed to import in {name}: {err}"),
            ));
            continue;
        }
        let got = lib["cache"].as_str().unwrap_or("");
        let who = format!("{label} {ver} in {name}");
        if key == "transformers" {
            let hub_major = lib["hub_major"]
                .as_u64()
                .map(|m| m as u32)
                .or_else(|| v["huggingface_hub"]["version"].as_str().map(major))
                .unwrap_or(0);
            found.push((
                Transformers {
                    major: major(ver),
                    hub_major,
                },
                who.clone(),
            ));
        }
        let from = origin_of(key, lib, env);
        let c = if !Path::new(got).is_absolute() {
            let raw = from.and_then(|n| env[n].as_str()).unwrap_or(got);
            Check::new(
                cid,
                Status::Fail,
                format!(
                    "{who} downloads to {got:?}, a path relative to whatever folder the program runs in{}",
                    from.map(|n| format!(" (from {n}={raw})")).unwrap_or_default()
                ),
            )
            .hint(fix_hint(key, from, settings))
        } else if same_path(Path::new(got), &want) {
            let literal_tilde =
                key == "datasets" && lib["constant"].as_str().is_some_and(|c| c.starts_with('~'));
            if literal_tilde {
                Check::new(
                    cid,
                    Status::Warn,
                    format!(
                        "{who} downloads to {}, but datasets.config.HF_DATASETS_CACHE reads {} (a literal `~` for code that uses the constant)",
                        show(settings, &want),
                        lib["constant"].as_str().unwrap_or("")
                    ),
                )
                .hint("write HF_DATASETS_CACHE as a full path (`modelenv install` does)")
            } else {
                Check::new(
                    cid,
                    Status::Pass,
                    format!("{who} uses {}", show(settings, &want)),
                )
            }
        } else {
            Check::new(
                cid,
                Status::Fail,
                format!(
                    "{who} downloads to {got}{}, not {}",
                    from.map(|n| format!(" (from {n})")).unwrap_or_default(),
                    show(settings, &want)
                ),
            )
            .hint(fix_hint(key, from, settings))
        };
        checks.push(c.path(Path::new(got)));
    }
    (checks, found)
}

/// The variable that decided a library's answer, read from the interpreter's own environment.
fn origin_of(key: &str, lib: &Value, env: &Value) -> Option<&'static str> {
    let set = |n: &&str| !env[*n].is_null();
    let hub = || {
        [
            "HF_HUB_CACHE",
            "HUGGINGFACE_HUB_CACHE",
            "HF_HOME",
            "XDG_CACHE_HOME",
        ]
        .into_iter()
        .find(|n| set(n))
    };
    match key {
        "datasets" => ["HF_DATASETS_CACHE", "HF_HOME", "XDG_CACHE_HOME"]
            .into_iter()
            .find(|n| set(n)),
        "transformers" if lib["legacy"].as_bool() == Some(true) => {
            TRANSFORMERS_LEGACY.into_iter().find(|n| set(n))
        }
        _ => hub(),
    }
}

fn fix_hint(key: &str, from: Option<&str>, settings: &Settings) -> String {
    match (key, from) {
        ("transformers", Some(v)) if TRANSFORMERS_LEGACY.contains(&v) => format!(
            "transformers 4.x uses {v} as given (no `~`, no `$VAR`): set it to {} or remove it",
            settings.hub_cache().display()
        ),
        (_, Some(v)) => format!(
            "fix or remove {v} where this interpreter gets it (your shell startup files, a .env loaded by the project, a conda activate script)"
        ),
        (_, None) => "run `modelenv install` and open a new shell".to_owned(),
    }
}
