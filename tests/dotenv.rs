//! The repo's root `.env.example`, read by the real python-dotenv.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
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
        "/srv/$weird",
    ]);
    assert!(
        common::stderr(&out).contains("skipping"),
        "{}",
        common::stderr(&out)
    );
    assert!(!env.repo.join(".env.example").exists());
    assert!(env.home.join(".zshenv").exists());
}
