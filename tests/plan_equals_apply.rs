//! Every destructive command's dry run prints its plan, and its real run carries out exactly
//! that plan: the same operations in the same order, each done, and the disk changed where the
//! plan says and nowhere else. Then a SIGKILL after any operation, and a rerun, loses nothing.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::TestEnv;
use common::fixtures::{self, Hub, Ollama, commit, git, lfs};
use serde_json::Value;

type Tree = std::collections::BTreeMap<PathBuf, common::Entry>;

fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}{}",
        common::stdout(out),
        common::stderr(out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn age(p: &Path, secs: i64) {
    let t = filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - secs, 0);
    filetime::set_file_times(p, t, t).unwrap();
}

/// A hub repo with a detached revision and an unfinished download, an Ollama store with two
/// models sharing a layer and an old orphan blob, and the same GGUF in LM Studio.
fn stores(env: &TestEnv) {
    let hub = Hub::new(&env.home.join(".cache/huggingface/hub"));
    let r = hub.repo("model", "org/m");
    let (old, new) = (commit("old"), commit("new"));
    let shared = vec![1u8; 10_000];
    r.snapshot(
        &old,
        &[
            lfs("w.safetensors", &[2u8; 20_000]),
            lfs("shared.bin", &shared),
            git("config.json", b"{}"),
        ],
    );
    r.snapshot(
        &new,
        &[
            lfs("w.safetensors", &[3u8; 30_000]),
            lfs("shared.bin", &shared),
            git("config.json", b"{}"),
        ],
    );
    r.git_ref("main", &new);
    let incomplete = r.incomplete(&[4u8; 5_000]);
    age(&incomplete, 3 * 3600);
    let o = Ollama::new(&env.home.join(".ollama/models"));
    let gguf = vec![5u8; 40_000];
    o.library(
        "a",
        "latest",
        b"{\"a\":1}",
        &[(fixtures::MODEL, &gguf), (fixtures::TEMPLATE, b"tmpl")],
    );
    o.library(
        "b",
        "latest",
        b"{\"b\":1}",
        &[
            (fixtures::MODEL, &[6u8; 50_000]),
            (fixtures::TEMPLATE, b"tmpl"),
        ],
    );
    let (_, orphan) = o.blob(&[7u8; 7_000]);
    age(&orphan, 2 * 3600);
    let lm = env.home.join(".lmstudio/models/x/x-GGUF/x.gguf");
    fs::create_dir_all(lm.parent().unwrap()).unwrap();
    fs::write(&lm, &gguf).unwrap();
    let custom = env.home.join("models/x.gguf");
    fs::create_dir_all(custom.parent().unwrap()).unwrap();
    fs::write(&custom, &gguf).unwrap();
}

/// The plan of a dry run and what the real run reports, compared operation by operation.
fn assert_same_plan(dry: &Value, applied: &Value) -> Vec<Value> {
    let planned = dry["operations"]
        .as_array()
        .expect("operations in the dry run");
    assert!(!planned.is_empty(), "the dry run planned nothing: {dry:#}");
    assert_eq!(
        applied["operations"], dry["operations"],
        "the real run planned something else"
    );
    planned.clone()
}

/// Paths the plan removes are gone; everything else that changed is what the plan names.
fn assert_disk_follows(env: &TestEnv, ops: &[Value], before: &Tree, after: &Tree) {
    let named: Vec<PathBuf> = ops
        .iter()
        .flat_map(|o| [o["path"].as_str(), o["to"].as_str()])
        .flatten()
        .map(PathBuf::from)
        .collect();
    for o in ops {
        if o["op"].as_str().unwrap().starts_with("remove") {
            let p = Path::new(o["path"].as_str().unwrap());
            assert!(
                fs::symlink_metadata(p).is_err() || o["op"] == "remove_empty_dir",
                "{} is still there",
                p.display()
            );
        }
    }
    // modelenv's own state (lock, journal, records) and hash cache are not the user's.
    let own = [
        env.home.join(".local/state/modelenv"),
        env.home.join(".cache/modelenv"),
    ];
    for changed in common::changed(after, before) {
        let changed = env.tmp.path().join(changed);
        if own
            .iter()
            .any(|o| changed.starts_with(o) || o.starts_with(&changed))
        {
            continue;
        }
        assert!(
            named
                .iter()
                .any(|n| changed.starts_with(n) || n.starts_with(&changed)),
            "{} changed but the plan does not name it",
            changed.display()
        );
    }
}

#[test]
fn prune_does_exactly_its_dry_run() {
    let env = TestEnv::new();
    stores(&env);
    let dry = json(&env.run(&["prune", "--dry-run", "--json"]));
    assert_eq!(
        dry,
        json(&env.run(&["prune", "--json"])),
        "--dry-run is the default"
    );
    let before = env.snapshot();
    let applied = json(&env.run(&["prune", "--apply", "--json"]));
    let ops = assert_same_plan(&dry, &applied);
    let statuses: Vec<&str> = applied["outcome"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert!(statuses.iter().all(|s| *s == "done"), "{statuses:?}");
    assert_disk_follows(&env, &ops, &before, &env.snapshot());
}

#[test]
fn rm_does_exactly_its_dry_run() {
    for model in ["hf-hub:org/m", "ollama:a:latest"] {
        let env = TestEnv::new();
        stores(&env);
        let dry = json(&env.run(&["models", "rm", model, "--dry-run", "--json"]));
        let before = env.snapshot();
        let applied = json(&env.run(&["models", "rm", model, "--yes", "--json"]));
        let ops = assert_same_plan(&dry, &applied);
        assert_disk_follows(&env, &ops, &before, &env.snapshot());
    }
}

#[test]
fn archive_and_restore_do_exactly_their_dry_runs() {
    let env = TestEnv::new();
    stores(&env);
    let drive = env.tmp.path().join("drive");
    let to = drive.to_str().unwrap();
    let dry = json(&env.run(&[
        "models",
        "archive",
        "hf-hub:org/m",
        "--to",
        to,
        "--dry-run",
        "--json",
    ]));
    let applied = json(&env.run(&["models", "archive", "hf-hub:org/m", "--to", to, "--json"]));
    assert_same_plan(&dry, &applied);
    let dry = json(&env.run(&["models", "restore", "hf-hub:org/m", "--dry-run", "--json"]));
    let applied = json(&env.run(&["models", "restore", "hf-hub:org/m", "--json"]));
    assert_same_plan(&dry, &applied);
    assert!(
        env.home
            .join(".cache/huggingface/hub/models--org--m")
            .is_dir()
    );
}

#[test]
fn dedupe_does_exactly_its_dry_run() {
    let env = TestEnv::new();
    stores(&env);
    let dry = json(&env.run(&["dedupe", "--json"]));
    let before = env.snapshot();
    let applied = json(&env.run(&["dedupe", "--apply", "--json"]));
    let ops = assert_same_plan(&dry, &applied);
    assert_eq!(ops[0]["op"], "hard_link");
    assert_eq!(applied["freed_bytes"], dry["freed_bytes"]);
    assert_disk_follows(&env, &ops, &before, &env.snapshot());
}

#[test]
fn migrate_does_exactly_its_dry_run() {
    let env = TestEnv::new();
    fixtures::seed_monorepo(&env.repo);
    let dry = json(&env.run(&["migrate", "--json"]));
    let applied = json(&env.run(&["migrate", "--apply", "--json"]));
    assert_same_plan(&dry, &applied);
    assert_eq!(applied["moved_bytes"], dry["moved_bytes"]);
    assert_eq!(applied["freed_bytes"], dry["freed_bytes"]);
    for c in applied["caches"].as_array().unwrap() {
        assert_eq!(c["removed"], true, "{c:#}");
    }
}

#[test]
fn install_writes_exactly_the_diff_its_dry_run_prints() {
    let env = TestEnv::new();
    fs::write(env.home.join(".bashrc"), "# mine\nalias ll='ls -l'\n").unwrap();
    fs::write(
        env.repo.join(".env.example"),
        "HF_CACHE_DIR=./model_cache\nPORT=1\n",
    )
    .unwrap();
    let dry = env.run(&["install", "--shell", "bash", "--dry-run", "--no-doctor"]);
    assert!(dry.status.success(), "{}", common::stderr(&dry));
    let diff = common::stdout(&dry);
    // Apply the printed diff to copies of the files, with `patch`, file by file.
    let copies = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for part in diff.split("--- ").skip(1) {
        let target = part
            .lines()
            .nth(1)
            .and_then(|l| l.strip_prefix("+++ b/"))
            .unwrap()
            .trim()
            .to_owned();
        let real = match target.strip_prefix("~/") {
            Some(rest) => env.home.join(rest),
            None => PathBuf::from("/").join(&target),
        };
        let copy = copies.path().join(expected.len().to_string());
        if !real.exists() {
            // A new file: its content is the diff's added lines.
            let mut text: String = part
                .lines()
                .skip(2)
                .filter_map(|l| l.strip_prefix('+'))
                .map(|l| format!("{l}\n"))
                .collect();
            if part.contains("\\ No newline at end of file") {
                text.pop();
            }
            fs::write(&copy, text).unwrap();
            expected.push((real, copy));
            continue;
        }
        let p = std::process::Command::new("patch")
            .args(["-s", "-N", "-o"])
            .arg(&copy)
            .arg(&real)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(format!("--- {part}").as_bytes())?;
                c.wait()
            })
            .unwrap();
        assert!(p.success(), "patch failed for {target}");
        expected.push((real, copy));
    }
    assert!(expected.len() >= 2, "{diff}");
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    for (real, copy) in expected {
        assert_eq!(
            fs::read_to_string(&real).unwrap(),
            fs::read_to_string(&copy).unwrap(),
            "{} differs from its dry-run diff",
            real.display()
        );
    }
}

/// Runs `args` killed after its 1st, 2nd, … operation (until a run ends on its own), each
/// time followed by a plain rerun, and checks with `check` that nothing was lost.
fn kill_anywhere(setup: fn(&TestEnv), args: &[&str], check: fn(&TestEnv)) {
    let mut kills = 0;
    for n in 1..=8u64 {
        let env = TestEnv::new();
        setup(&env);
        let out = env
            .cmd(args)
            .env("MODELENV_TEST_KILL_AFTER", n.to_string())
            .output()
            .unwrap();
        if !common::killed(&out) {
            // Fewer than n operations: the run went to its end.
            assert!(
                out.status.success(),
                "kill at {n}: {}",
                common::stderr(&out)
            );
            check(&env);
            break;
        }
        kills += 1;
        let again = env.run(args);
        assert!(
            again.status.success(),
            "rerun after a kill at {n}: {}",
            common::stderr(&again)
        );
        assert!(
            !env.home.join(".local/state/modelenv/journal").exists()
                || fs::read_dir(env.home.join(".local/state/modelenv/journal"))
                    .unwrap()
                    .next()
                    .is_none(),
            "the journal was left behind"
        );
        check(&env);
    }
    assert!(kills >= 2, "the kill hook fired only {kills} times");
}

/// Every blob an Ollama manifest names exists, and the model that remains loads by its bytes.
fn ollama_intact(env: &TestEnv) {
    let root = env.home.join(".ollama/models");
    for e in walkdir::WalkDir::new(root.join("manifests"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
    {
        let m: Value = serde_json::from_slice(&fs::read(e.path()).unwrap()).unwrap();
        let layers = m["layers"].as_array().unwrap().iter().chain([&m["config"]]);
        for l in layers {
            let d = l["digest"].as_str().unwrap().replace(':', "-");
            assert!(
                root.join("blobs").join(&d).exists(),
                "{} lost {d}",
                e.path().display()
            );
        }
    }
}

#[test]
fn prune_killed_anywhere_then_rerun_loses_nothing() {
    kill_anywhere(stores, &["prune", "--apply"], |env| {
        ollama_intact(env);
        let r = env.home.join(".cache/huggingface/hub/models--org--m");
        assert!(r.join("snapshots").join(commit("new")).is_dir());
        assert!(
            !r.join("snapshots").join(commit("old")).exists(),
            "the rerun did not finish"
        );
        for f in fs::read_dir(r.join("snapshots").join(commit("new"))).unwrap() {
            assert!(f.unwrap().path().exists(), "a snapshot link lost its blob");
        }
    });
}

#[test]
fn rm_killed_anywhere_then_rerun_loses_nothing() {
    kill_anywhere(
        stores,
        &["models", "rm", "ollama:a:latest", "--yes"],
        |env| {
            ollama_intact(env);
            let root = env
                .home
                .join(".ollama/models/manifests/registry.ollama.ai/library");
            assert!(root.join("b/latest").exists());
            assert!(!root.join("a").exists());
        },
    );
}

#[test]
fn dedupe_killed_anywhere_then_rerun_loses_nothing() {
    kill_anywhere(stores, &["dedupe", "--apply"], |env| {
        ollama_intact(env);
        let lm = env.home.join(".lmstudio/models/x/x-GGUF/x.gguf");
        assert_eq!(fs::read(&lm).unwrap(), vec![5u8; 40_000]);
        use std::os::unix::fs::MetadataExt;
        assert!(fs::metadata(&lm).unwrap().nlink() >= 2, "not linked");
    });
}

fn dotfiles(env: &TestEnv) {
    fs::write(env.home.join(".bashrc"), "# mine\nalias ll='ls -l'\n").unwrap();
    fs::write(env.home.join(".profile"), "PATH=$HOME/bin:$PATH\n").unwrap();
    fs::write(
        env.repo.join(".env.example"),
        "HF_CACHE_DIR=./model_cache\nPORT=1\n",
    )
    .unwrap();
}

#[test]
fn install_killed_anywhere_then_rerun_writes_each_block_once_and_uninstall_restores() {
    kill_anywhere(
        dotfiles,
        &["install", "--shell", "bash", "--no-doctor"],
        |env| {
            for f in [".bashrc", ".profile"] {
                let text = fs::read_to_string(env.home.join(f)).unwrap();
                assert_eq!(text.matches(">>> modelenv >>>").count(), 1, "{f}: {text}");
            }
            env.ok(&["uninstall"]);
            assert_eq!(
                fs::read_to_string(env.home.join(".bashrc")).unwrap(),
                "# mine\nalias ll='ls -l'\n"
            );
            assert_eq!(
                fs::read_to_string(env.repo.join(".env.example")).unwrap(),
                "HF_CACHE_DIR=./model_cache\nPORT=1\n"
            );
        },
    );
}

#[test]
fn uninstall_killed_anywhere_then_rerun_restores_every_byte() {
    fn installed(env: &TestEnv) {
        dotfiles(env);
        env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    }
    kill_anywhere(installed, &["uninstall"], |env| {
        assert_eq!(
            fs::read_to_string(env.home.join(".bashrc")).unwrap(),
            "# mine\nalias ll='ls -l'\n"
        );
        assert_eq!(
            fs::read_to_string(env.home.join(".profile")).unwrap(),
            "PATH=$HOME/bin:$PATH\n"
        );
        assert_eq!(
            fs::read_to_string(env.repo.join(".env.example")).unwrap(),
            "HF_CACHE_DIR=./model_cache\nPORT=1\n"
        );
    });
}
