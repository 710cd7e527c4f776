//! `modelenv init`: the same exports install writes, valid in every shell, lint-clean.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::process::Command;

use common::{TestEnv, require, stdout};

#[test]
fn init_prints_exactly_what_install_writes() {
    let env = TestEnv::new();
    env.ok(&[
        "install",
        "--shell",
        "bash",
        "--shell",
        "zsh",
        "--shell",
        "fish",
        "--no-doctor",
        "--hf-home",
        "/srv/hf models",
        "--custom-model-dir",
        "~/my models",
    ]);
    // A fresh machine's files hold only the block, so the whole file must equal init's output.
    assert_eq!(env.read(".zshenv"), stdout(&env.ok(&["init", "zsh"])));
    assert_eq!(env.read(".profile"), stdout(&env.ok(&["init", "bash"])));
    assert_eq!(
        env.read(".config/fish/conf.d/modelenv.fish"),
        stdout(&env.ok(&["init", "fish"]))
    );
    assert!(
        stdout(&env.ok(&["init", "zsh"]))
            .contains("export CUSTOM_MODEL_DIR=\"$HOME\"'/my models'\n")
    );
}

#[test]
fn init_follows_the_config_file() {
    let env = TestEnv::new();
    env.write(
        ".config/modelenv/config.toml",
        "hf_home = \"/data/hf\"\ncustom_model_dir = \"~/weights\"\n",
    );
    let out = stdout(&env.ok(&["init", "bash"]));
    assert!(out.contains("export HF_HOME='/data/hf'\n"), "{out}");
    assert!(
        out.contains("export TRANSFORMERS_CACHE='/data/hf/hub'\n"),
        "{out}"
    );
    assert!(
        out.contains("export CUSTOM_MODEL_DIR=\"$HOME/weights\"\n"),
        "{out}"
    );
}

#[test]
fn eval_of_init_sets_the_variables_silently() {
    let env = TestEnv::new();
    let bin = common::bin().display().to_string();
    let h = env.home.display().to_string();
    let cases = [
        (
            "bash",
            format!(
                "eval \"$('{bin}' init bash)\"; printf '%s|%s' \"$HF_HOME\" \"$HF_DATASETS_CACHE\""
            ),
        ),
        (
            "zsh",
            format!(
                "eval \"$('{bin}' init zsh)\"; printf '%s|%s' \"$HF_HOME\" \"$HF_DATASETS_CACHE\""
            ),
        ),
        (
            "fish",
            format!(
                "'{bin}' init fish | source; printf '%s|%s' \"$HF_HOME\" \"$HF_DATASETS_CACHE\""
            ),
        ),
    ];
    for (shell, script) in cases {
        require(shell);
        let out = env.shell(shell, &["-c"], &script);
        assert!(out.status.success());
        assert_eq!(common::stderr(&out), "", "{shell} printed to stderr");
        assert_eq!(
            stdout(&out),
            format!("{h}/.cache/huggingface|{h}/.cache/huggingface/datasets"),
            "{shell}"
        );
    }
}

#[test]
fn init_output_is_lint_clean() {
    require("shellcheck");
    require("fish");
    let env = TestEnv::new();
    // Values that need quoting make the lint meaningful.
    env.write(
        ".config/modelenv/config.toml",
        "hf_home = \"/srv/it's $x `y`\"\ncustom_model_dir = \"~/a b\"\n",
    );
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh"] {
        let p = dir.path().join(format!("init.{shell}"));
        fs::write(&p, stdout(&env.ok(&["init", shell]))).unwrap();
        // zsh has no shellcheck dialect; its init is POSIX and is linted as bash. SC2250 (braces
        // around every variable) is a style that conflicts with the `"$HOME/…"` form we write.
        let out = Command::new("shellcheck")
            .args(["--shell=bash", "--enable=all", "--exclude=SC2250"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "shellcheck {shell}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let p = dir.path().join("init.fish");
    fs::write(&p, stdout(&env.ok(&["init", "fish"]))).unwrap();
    let out = Command::new("fish")
        .arg("--no-execute")
        .arg(&p)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fish --no-execute: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn init_rejects_unknown_shells() {
    let env = TestEnv::new();
    let out = env.run(&["init", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("possible values: bash, zsh, fish"));
}

#[test]
fn init_with_flags_matches_the_plain_form() {
    // The plain `init SHELL` skips the full parser; with flags it goes through clap. Same output.
    let env = TestEnv::new();
    let plain = stdout(&env.ok(&["init", "zsh"]));
    let h = env.home.display().to_string();
    let flagged = stdout(&env.ok(&[
        "init",
        "zsh",
        "--hf-home",
        &format!("{h}/.cache/huggingface"),
    ]));
    assert_eq!(plain, flagged);
    let other = stdout(&env.ok(&["init", "zsh", "--hf-home", "/x"]));
    assert!(other.contains("export HF_HOME='/x'"), "{other}");
}
