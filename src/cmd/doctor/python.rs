//! The user's Python interpreters: where huggingface_hub, datasets, transformers and mlx-lm
//! really resolve their caches, asked of each interpreter itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cmd::show;
use crate::resolve;
use crate::settings::{Env, Settings};

use super::{Check, Status, run_probe, same_path};

const PY_PROBE: &str = r#"
import json, os, sys
out = {"executable": sys.executable, "version": sys.version.split()[0]}
def version(name):
    try:
        from importlib.metadata import version as v
        return v(name)
    except Exception:
        return None
try:
    import huggingface_hub
    from huggingface_hub import constants as c
    out["huggingface_hub"] = {"version": getattr(huggingface_hub, "__version__", None), "HF_HOME": str(c.HF_HOME), "HF_HUB_CACHE": str(c.HF_HUB_CACHE)}
except ImportError:
    out["huggingface_hub"] = None
except Exception as e:
    out["huggingface_hub"] = {"error": repr(e)}
try:
    import datasets.config as dc
    out["datasets"] = {"version": version("datasets"), "HF_DATASETS_CACHE": str(dc.HF_DATASETS_CACHE)}
except ImportError:
    out["datasets"] = None
except Exception as e:
    out["datasets"] = {"error": repr(e)}
out["transformers"] = version("transformers")
try:
    import importlib.util
    out["mlx_lm"] = importlib.util.find_spec("mlx_lm") is not None
except Exception:
    out["mlx_lm"] = False
print("\x01MODELENV-PY\x01" + json.dumps(out))
"#;

/// The interpreters to ask: python3/python on PATH, $VIRTUAL_ENV, $CONDA_PREFIX, --python.
fn interpreters(env: &Env, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let path = env.get("PATH").unwrap_or("");
    for name in ["python3", "python"] {
        if let Ok(p) = which::which_in(name, Some(path), "/") {
            found.push(p);
        }
    }
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(v) = env.get(var) {
            found.push(Path::new(v).join("bin/python"));
        }
    }
    found.extend(extra.iter().cloned());
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for p in found {
        let key = p.canonicalize().unwrap_or_else(|_| p.clone());
        if !seen.contains(&key) {
            seen.push(key);
            out.push(p);
        }
    }
    out
}

pub(super) fn checks(
    settings: &Settings,
    env: &Env,
    extra: &[PathBuf],
    timeout: Duration,
) -> Vec<Check> {
    let list = interpreters(env, extra);
    if list.is_empty() {
        return vec![Check::new(
            "python",
            Status::Skip,
            "no Python interpreter found on PATH",
        )];
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = list
            .iter()
            .map(|py| s.spawn(move || probe_python(settings, env, py, timeout)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn probe_python(settings: &Settings, env: &Env, py: &Path, timeout: Duration) -> Vec<Check> {
    let name = py.display().to_string();
    let mut cmd = Command::new(py);
    cmd.args(["-c", PY_PROBE]);
    // The user's environment (PYTHONPATH and friends kept), with the exports a new shell has
    // filled in where this process predates the install.
    for (k, want) in settings.exports() {
        if env.get(k).is_none() {
            cmd.env(k, want);
        }
    }
    let out = match run_probe(cmd, timeout) {
        Ok(o) => o,
        Err(e) => {
            return vec![Check::new(
                format!("python.{name}"),
                Status::Warn,
                format!("{name} could not be probed: {e}"),
            )];
        }
    };
    let text = String::from_utf8_lossy(&out);
    let Some(json) = text.split("\u{1}MODELENV-PY\u{1}").nth(1) else {
        return vec![Check::new(
            format!("python.{name}"),
            Status::Warn,
            format!("{name} did not answer the probe (a broken interpreter?)"),
        )];
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json.trim()) else {
        return vec![Check::new(
            format!("python.{name}"),
            Status::Warn,
            format!("{name} gave an unreadable answer"),
        )];
    };
    let mut checks = Vec::new();
    let hub_central = settings.hub_cache();
    let lib = |id: &str, label: &str, value: &serde_json::Value, key: &str, want: &Path| -> Check {
        let cid = format!("python.{name}.{id}");
        if value.is_null() {
            return Check::new(
                cid,
                Status::Skip,
                format!("{label} is not installed for {name}"),
            );
        }
        if let Some(err) = value.get("error") {
            return Check::new(
                cid,
                Status::Warn,
                format!("{label} failed to import in {name}: {err}"),
            );
        }
        let ver = value.get("version").and_then(|v| v.as_str()).unwrap_or("?");
        let got = value.get(key).and_then(|v| v.as_str()).unwrap_or("");
        if same_path(Path::new(got), want) {
            Check::new(
                cid,
                Status::Pass,
                format!("{label} {ver} in {name} uses {}", show(settings, want)),
            )
            .path(Path::new(got))
        } else {
            Check::new(cid, Status::Fail, format!("{label} {ver} in {name} resolves {key} to {got}, not {}", show(settings, want)))
                .hint("check HF_HOME/HF_HUB_CACHE/HF_DATASETS_CACHE in that environment (a .env loaded by the project, a conda activate script, the package itself)")
                .path(Path::new(got))
        }
    };
    checks.push(lib(
        "huggingface_hub",
        "huggingface_hub",
        &v["huggingface_hub"],
        "HF_HUB_CACHE",
        &hub_central,
    ));
    checks.push(lib(
        "datasets",
        "datasets",
        &v["datasets"],
        "HF_DATASETS_CACHE",
        &settings.datasets_cache(),
    ));
    if v["mlx_lm"].as_bool() == Some(true) {
        let hub_ok = checks[0].status;
        checks.push(Check::new(
            format!("python.{name}.mlx_lm"),
            if hub_ok == Status::Fail {
                Status::Fail
            } else {
                Status::Pass
            },
            format!("mlx-lm in {name} downloads through huggingface_hub's hub cache"),
        ));
    }
    if let Some(tv) = v["transformers"].as_str() {
        let major: u32 = tv
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(5);
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        for k in [
            "HOME",
            "HF_HOME",
            "HF_HUB_CACHE",
            "HUGGINGFACE_HUB_CACHE",
            "XDG_CACHE_HOME",
            "TRANSFORMERS_CACHE",
            "PYTORCH_TRANSFORMERS_CACHE",
            "PYTORCH_PRETRAINED_BERT_CACHE",
        ] {
            if let Some(x) = env.get(k) {
                vars.insert(k.into(), x.into());
            }
        }
        vars.entry("HOME".into())
            .or_insert_with(|| settings.home.to_string_lossy().into_owned());
        let r = resolve::transformers_cache(&vars, major);
        let cid = format!("python.{name}.transformers");
        checks.push(if same_path(&r.path, &hub_central) {
            Check::new(
                cid,
                Status::Pass,
                format!("transformers {tv} in {name} uses the hub cache"),
            )
        } else {
            Check::new(
                cid,
                Status::Fail,
                format!(
                    "transformers {tv} in {name}: {} = {} splits the cache",
                    r.from.unwrap_or("its default"),
                    r.path.display()
                ),
            )
            .hint("set TRANSFORMERS_CACHE to the hub cache or remove it")
        });
    }
    checks
}
