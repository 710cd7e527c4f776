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

fn model_in(hub: &std::path::Path, name: &str) {
    let repo = Hub::new(hub).repo("model", &format!("org/{name}"));
    let c = commit(name);
    repo.snapshot(&c, &[lfs("model.safetensors", name.as_bytes())]);
    repo.git_ref("main", &c);
}

#[test]
fn a_second_run_with_apply_still_merges_the_store_the_first_run_left() {
    let env = TestEnv::new();
    let old = env.home.join("old");
    env.ok(&[
        "install",
        "--shell",
        "bash",
        "--no-doctor",
        "--hf-home",
        old.to_str().unwrap(),
    ]);
    model_in(&old.join("hub"), "a");
    let new = env.home.join("new");
    let err = stderr(&env.ok(&["config", "set", "hf_home", new.to_str().unwrap()]));
    assert!(err.contains("migrate --store"), "{err}");
    env.ok(&["config", "set", "hf_home", new.to_str().unwrap(), "--apply"]);
    assert_eq!(
        load_from_cache(&env, &new.join("hub"), "org/a", "model.safetensors").as_deref(),
        Some(&b"a"[..])
    );
    assert!(!old.join("hub/models--org--a").exists());
    // Merged: no longer named.
    let err = stderr(&env.ok(&["config", "set", "hf_home", new.to_str().unwrap()]));
    assert!(!err.contains("migrate --store"), "{err}");
}

#[test]
fn a_new_hf_home_that_would_strand_the_old_store_is_refused_and_nothing_changes() {
    let env = TestEnv::new();
    let old = env.home.join("old");
    env.ok(&[
        "install",
        "--shell",
        "bash",
        "--no-doctor",
        "--hf-home",
        old.to_str().unwrap(),
    ]);
    model_in(&old.join("hub"), "a");
    fs::write(env.home.join("afile"), "x").unwrap();
    let before = env.snapshot();
    for bad in [
        old.join("hub/sub"),    // inside the old hub cache
        env.home.clone(),       // the old store would lie inside it
        env.home.join("afile"), // not a folder
    ] {
        for apply in [false, true] {
            let mut args = vec!["config", "set", "hf_home", bad.to_str().unwrap()];
            if apply {
                args.push("--apply");
            }
            let out = env.run(&args);
            assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
            assert!(
                stderr(&out).contains("nothing was changed"),
                "{}",
                stderr(&out)
            );
            assert_eq!(env.user_changes(&before), Vec::<std::path::PathBuf>::new());
            assert_eq!(
                fs::read_to_string(env.home.join(".config/modelenv/config.toml")).unwrap(),
                format!(
                    "# modelenv's central locations (`modelenv config set KEY VALUE` edits this file).\nhf_home = \"~/old\"\ncustom_model_dir = \"~/models\"\n"
                )
            );
        }
    }
    // Another name for the same store is no move at all: the models stay where they are.
    let alias = env.tmp.path().join("alias");
    std::os::unix::fs::symlink(&old, &alias).unwrap();
    env.ok(&[
        "config",
        "set",
        "hf_home",
        alias.to_str().unwrap(),
        "--apply",
    ]);
    assert_eq!(
        load_from_cache(&env, &alias.join("hub"), "org/a", "model.safetensors").as_deref(),
        Some(&b"a"[..])
    );
}

#[test]
fn two_config_sets_at_once_leave_the_models_where_the_config_points() {
    let env = TestEnv::new();
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    model_in(&env.home.join(".cache/huggingface/hub"), "a");
    let (a, b) = (env.home.join("A"), env.home.join("B"));
    let mut ca = env.cmd(&["config", "set", "hf_home", a.to_str().unwrap(), "--apply"]);
    let mut cb = env.cmd(&["config", "set", "hf_home", b.to_str().unwrap(), "--apply"]);
    let (ha, hb) = (ca.spawn().unwrap(), cb.spawn().unwrap());
    let (oa, ob) = (
        ha.wait_with_output().unwrap(),
        hb.wait_with_output().unwrap(),
    );
    assert!(oa.status.success() || ob.status.success());
    let now = stdout(&env.ok(&["config", "get", "hf_home"]));
    let hub = std::path::PathBuf::from(now.trim()).join("hub");
    assert_eq!(
        load_from_cache(&env, &hub, "org/a", "model.safetensors").as_deref(),
        Some(&b"a"[..]),
        "config says {now}: {}\n{}",
        stderr(&oa),
        stderr(&ob)
    );
    assert_eq!(
        env.var_in("bash", &["-lc"], "HF_HOME").as_deref(),
        Some(now.trim().as_bytes())
    );
}

#[test]
fn bin_dir_values_a_path_cannot_hold_are_refused() {
    let env = TestEnv::new();
    let before = env.snapshot();
    for bad in ["/x\n# <<< modelenv <<<\ntouch PWNED #", "/opt/co:lon"] {
        let out = env.run(&[
            "install",
            "--shell",
            "bash",
            "--no-doctor",
            "--bin-dir",
            bad,
        ]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
        let out = env.run(&["config", "set", "bin_dir", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
    assert_eq!(env.user_changes(&before), Vec::<std::path::PathBuf>::new());
    // A `~/…` the shell left unexpanded is the home folder's.
    env.ok(&["install", "--shell", "bash", "--no-doctor", "--bin-dir=~/q"]);
    assert_eq!(
        stdout(&env.ok(&["config", "get", "bin_dir"])).trim(),
        env.home.join("q").display().to_string()
    );
}

#[test]
fn transformers_cache_off_keeps_a_files_own_line_on_the_hub_and_refuses_to_break_a_reference() {
    let env = TestEnv::new();
    let dotenv = env.repo.join(".env.example");
    fs::write(&dotenv, "A=1\nTRANSFORMERS_CACHE=/my/own/tc\n").unwrap();
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    env.ok(&["config", "set", "transformers_cache", "false", "--apply"]);
    let new = env.home.join("new");
    env.ok(&["config", "set", "hf_home", new.to_str().unwrap(), "--apply"]);
    let text = fs::read_to_string(&dotenv).unwrap();
    assert!(
        text.contains("TRANSFORMERS_CACHE=${HOME}/new/hub\n"),
        "the file's own line must follow the hub cache: {text}"
    );

    // A value built from ${TRANSFORMERS_CACHE} would change if the key left the block.
    let env = TestEnv::new();
    fs::write(dotenv_of(&env), "A=1\n").unwrap();
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    let mut text = fs::read_to_string(dotenv_of(&env)).unwrap();
    text.push_str("MY=${TRANSFORMERS_CACHE}/x\n");
    fs::write(dotenv_of(&env), &text).unwrap();
    let out = env.ok(&["config", "set", "transformers_cache", "false", "--apply"]);
    assert!(
        stderr(&out).contains("uses ${TRANSFORMERS_CACHE}"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read_to_string(dotenv_of(&env)).unwrap(), text);
}

fn dotenv_of(env: &TestEnv) -> std::path::PathBuf {
    env.repo.join(".env.example")
}

#[test]
fn the_default_location_link_follows_a_new_hf_home() {
    let env = TestEnv::new();
    let old = env.home.join("old");
    env.ok(&[
        "install",
        "--shell",
        "bash",
        "--no-doctor",
        "--hf-home",
        old.to_str().unwrap(),
    ]);
    let link = env.home.join(".cache/huggingface");
    assert_eq!(fs::read_link(&link).unwrap(), old);
    let new = env.home.join("new");
    env.ok(&["config", "set", "hf_home", new.to_str().unwrap(), "--apply"]);
    assert_eq!(fs::read_link(&link).unwrap(), new);
    env.ok(&["uninstall"]);
    assert!(link.symlink_metadata().is_err());
}

#[test]
fn install_racing_a_config_set_never_writes_the_old_location() {
    for round in 0..6 {
        let env = TestEnv::new();
        env.ok(&["install", "--shell", "bash", "--no-doctor"]);
        let new = env.home.join("new");
        let mut set = env.cmd(&["config", "set", "hf_home", new.to_str().unwrap(), "--apply"]);
        let mut inst = env.cmd(&["install", "--shell", "bash", "--no-doctor"]);
        let (a, b) = if round % 2 == 0 {
            let a = set.spawn().unwrap();
            (a, inst.spawn().unwrap())
        } else {
            let b = inst.spawn().unwrap();
            (set.spawn().unwrap(), b)
        };
        let (oa, ob) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        assert!(oa.status.success(), "{}", stderr(&oa));
        // install either ran fully before or after, or refused having changed nothing.
        assert!(
            ob.status.success() || ob.status.code() == Some(2),
            "{}",
            stderr(&ob)
        );
        assert_eq!(
            env.var_in("bash", &["-lc"], "HF_HOME").as_deref(),
            Some(new.to_str().unwrap().as_bytes()),
            "round {round}: {}\n{}",
            stderr(&oa),
            stderr(&ob)
        );
    }
}

#[test]
fn a_new_hf_home_names_the_login_token_left_in_the_old_one() {
    let env = TestEnv::new();
    let old = env.home.join("old");
    env.ok(&[
        "install",
        "--shell",
        "bash",
        "--no-doctor",
        "--hf-home",
        old.to_str().unwrap(),
    ]);
    fs::write(old.join("token"), "hf_x").unwrap();
    let err = stderr(&env.ok(&["config", "set", "hf_home", "~/new"]));
    assert!(err.contains("your Hugging Face login"), "{err}");
    assert!(
        err.contains(&format!("cp {}", old.join("token").display())),
        "{err}"
    );
}

/// CUSTOM_MODEL_DIR inside a folder a library owns (the hub cache, where huggingface_hub
/// reports every non-repo folder as corrupt, or the datasets cache) is refused, by identity,
/// whichever value moves it there; nothing changes.
#[test]
fn a_custom_folder_inside_a_library_cache_is_refused() {
    let env = TestEnv::new();
    env.ok(&["install", "--no-doctor", "--shell", "bash"]);
    let hub = env.home.join(".cache/huggingface/hub");
    fs::create_dir_all(&hub).unwrap();
    std::os::unix::fs::symlink(&hub, env.home.join("hub-link")).unwrap();
    // A second HF_HOME whose hub cache is the default custom folder, ~/models, by a link.
    fs::create_dir_all(env.home.join("models")).unwrap();
    fs::create_dir_all(env.home.join("hf2")).unwrap();
    std::os::unix::fs::symlink(env.home.join("models"), env.home.join("hf2/hub")).unwrap();
    let before = env.snapshot();
    for (key, value) in [
        ("custom_model_dir", "~/.cache/huggingface/hub"),
        ("custom_model_dir", "~/hub-link/converted"),
        ("custom_model_dir", "~/.cache/huggingface/datasets/x"),
        ("hf_home", "~/hf2"),
    ] {
        let out = env.run(&["config", "set", key, value]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{key}={value}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("CUSTOM_MODEL_DIR"),
            "{key}={value}: {}",
            stderr(&out)
        );
    }
    let out = env.run(&[
        "install",
        "--no-doctor",
        "--shell",
        "bash",
        "--custom-model-dir",
        hub.join("mine").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("CUSTOM_MODEL_DIR"),
        "{}",
        stderr(&out)
    );
    // Not even a lock file is left by a refusal.
    let after = env.snapshot();
    let new: Vec<_> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    assert_eq!(new, Vec::<&std::path::PathBuf>::new());
    assert_eq!(
        common::changed(&before, &after),
        Vec::<std::path::PathBuf>::new()
    );
}
