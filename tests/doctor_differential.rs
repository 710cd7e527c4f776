//! The doctor against the real libraries: over generated environments (each of HF_HOME,
//! HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, TRANSFORMERS_CACHE, HF_DATASETS_CACHE and
//! XDG_CACHE_HOME unset, absolute, `~/…`, `$HOME/…`, `${HOME}/…`, relative, empty, or
//! pointing elsewhere), every per-library verdict of `modelenv doctor` is compared with where
//! the library really puts a download through its own entry points
//! (tests/differential/oracle.py: `hf_hub_download`, transformers' `cached_file`, mlx-lm's
//! download, a real `load_dataset("csv", …)`), in real venvs built by
//! scripts/diff-venvs.sh: transformers 4.x with huggingface_hub 0.x and datasets 3.x;
//! transformers 5.x with the newest huggingface_hub and datasets; mlx-lm where it installs.
//!
//! A verdict agrees when the doctor fails the library exactly when the download misses the
//! central folder, and when a path it reports as absolute is the one the library used.
// Tests build the situations they check on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

/// Each variable and the folder under HOME that is right for it when the central store is
/// the default `~/.cache/huggingface`.
const VARS: [(&str, &str); 6] = [
    ("HF_HOME", ".cache/huggingface"),
    ("HF_HUB_CACHE", ".cache/huggingface/hub"),
    ("HUGGINGFACE_HUB_CACHE", ".cache/huggingface/hub"),
    ("TRANSFORMERS_CACHE", ".cache/huggingface/hub"),
    ("HF_DATASETS_CACHE", ".cache/huggingface/datasets"),
    ("XDG_CACHE_HOME", ".cache"),
];

/// How a value is written.
const FORMS: [&str; 7] = [
    "absolute",
    "elsewhere",
    "tilde",
    "dollar",
    "brace",
    "relative",
    "empty",
];

/// At least this many environments are checked (`MODELENV_DIFF_CASES` lowers it for a quick
/// local run; the test then says so and does not count as the full check).
const CASES: usize = 120;

fn case_count() -> usize {
    std::env::var("MODELENV_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES)
}
/// Every this-many-th case is also checked with `--python` probes of every venv.
const PROBE_EVERY: usize = 6;

fn value(form: &str, target: &str, home: &Path, root: &Path) -> String {
    match form {
        "absolute" => format!("{}/{target}", home.display()),
        "elsewhere" => format!("{}/elsewhere/{target}", root.display()),
        "tilde" => format!("~/{target}"),
        "dollar" => format!("$HOME/{target}"),
        "brace" => format!("${{HOME}}/{target}"),
        "relative" => target.to_owned(),
        "empty" => String::new(),
        _ => unreachable!(),
    }
}

/// The generated combinations, as (variable, form) lists: none set, each variable in each
/// form alone, then pseudo-random mixes (a fixed seed, so a failure reproduces).
fn combinations() -> Vec<Vec<(&'static str, &'static str)>> {
    let mut out = vec![vec![]];
    for (name, _) in VARS {
        for form in FORMS {
            out.push(vec![(name, form)]);
        }
    }
    let mut seed: u64 = 0x5eed_1234_abcd_0001;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    while out.len() < case_count().max(out.len()) {
        let mut combo = Vec::new();
        for (name, _) in VARS {
            if next(2) == 0 {
                combo.push((name, FORMS[next(FORMS.len() as u64) as usize]));
            }
        }
        if combo.len() >= 2 {
            out.push(combo);
        }
    }
    out
}

struct Case {
    id: usize,
    home: PathBuf,
    cwd: PathBuf,
    env: Vec<(String, String)>,
    label: String,
}

struct Venv {
    name: &'static str,
    python: PathBuf,
    libs: &'static [&'static str],
    /// Measured on every this-many-th case (mlx-lm's import is slow and its rule is
    /// huggingface_hub's).
    every: usize,
}

fn venvs() -> Vec<Venv> {
    let root = std::env::var_os("MODELENV_DIFF_VENVS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/diff-venv"));
    let mut out = Vec::new();
    for (name, libs) in [
        (
            "v4",
            &["huggingface_hub", "transformers", "datasets"] as &'static [&'static str],
        ),
        ("v5", &["huggingface_hub", "transformers", "datasets"]),
    ] {
        assert!(
            root.join(name).join(".ready").exists(),
            "{} is missing: run scripts/diff-venvs.sh (scripts/test.sh does)",
            root.join(name).display()
        );
        out.push(Venv {
            name,
            python: root.join(name).join("bin/python"),
            libs,
            every: 1,
        });
    }
    if root.join("mlx/.ready").exists() {
        out.push(Venv {
            name: "mlx",
            python: root.join("mlx/bin/python"),
            libs: &["mlx_lm"],
            every: 2,
        });
    } else {
        let why = fs::read_to_string(root.join("mlx.SKIPPED"))
            .unwrap_or_else(|_| "scripts/diff-venvs.sh has not tried to install it".into());
        eprintln!("SKIPPED mlx-lm: {why}");
    }
    out
}

/// What each venv's libraries really did: case id → library → the cache folder, or `None`
/// when the download failed.
type Truth = BTreeMap<usize, BTreeMap<String, Result<String, String>>>;

fn run_oracle(venv: &Venv, cases_file: &Path, out: &Path) -> (Truth, Value) {
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/oracle.py");
    let res = Command::new(&venv.python)
        .arg("-P")
        .arg(&oracle)
        .arg(cases_file)
        .arg(venv.libs.join(","))
        .arg(out)
        .env_clear()
        .env("PATH", common::sys_path())
        .env("ORACLE_JOBS", "1")
        .current_dir("/")
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "oracle in {} failed: {}",
        venv.name,
        common::stderr(&res)
    );
    let v: Value = serde_json::from_slice(&fs::read(out).unwrap()).unwrap();
    let mut truth = Truth::new();
    for (id, libs) in v["results"].as_object().unwrap() {
        let mut m = BTreeMap::new();
        for lib in venv.libs {
            let r = &libs[*lib];
            m.insert(
                lib.to_string(),
                match r.as_str() {
                    Some(p) => Ok(p.to_owned()),
                    None => Err(r["error"].as_str().unwrap_or("no answer").to_owned()),
                },
            );
        }
        truth.insert(id.parse().unwrap(), m);
    }
    (truth, v)
}

fn doctor(case: &Case, bin_dir: &Path, extra: &[&str]) -> Value {
    let mut cmd = Command::new(common::bin());
    cmd.args(["doctor", "--json", "--timeout", "300"])
        .args(extra)
        .env_clear()
        .env("HOME", &case.home)
        .env("PATH", bin_dir)
        .env("USER", "tester")
        .current_dir(&case.cwd);
    for (k, v) in &case.env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", common::stderr(&out)))
}

fn find<'a>(report: &'a Value, id: &str) -> Option<&'a Value> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
}

/// One comparison: the doctor's check against what the libraries did.
fn compare(
    what: &str,
    check: Option<&Value>,
    truths: &[&Result<String, String>],
    central: &Path,
    disagreements: &mut Vec<String>,
) {
    let Some(check) = check else {
        disagreements.push(format!("{what}: the doctor has no such check"));
        return;
    };
    let reaches = truths
        .iter()
        .all(|t| t.as_ref().is_ok_and(|p| Path::new(p) == central));
    let fails = check["status"] == "fail";
    if fails == reaches {
        disagreements.push(format!(
            "{what}: doctor says {} ({}), the library {}",
            check["status"],
            check["message"].as_str().unwrap_or(""),
            truths
                .iter()
                .map(|t| match t {
                    Ok(p) => format!("downloaded to {p}"),
                    Err(e) => format!("failed: {}", e.lines().next().unwrap_or("")),
                })
                .collect::<Vec<_>>()
                .join("; ")
        ));
        return;
    }
    // Where the doctor names an absolute folder for a single library, it is the real one.
    if let ([Ok(real)], Some(said)) = (truths, check["path"].as_str())
        && Path::new(said).is_absolute()
    {
        let said_real = fs::canonicalize(said).unwrap_or_else(|_| PathBuf::from(said));
        if said_real != Path::new(real) {
            disagreements.push(format!(
                "{what}: doctor says the library uses {said}, it used {real}"
            ));
        }
    }
}

#[test]
fn every_verdict_matches_what_the_real_libraries_do() {
    let venvs = venvs();
    let tmp = tempfile::Builder::new()
        .prefix("modelenv-diff-")
        .tempdir()
        .unwrap();
    let root = fs::canonicalize(tmp.path()).unwrap();
    let bin_dir = root.join("bin"); // an empty PATH: no interpreter but those given
    fs::create_dir_all(&bin_dir).unwrap();
    let mut cases = Vec::new();
    let wanted = case_count();
    let mut combos = combinations();
    if wanted < combos.len() {
        // A quick run: an even spread of the single-variable cases and the mixes.
        let step = combos.len().div_ceil(wanted);
        combos = combos.into_iter().step_by(step).collect();
    }
    for (id, combo) in combos.into_iter().enumerate() {
        let dir = root.join(format!("c{id}"));
        let home = dir.join("home");
        let cwd = dir.join("cwd");
        fs::create_dir_all(home.join(".config/modelenv")).unwrap();
        fs::create_dir_all(&cwd).unwrap();
        fs::write(dir.join("data.csv"), "a,b\n1,2\n").unwrap();
        // The central store is the default one, fixed by the config file so that
        // XDG_CACHE_HOME moves the libraries but not the doctor's target.
        fs::write(
            home.join(".config/modelenv/config.toml"),
            format!("hf_home = \"{}/.cache/huggingface\"\n", home.display()),
        )
        .unwrap();
        let env: Vec<(String, String)> = combo
            .iter()
            .map(|(name, form)| {
                let target = VARS.iter().find(|(n, _)| n == name).unwrap().1;
                (name.to_string(), value(form, target, &home, &dir))
            })
            .collect();
        let label = if combo.is_empty() {
            "nothing set".to_owned()
        } else {
            env.iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        cases.push(Case {
            id,
            home,
            cwd,
            env,
            label,
        });
    }
    let list: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "home": c.home,
                "cwd": c.cwd,
                "csv": c.home.parent().unwrap().join("data.csv"),
                "env": c.env.iter().cloned().collect::<BTreeMap<_, _>>(),
            })
        })
        .collect();
    for v in &venvs {
        let mine: Vec<&Value> = list.iter().step_by(v.every).collect();
        fs::write(
            root.join(format!("cases-{}.json", v.name)),
            json!({ "cases": mine }).to_string(),
        )
        .unwrap();
    }

    let started = std::time::Instant::now();
    // The libraries' answers (one process per venv, in parallel) and the doctor's without
    // probes, meanwhile.
    let (truths, plain): (Vec<(Truth, Value)>, Vec<Value>) = std::thread::scope(|s| {
        let oracles: Vec<_> = venvs
            .iter()
            .map(|v| {
                let out = root.join(format!("truth-{}.json", v.name));
                let cf = root.join(format!("cases-{}.json", v.name));
                s.spawn(move || run_oracle(v, &cf, &out))
            })
            .collect();
        let plain: Vec<Value> = cases
            .iter()
            .map(|c| doctor(c, &bin_dir, &["--no-probe"]))
            .collect();
        (
            oracles.into_iter().map(|h| h.join().unwrap()).collect(),
            plain,
        )
    });
    eprintln!("libraries measured in {:?}", started.elapsed());
    for ((_, raw), v) in truths.iter().zip(&venvs) {
        assert_eq!(
            raw["unexpected_requests"],
            json!([]),
            "{}: the fake Hub got requests it does not serve",
            v.name
        );
        eprintln!("{}: {}", v.name, raw["versions"]);
    }
    let truth = |vi: usize, id: usize, lib: &str| truths[vi].0.get(&id).and_then(|m| m.get(lib));
    let by_lib = |id: usize, lib: &str| -> Vec<&Result<String, String>> {
        venvs
            .iter()
            .enumerate()
            .filter(|(_, v)| v.libs.contains(&lib))
            .filter_map(|(vi, _)| truth(vi, id, lib))
            .collect()
    };

    let mut disagreements = Vec::new();
    let mut compared = 0;
    for (case, report) in cases.iter().zip(&plain) {
        let hub = case.home.join(".cache/huggingface/hub");
        let ds = case.home.join(".cache/huggingface/datasets");
        let at = format!("case {} ({}) without probes", case.id, case.label);
        let mut hub_truths = by_lib(case.id, "huggingface_hub");
        hub_truths.extend(by_lib(case.id, "mlx_lm"));
        compare(
            &format!("{at}: env.huggingface_hub"),
            find(report, "env.huggingface_hub"),
            &hub_truths,
            &hub,
            &mut disagreements,
        );
        compare(
            &format!("{at}: env.datasets"),
            find(report, "env.datasets"),
            &by_lib(case.id, "datasets"),
            &ds,
            &mut disagreements,
        );
        // transformers has its own check only when a legacy variable is set; otherwise it
        // uses the hub cache, which env.huggingface_hub judges.
        let tf = find(report, "env.transformers").or_else(|| find(report, "env.huggingface_hub"));
        compare(
            &format!("{at}: transformers"),
            tf,
            &by_lib(case.id, "transformers"),
            &hub,
            &mut disagreements,
        );
        compared += 3;
    }

    // With probes: a subset of the cases (each probe imports the libraries), in parallel.
    let probed_cases: Vec<&Case> = cases.iter().step_by(PROBE_EVERY).collect();
    let mut args: Vec<String> = Vec::new();
    for v in &venvs {
        args.push("--python".into());
        args.push(v.python.display().to_string());
    }
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let probed: Vec<Value> = std::thread::scope(|s| {
        let chunks: Vec<_> = probed_cases
            .chunks(probed_cases.len().div_ceil(2))
            .map(|chunk| {
                let (bin_dir, arg_refs) = (&bin_dir, &arg_refs);
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|c| doctor(c, bin_dir, arg_refs))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    for (case, report) in probed_cases.iter().zip(&probed) {
        let hub = case.home.join(".cache/huggingface/hub");
        let ds = case.home.join(".cache/huggingface/datasets");
        for (vi, v) in venvs.iter().enumerate() {
            for lib in v.libs {
                let Some(real) = truth(vi, case.id, lib) else {
                    continue;
                };
                let central = if *lib == "datasets" { &ds } else { &hub };
                let id = format!("python.{}.{lib}", v.python.display());
                compare(
                    &format!("case {} ({}) probing {}: {id}", case.id, case.label, v.name),
                    find(report, &id),
                    &[real],
                    central,
                    &mut disagreements,
                );
                compared += 1;
            }
        }
        let tf = find(report, "env.transformers").or_else(|| find(report, "env.huggingface_hub"));
        compare(
            &format!(
                "case {} ({}) with probes: transformers",
                case.id, case.label
            ),
            tf,
            &by_lib(case.id, "transformers"),
            &hub,
            &mut disagreements,
        );
        compared += 1;
    }
    eprintln!("doctor probes done at {:?}", started.elapsed());
    eprintln!(
        "{} environments, {} with probes; {compared} verdicts compared, {} disagreements",
        cases.len(),
        probed_cases.len(),
        disagreements.len()
    );
    if wanted == CASES {
        assert!(cases.len() >= 100);
    } else {
        eprintln!("MODELENV_DIFF_CASES={wanted}: a partial run");
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
