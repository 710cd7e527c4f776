//! The repo's root `.env.example`, read by the real python-dotenv.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestEnv, python};

/// What python-dotenv (as pydantic-settings uses it) reads from the file, with HOME set.
fn dotenv_values(env: &TestEnv, path: &std::path::Path) -> serde_json::Value {
    let out = Command::new(python())
        .args(["-c", "import json,sys; from dotenv import dotenv_values; print(json.dumps(dotenv_values(sys.argv[1])))"])
        .arg(path)
        .env("HOME", &env.home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python-dotenv failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn dotenv_example_resolves_to_absolute_central_paths() {
    let env = TestEnv::new();
    let path = env.repo.join(".env.example");
    fs::write(
        &path,
        "# keys\nOPENAI_API_KEY=\nHF_CACHE_DIR=./model_cache\nPORT=8000\n",
    )
    .unwrap();
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    let v = dotenv_values(&env, &path);
    let h = env.home.display().to_string();
    assert_eq!(v["HF_HOME"], format!("{h}/.cache/huggingface"));
    assert_eq!(
        v["TRANSFORMERS_CACHE"],
        format!("{h}/.cache/huggingface/hub")
    );
    assert_eq!(
        v["HF_DATASETS_CACHE"],
        format!("{h}/.cache/huggingface/datasets")
    );
    assert_eq!(v["HF_CACHE_DIR"], format!("{h}/.cache/huggingface/hub"));
    assert_eq!(v["CUSTOM_MODEL_DIR"], format!("{h}/models"));
    assert_eq!(v["PORT"], "8000");
    assert_eq!(v["OPENAI_API_KEY"], "");
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(
            "# keys\nOPENAI_API_KEY=\nHF_CACHE_DIR=${HOME}/.cache/huggingface/hub\nPORT=8000\n"
        ),
        "{text}"
    );
    assert!(
        !text.contains('~'),
        "a literal ~ is not expanded by dotenv loaders: {text}"
    );
}

#[test]
fn dotenv_paths_with_spaces_and_outside_home_resolve() {
    let env = TestEnv::new();
    let path = env.repo.join(".env.example");
    env.ok(&[
        "install",
        "--shell",
        "zsh",
        "--no-doctor",
        "--hf-home",
        "/srv/hf",
        "--custom-model-dir",
        "~/my models",
    ]);
    let v = dotenv_values(&env, &path);
    assert_eq!(v["HF_HOME"], "/srv/hf");
    assert_eq!(v["HF_CACHE_DIR"], "/srv/hf/hub");
    assert_eq!(
        v["CUSTOM_MODEL_DIR"],
        format!("{}/my models", env.home.display())
    );
}

#[test]
fn dotenv_is_idempotent_and_uninstall_restores_it() {
    let env = TestEnv::new();
    let path = env.repo.join(".env.example");
    let original = "HF_HOME=~/.cache/huggingface\r\nHF_CACHE_DIR=./model_cache # local\r\nDEBUG=1";
    fs::write(&path, original).unwrap();
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    let once = fs::read(&path).unwrap();
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    assert_eq!(fs::read(&path).unwrap(), once);
    let text = String::from_utf8(once).unwrap();
    assert!(text.starts_with("HF_HOME=${HOME}/.cache/huggingface\r\nHF_CACHE_DIR=${HOME}/.cache/huggingface/hub # local\r\nDEBUG=1\r\n"), "{text:?}");
    env.ok(&["uninstall"]);
    assert_eq!(fs::read_to_string(&path).unwrap(), original);
}

#[test]
fn a_location_dotenv_cannot_hold_skips_the_file_with_a_warning() {
    let env = TestEnv::new();
    let out = env.ok(&[
        "install",
        "--shell",
        "zsh",
        "--no-doctor",
        "--hf-home",
        "/srv/a#b",
    ]);
    assert!(
        common::stderr(&out).contains("skipping"),
        "{}",
        common::stderr(&out)
    );
    assert!(!env.repo.join(".env.example").exists());
    assert!(env.home.join(".zshenv").exists());
}

/// python-dotenv's own test inputs (extracted from its sdist by
/// `tests/fixtures/extract-python-dotenv-inputs.py`; the fixture names the source).
fn upstream_inputs() -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/python-dotenv-1.2.2-inputs.json")).unwrap();
    assert!(
        v["source"]
            .as_str()
            .unwrap()
            .contains("python-dotenv 1.2.2")
    );
    v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["text"].as_str().unwrap().to_owned())
        .collect()
}

/// Managed keys written the ways python-dotenv reads them (and a few that only look managed).
const SPELLINGS: &[&str] = &[
    "HF_HOME=./model_cache",
    "export HF_HOME=./model_cache",
    "export\tHF_HOME=./model_cache",
    "'HF_HOME'=./model_cache",
    "  HF_HOME  =  ./model_cache  ",
    "HF_HOME=\"./model_cache\"",
    "HF_HOME='./model_cache'",
    "HF_HOME=\"./a\\\"b\" # c",
    "HF_HOME=./model_cache # note",
    "HF_HOME=\"./x\"#c",
    "HF_HOME=\"./multi\nline\"",
    "HF_HOME=",
    "HF_HOME= # empty",
    "HF_HOME",
    "HF_HOME='./a\\'b'",
    "\u{feff}HF_CACHE_DIR=./model_cache",
    "HF_CACHE_DIR=./model_cache\rexport 'HF_HOME'=./x\r",
    "CERT=\"-----BEGIN\nHF_HOME=./fake\n# >>> modelenv >>>\n\"",
    "# >>> modelenv >>>\nHF_HOME=/team/hf\n# <<< modelenv <<<",
    "HF_HOME=${HOME}/.cache/huggingface",
];

/// Every upstream input with every spelling before and after it.
fn cases() -> Vec<String> {
    let mut out = Vec::new();
    for input in upstream_inputs() {
        for s in SPELLINGS {
            out.push(format!("{s}\n{input}"));
            out.push(format!("{input}\n{s}"));
        }
    }
    out
}

type Values = BTreeMap<String, Option<String>>;

/// What the real python-dotenv reads from each file: statements it cannot parse, the values
/// before interpolation, and the values with only `HOME` in the environment.
struct Read {
    errors: usize,
    raw: Values,
    resolved: Values,
}

fn python_read(home: &Path, paths: &[PathBuf]) -> Vec<Read> {
    let script = r#"
import json, logging, os, sys
logging.disable(logging.CRITICAL)
from dotenv import dotenv_values
from dotenv.parser import parse_stream
paths = json.load(sys.stdin)
os.environ.clear()
os.environ["HOME"] = sys.argv[1]
out = []
for p in paths:
    with open(p, encoding="utf-8") as f:
        errors = sum(1 for b in parse_stream(f) if b.error)
    out.append({"errors": errors, "raw": dotenv_values(p, interpolate=False), "resolved": dotenv_values(p)})
print(json.dumps(out))
"#;
    let mut child = Command::new(python())
        .args(["-c", script])
        .arg(home)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&list).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python-dotenv failed");
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let map = |m: &serde_json::Value| -> Values {
        m.as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned)))
            .collect()
    };
    v.iter()
        .map(|r| Read {
            errors: r["errors"].as_u64().unwrap() as usize,
            raw: map(&r["raw"]),
            resolved: map(&r["resolved"]),
        })
        .collect()
}

/// Runs modelenv for each argument list on two threads (the runs of one HOME one after the
/// other: they share its lock); every run must succeed.
fn run_all(jobs: Vec<(PathBuf, Vec<String>)>) {
    let mut by_home: BTreeMap<PathBuf, Vec<Vec<String>>> = BTreeMap::new();
    for (home, args) in jobs {
        by_home.entry(home).or_default().push(args);
    }
    let groups = std::sync::Mutex::new(by_home.into_iter().collect::<Vec<_>>());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some((home, runs)) = groups.lock().unwrap().pop() else {
                        return;
                    };
                    for args in runs {
                        let out = Command::new(common::bin())
                            .args(&args)
                            .env_clear()
                            .env("HOME", &home)
                            .env("PATH", common::sys_path())
                            .current_dir(&home)
                            .output()
                            .unwrap();
                        assert!(
                            out.status.success(),
                            "modelenv {} in {} failed: {}",
                            args[0],
                            home.display(),
                            common::stderr(&out)
                        );
                    }
                }
            });
        }
    });
}

const MANAGED: [&str; 5] = [
    "HF_HOME",
    "TRANSFORMERS_CACHE",
    "HF_DATASETS_CACHE",
    "HF_CACHE_DIR",
    "CUSTOM_MODEL_DIR",
];

fn central(home: &Path, key: &str) -> String {
    let h = home.display();
    match key {
        "HF_HOME" => format!("{h}/.cache/huggingface"),
        "HF_DATASETS_CACHE" => format!("{h}/.cache/huggingface/datasets"),
        "CUSTOM_MODEL_DIR" => format!("{h}/models"),
        _ => format!("{h}/.cache/huggingface/hub"),
    }
}

#[test]
fn upstream_inputs_parse_as_python_dotenv_parses_them() {
    let tmp = tempfile::tempdir().unwrap();
    let texts = cases();
    let paths: Vec<PathBuf> = (0..texts.len())
        .map(|i| tmp.path().join(format!("{i}.env")))
        .collect();
    for (p, t) in paths.iter().zip(&texts) {
        fs::write(p, t).unwrap();
    }
    let read = python_read(tmp.path(), &paths);
    for ((t, r), p) in texts.iter().zip(&read).zip(&paths) {
        let ours = modelenv::dotenv::parse(t);
        let errors = ours.iter().filter(|b| b.error).count();
        assert_eq!(
            errors, r.errors,
            "statements python-dotenv cannot parse in {t:?}"
        );
        assert_eq!(
            modelenv::dotenv::values(t),
            r.raw,
            "values of {t:?} ({})",
            p.display()
        );
    }
    assert!(texts.len() > 2000, "{} cases", texts.len());
}

/// install, install again, uninstall and migrate over every upstream input with every managed
/// spelling, each file read back by the real python-dotenv.
#[test]
fn install_migrate_uninstall_over_upstream_inputs() {
    // In memory: thousands of runs, each syncing what it writes.
    let tmp = tempfile::tempdir_in("/dev/shm").unwrap();
    let texts = cases();
    const PER_HOME: usize = 60;
    let home_of = |i: usize| tmp.path().join(format!("home{}", i / PER_HOME));
    let repo = |i: usize, kind: &str| tmp.path().join(format!("{kind}{i}"));
    let file = |i: usize, kind: &str| repo(i, kind).join(".env.example");
    let mut installs = Vec::new();
    let mut migrates: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (i, t) in texts.iter().enumerate() {
        fs::create_dir_all(home_of(i)).unwrap();
        for kind in ["i", "m"] {
            fs::create_dir_all(repo(i, kind)).unwrap();
            fs::write(file(i, kind), t).unwrap();
        }
        let args = |r: PathBuf| -> Vec<String> {
            vec![
                "install".into(),
                "--repo".into(),
                r.display().to_string(),
                "--no-modify-profile".into(),
                "--no-doctor".into(),
            ]
        };
        installs.push((home_of(i), args(repo(i, "i"))));
        migrates
            .entry(home_of(i))
            .or_insert_with(|| vec!["migrate".into(), "--apply".into()])
            .push(repo(i, "m").display().to_string());
    }
    let n = texts.len();
    let installed: Vec<PathBuf> = (0..n).map(|i| file(i, "i")).collect();
    let migrated: Vec<PathBuf> = (0..n).map(|i| file(i, "m")).collect();
    // Every case is read in one HOME-less python process per stage; HOME differs per group, so
    // values are compared with the group's HOME substituted.
    let before: Vec<Read> = python_read(&home_of(0), &installed);

    run_all(installs.clone());
    let once: Vec<Vec<u8>> = installed.iter().map(|p| fs::read(p).unwrap()).collect();
    run_all(installs);
    let migrates: Vec<_> = migrates.into_iter().collect();
    run_all(migrates.clone());
    let migrated_once: Vec<Vec<u8>> = migrated.iter().map(|p| fs::read(p).unwrap()).collect();
    run_all(migrates);
    let mut failures = Vec::new();
    let mut refused = 0;
    let mut after = Vec::new();
    let mut after_m = Vec::new();
    for g in 0..n.div_ceil(PER_HOME) {
        let range = g * PER_HOME..((g + 1) * PER_HOME).min(n);
        after.extend(python_read(
            &home_of(range.start),
            &installed[range.clone()],
        ));
        after_m.extend(python_read(&home_of(range.start), &migrated[range]));
    }
    for i in 0..n {
        let (t, b, a, m) = (&texts[i], &before[i], &after[i], &after_m[i]);
        let home = home_of(i);
        let mut fail = |what: String| failures.push(format!("case {i} {t:?}: {what}"));
        if fs::read(&installed[i]).unwrap() != once[i] {
            fail("a second install changed bytes".into());
        }
        if once[i] == t.as_bytes() {
            if b.errors == 0 {
                fail("install left a file python-dotenv parses unchanged".into());
            }
            refused += 1;
        } else {
            if a.errors != b.errors {
                fail(format!(
                    "{} unparsable statements, {} before",
                    a.errors, b.errors
                ));
            }
            for (k, v) in &b.raw {
                if !MANAGED.contains(&k.as_str()) && a.raw.get(k) != Some(v) {
                    fail(format!("{k} was {v:?}, now {:?}", a.raw.get(k)));
                }
            }
            for k in MANAGED {
                let want = central(&home, k);
                if a.resolved.get(k) != Some(&Some(want.clone())) {
                    fail(format!("{k} reads {:?}, not {want}", a.resolved.get(k)));
                }
            }
        }
        // migrate: a key it changed now reads the central path; every other key is unchanged.
        let mtext = fs::read_to_string(&migrated[i]).unwrap();
        if mtext.as_bytes() != migrated_once[i] {
            fail("a second migrate changed bytes".into());
        }
        for (k, v) in &b.raw {
            let now = m.raw.get(k).cloned().flatten();
            let resolved = m.resolved.get(k).cloned().flatten();
            // Which keys migrate takes for caches is its own guess (`HF_CACHE_DIR` with a BOM
            // in its name too); what it writes must be a central location.
            let to_central = ["HF_HOME", "HF_CACHE_DIR", "HF_DATASETS_CACHE"]
                .iter()
                .any(|c| resolved.as_deref() == Some(central(&home, c).as_str()));
            if now != *v && !to_central {
                fail(format!("migrate: {k} was {v:?}, now {now:?}"));
            }
            let local = v.as_deref().is_some_and(|v| v.starts_with("./"));
            if local
                && b.errors == 0
                && ["HF_HOME", "HF_CACHE_DIR"].contains(&k.as_str())
                && !to_central
            {
                fail(format!("migrate left {k}={v:?} in {mtext:?}"));
            }
        }
    }
    // uninstall puts every byte back.
    let mut uninstalls: Vec<(PathBuf, Vec<String>)> = (0..n.div_ceil(PER_HOME))
        .map(|g| (home_of(g * PER_HOME), vec!["uninstall".to_owned()]))
        .collect();
    uninstalls.dedup();
    run_all(uninstalls);
    for i in 0..n {
        if fs::read(&installed[i]).unwrap() != texts[i].as_bytes() {
            failures.push(format!(
                "case {i} {:?}: uninstall left {:?}",
                texts[i],
                fs::read_to_string(&installed[i]).unwrap()
            ));
        }
    }
    eprintln!(
        "{n} cases ({} upstream inputs x {} spellings, before and after): {refused} refused (each one python-dotenv itself cannot parse), {} failed",
        upstream_inputs().len(),
        SPELLINGS.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed ({refused} refused):\n{}",
        failures.len(),
        failures[..failures.len().min(30)].join("\n")
    );
}
