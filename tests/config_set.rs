//! `config set` says what a new value leaves out of step (startup files, `.env.example`, models
//! in the old store) and does it with `--apply`; `transformers_cache = false` removes the
//! variable from every file; `install --bin-dir` puts the folder on PATH in fresh shells.
// Tests build the situations they check on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::fixtures::{Hub, commit, lfs};
use common::{TestEnv, load_from_cache, stderr, stdout};

const SHELLS: [&str; 6] = ["--shell", "bash", "--shell", "zsh", "--shell", "fish"];

fn install_everywhere(env: &TestEnv) {
    let mut args = vec!["install", "--no-doctor"];
    args.extend(SHELLS);
    env.ok(&args);
}

/// Every fresh shell kind a user starts, as (program, flags).
const FRESH: [(&str, &[&str]); 5] = [
    ("bash", &["-lc"]),
    ("bash", &["-ic"]),
    ("zsh", &["-c"]),
    ("zsh", &["-lic"]),
    ("fish", &["-c"]),
];

#[test]
fn a_new_hf_home_names_what_is_out_of_step_and_apply_does_it() {
    for s in ["bash", "zsh", "fish"] {
        common::require(s);
    }
    let env = TestEnv::new();
    fs::write(
        env.repo.join(".env.example"),
        "# app settings\nPORT=8000\nHF_CACHE_DIR=./model_cache\n",
    )
    .unwrap();
    install_everywhere(&env);
    let old_hub = env.home.join(".cache/huggingface/hub");
    let hub = Hub::new(&old_hub);
    let repo = hub.repo("model", "org/m");
    let c = commit("m");
    repo.snapshot(&c, &[lfs("model.safetensors", b"weights of org/m")]);
    repo.git_ref("main", &c);
    let new_home = env.tmp.path().join("big/hf");
    let new = new_home.to_str().unwrap();

    // Without --apply: the config changes, nothing else, and each next step is named.
    let before = env.snapshot();
    let out = env.ok(&["config", "set", "hf_home", new]);
    let err = stderr(&out);
    assert!(
        err.contains("run `modelenv install --shell bash --shell zsh --shell fish`"),
        "{err}"
    );
    assert!(err.contains(".bashrc") && err.contains(".zshenv"), "{err}");
    assert!(err.contains(".env.example"), "{err}");
    assert!(
        err.contains(&format!(
            "`modelenv migrate --store {} --apply`",
            old_hub.display()
        )),
        "{err}"
    );
    let changed = common::changed(&before, &env.snapshot());
    // The config (and its backup in modelenv's own state folder), nothing else.
    assert!(
        changed
            .iter()
            .all(|p| p.ends_with(".config/modelenv/config.toml")
                || p.starts_with("home/.local/state/modelenv")),
        "{changed:?}"
    );
    assert_eq!(
        env.var_in("bash", &["-lc"], "HF_HOME").unwrap(),
        env.home
            .join(".cache/huggingface")
            .to_str()
            .unwrap()
            .as_bytes()
    );

    // With --apply: every shell, the .env.example and the models follow.
    let out = env.run(&["config", "set", "hf_home", new, "--apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (shell, flags) in FRESH {
        assert_eq!(
            env.var_in(shell, flags, "HF_HOME").as_deref(),
            Some(new.as_bytes()),
            "{shell} {flags:?}"
        );
    }
    let dotenv = fs::read_to_string(env.repo.join(".env.example")).unwrap();
    assert!(
        dotenv.starts_with("# app settings\nPORT=8000\n"),
        "{dotenv}"
    );
    assert!(
        dotenv.contains(&format!("HF_CACHE_DIR={new}/hub\n")),
        "{dotenv}"
    );
    assert_eq!(
        load_from_cache(&env, &new_home.join("hub"), "org/m", "model.safetensors").as_deref(),
        Some(&b"weights of org/m"[..])
    );
    assert!(!old_hub.join("models--org--m").exists());

    // Now nothing is out of step.
    let err = stderr(&env.ok(&["config", "set", "hf_home", new]));
    assert!(!err.contains("hint:"), "{err}");
    assert!(err.contains("already agree"), "{err}");
}

#[test]
fn transformers_cache_false_removes_the_variable_from_every_file_and_true_brings_it_back() {
    for s in ["bash", "zsh", "fish"] {
        common::require(s);
    }
    let env = TestEnv::new();
    let before = env.snapshot();
    fs::write(env.repo.join(".env.example"), "PORT=8000\n").unwrap();
    let original_dotenv = fs::read(env.repo.join(".env.example")).unwrap();
    install_everywhere(&env);
    let hub = env.home.join(".cache/huggingface/hub");
    for (shell, flags) in FRESH {
        assert_eq!(
            env.var_in(shell, flags, "TRANSFORMERS_CACHE").as_deref(),
            Some(hub.to_str().unwrap().as_bytes()),
            "{shell} {flags:?}"
        );
    }

    let out = env.ok(&["config", "set", "transformers_cache", "false", "--apply"]);
    assert!(stderr(&out).contains("updating"), "{}", stderr(&out));
    for (shell, flags) in FRESH {
        assert_eq!(
            env.var_in(shell, flags, "TRANSFORMERS_CACHE"),
            None,
            "{shell} {flags:?}"
        );
        assert_eq!(
            env.var_in(shell, flags, "HF_HOME").as_deref(),
            Some(
                env.home
                    .join(".cache/huggingface")
                    .to_str()
                    .unwrap()
                    .as_bytes()
            ),
            "{shell} {flags:?}"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let init = stdout(&env.ok(&["init", shell]));
        assert!(!init.contains("TRANSFORMERS_CACHE"), "{init}");
        assert!(init.contains("HF_HOME"), "{init}");
    }
    let dotenv = fs::read_to_string(env.repo.join(".env.example")).unwrap();
    assert!(!dotenv.contains("TRANSFORMERS_CACHE"), "{dotenv}");
    assert!(dotenv.contains("HF_HOME="), "{dotenv}");
    assert_eq!(
        stdout(&env.ok(&["config", "get", "transformers_cache"])),
        "false\n"
    );
    // A later install keeps it off.
    let mut args = vec!["install", "--no-doctor"];
    args.extend(SHELLS);
    env.ok(&args);
    assert_eq!(env.var_in("zsh", &["-c"], "TRANSFORMERS_CACHE"), None);

    env.ok(&["config", "set", "transformers_cache", "true", "--apply"]);
    for (shell, flags) in FRESH {
        assert_eq!(
            env.var_in(shell, flags, "TRANSFORMERS_CACHE").as_deref(),
            Some(hub.to_str().unwrap().as_bytes()),
            "{shell} {flags:?}"
        );
    }
    // Uninstall still gives every file back.
    env.ok(&["uninstall"]);
    assert_eq!(
        fs::read(env.repo.join(".env.example")).unwrap(),
        original_dotenv
    );
    // (fish keeps its own variables and history under ~/.local/share/fish.)
    let left: Vec<_> = env
        .user_changes(&before)
        .into_iter()
        .filter(|p| p.starts_with("home") && !p.starts_with("home/.local/share/fish"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // A value that is not true/false is refused and changes nothing.
    let cfg = fs::read(env.home.join(".config/modelenv/config.toml")).unwrap();
    let out = env.run(&["config", "set", "transformers_cache", "maybe"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        fs::read(env.home.join(".config/modelenv/config.toml")).unwrap(),
        cfg
    );
}

#[test]
fn bin_dir_is_on_path_in_every_fresh_shell_once() {
    for s in ["bash", "zsh", "fish"] {
        common::require(s);
    }
    let env = TestEnv::new();
    let bin = env.home.join(".local/bin");
    fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("modelenv");
    fs::write(&tool, "#!/bin/sh\necho found\n").unwrap();
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    let mut args = vec!["install", "--no-doctor", "--bin-dir", bin.to_str().unwrap()];
    args.extend(SHELLS);
    env.ok(&args);
    for (shell, flags) in FRESH {
        let out = env.shell(shell, flags, "command -v modelenv");
        assert_eq!(
            stdout(&out).trim(),
            tool.display().to_string(),
            "{shell} {flags:?}: {}",
            stderr(&out)
        );
    }
    // A shell started from another one does not add it again.
    let out = env.shell("bash", &["-lc"], "bash -ic 'zsh -c \"echo \\$PATH\"'");
    let path = stdout(&out);
    assert_eq!(
        path.trim()
            .split(':')
            .filter(|p| *p == bin.to_str().unwrap())
            .count(),
        1,
        "{path}"
    );
    // Remembered: a plain install later keeps the line; uninstall takes it away.
    let mut args = vec!["install", "--no-doctor"];
    args.extend(SHELLS);
    env.ok(&args);
    assert_eq!(
        stdout(&env.shell("fish", &["-c"], "command -v modelenv")).trim(),
        tool.display().to_string()
    );
    env.ok(&["uninstall"]);
    for (shell, flags) in FRESH {
        let out = env.shell(shell, flags, "command -v modelenv");
        assert_eq!(stdout(&out).trim(), "", "{shell} {flags:?}");
    }
}
