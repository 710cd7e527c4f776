//! Snapshots of the human output of whole runs: prune, dedupe, migrate and models rm.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::path::Path;

use common::TestEnv;
use common::fixtures::{self, Hub, Ollama, commit, git, lfs, seed_monorepo};

/// One run of modelenv as a transcript: the command, its exit code, stdout and stderr, with
/// the test's temporary paths replaced by `[HOME]`, `[REPO]` and `[TMP]`.
fn transcript(env: &TestEnv, args: &[&str]) -> String {
    let out = env.run(args);
    let code = out
        .status
        .code()
        .map_or_else(|| format!("{:?}", out.status), |c| c.to_string());
    let text = format!(
        "$ modelenv {}\nexit: {code}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        common::stdout(&out),
        common::stderr(&out),
    );
    placeholders(env, &text)
}

/// The temp root, HOME and repo as placeholders; the longest path first, since HOME and the
/// repo lie inside the temp root.
fn placeholders(env: &TestEnv, text: &str) -> String {
    let tmp = env.tmp.path();
    let mut paths = vec![
        (env.home.display().to_string(), "[HOME]"),
        (env.repo.display().to_string(), "[REPO]"),
        (tmp.display().to_string(), "[TMP]"),
    ];
    // The same folders as the binary may see them with symlinks resolved (/tmp on macOS).
    for (p, name) in [
        (env.home.as_path(), "[HOME]"),
        (env.repo.as_path(), "[REPO]"),
        (tmp, "[TMP]"),
    ] {
        if let Ok(c) = fs::canonicalize(p) {
            paths.push((c.display().to_string(), name));
        }
    }
    paths.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    paths
        .iter()
        .fold(text.to_owned(), |t, (p, name)| t.replace(p.as_str(), name))
}

fn age(p: &Path, secs: i64) {
    let t = filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - secs, 0);
    filetime::set_file_times(p, t, t).unwrap();
}

/// The stores of tests/manage.rs: org/m with a detached revision and an unfinished download
/// in the hub cache; Ollama models a and b sharing a template, an hour-old orphan blob and a
/// young one.
fn plant(env: &TestEnv) {
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
    r.incomplete(&[4u8; 5_000]);
    let o = Ollama::new(&env.home.join(".ollama/models"));
    o.library(
        "a",
        "latest",
        b"{\"a\":1}",
        &[
            (fixtures::MODEL, &[5u8; 40_000]),
            (fixtures::TEMPLATE, b"tmpl"),
        ],
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
    o.blob(&[8u8; 8_000]);
}

#[test]
fn prune_dry_run_and_apply() {
    let env = TestEnv::new();
    plant(&env);
    insta::assert_snapshot!("prune_dry_run", transcript(&env, &["prune"]));
    insta::assert_snapshot!("prune_apply", transcript(&env, &["prune", "--apply"]));
}

#[test]
fn dedupe_dry_run_and_apply() {
    let env = TestEnv::new();
    let gguf = vec![42u8; 300_000];
    Ollama::new(&env.home.join(".ollama/models")).library(
        "qwen",
        "latest",
        b"{}",
        &[(fixtures::MODEL, &gguf)],
    );
    for copy in [
        ".lmstudio/models/Qwen/Qwen-GGUF/qwen.Q4.gguf",
        "models/qwen.gguf",
    ] {
        let p = env.home.join(copy);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, &gguf).unwrap();
    }
    insta::assert_snapshot!("dedupe_dry_run", transcript(&env, &["dedupe"]));
    insta::assert_snapshot!("dedupe_apply", transcript(&env, &["dedupe", "--apply"]));
}

#[test]
fn migrate_dry_run_and_apply() {
    let env = TestEnv::new();
    seed_monorepo(&env.repo);
    // A loose weight file next to the code, as in tests/migrate.rs.
    let loose: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    let loose_path = env
        .repo
        .join("alignment/steerability/weights/adapter.safetensors");
    fs::create_dir_all(loose_path.parent().unwrap()).unwrap();
    fs::write(&loose_path, &loose).unwrap();
    insta::assert_snapshot!("migrate_dry_run", transcript(&env, &["migrate"]));
    insta::assert_snapshot!("migrate_apply", transcript(&env, &["migrate", "--apply"]));
}

#[test]
fn models_rm_dry_run_and_yes() {
    let env = TestEnv::new();
    plant(&env);
    insta::assert_snapshot!(
        "models_rm_hf_dry_run",
        transcript(&env, &["models", "rm", "hf-hub:org/m", "--dry-run"])
    );
    insta::assert_snapshot!(
        "models_rm_hf_yes",
        transcript(&env, &["models", "rm", "hf-hub:org/m", "--yes"])
    );
    insta::assert_snapshot!(
        "models_rm_ollama_dry_run",
        transcript(&env, &["models", "rm", "ollama:a:latest", "--dry-run"])
    );
    insta::assert_snapshot!(
        "models_rm_ollama_yes",
        transcript(&env, &["models", "rm", "ollama:a:latest", "--yes"])
    );
}
