//! The doctor reproduces each real failure and names it; a clean, central setup passes.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{TestEnv, python, require};
use serde_json::Value;

fn doctor(env: &TestEnv, args: &[&str]) -> (Option<i32>, Value) {
    let mut a = vec!["doctor", "--json"];
    a.extend_from_slice(args);
    let out = env.run(&a);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", common::stderr(&out)));
    (out.status.code(), v)
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

fn failing(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The fake `ollama` server is visible to every doctor started meanwhile (the doctor scans all
/// processes), so the test that starts it and the test that expects a clean report take turns.
static OLLAMA_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn venv_bin() -> PathBuf {
    Path::new(&python()).parent().unwrap().to_path_buf()
}

#[test]
fn tilde_in_hf_datasets_cache_is_a_warning_not_a_failure() {
    // load_dataset expands the `~` (builder.py, load.py; measured by doctor_differential),
    // only datasets.config.HF_DATASETS_CACHE keeps it literal.
    let env = TestEnv::new().with_env("HF_DATASETS_CACHE", "~/.cache/huggingface/datasets");
    let (code, r) = doctor(&env, &["--no-probe"]);
    assert_eq!(code, Some(0), "{r:#}");
    let c = check(&r, "env.datasets");
    assert_eq!(c["status"], "warn");
    let msg = c["message"].as_str().unwrap();
    assert!(
        msg.contains("HF_DATASETS_CACHE") && msg.contains("literal"),
        "{c}"
    );
    // `$HOME` is expanded by nothing on the way: a folder named `$HOME` in the project.
    let env = TestEnv::new().with_env("HF_DATASETS_CACHE", "$HOME/.cache/huggingface/datasets");
    let (code, r) = doctor(&env, &["--no-probe"]);
    assert_eq!(code, Some(1));
    let c = check(&r, "env.datasets");
    assert_eq!(c["status"], "fail");
    assert!(
        c["message"].as_str().unwrap().contains("`$` variables"),
        "{c}"
    );
}

#[test]
fn hub_cache_elsewhere_fails_naming_the_variable() {
    let env = TestEnv::new().with_env("HF_HUB_CACHE", "/srv/elsewhere/hub");
    let (code, r) = doctor(&env, &["--no-probe"]);
    assert_eq!(code, Some(1));
    let c = check(&r, "env.huggingface_hub");
    assert_eq!(c["status"], "fail");
    assert!(
        c["message"].as_str().unwrap().contains("HF_HUB_CACHE"),
        "{c}"
    );
    assert_eq!(c["path"], "/srv/elsewhere/hub");
    // llama.cpp follows HF_HUB_CACHE too.
    assert_eq!(check(&r, "env.llama_cpp")["status"], "fail");
}

#[test]
fn diverging_transformers_cache_fails() {
    let env = TestEnv::new().with_env("TRANSFORMERS_CACHE", "/srv/tf-cache");
    let (code, r) = doctor(&env, &["--no-probe"]);
    assert_eq!(code, Some(1));
    let c = check(&r, "env.transformers");
    assert_eq!(c["status"], "fail");
    assert!(
        c["message"].as_str().unwrap().contains("splits the cache"),
        "{c}"
    );
    // Equal to the hub cache it is harmless.
    let env2 = TestEnv::new();
    let hub = env2
        .home
        .join(".cache/huggingface/hub")
        .display()
        .to_string();
    let env2 = env2.with_env("TRANSFORMERS_CACHE", &hub);
    let (_, r2) = doctor(&env2, &["--no-probe"]);
    assert_eq!(check(&r2, "env.transformers")["status"], "pass");
}

#[test]
fn tilde_in_ollama_models_fails() {
    let env = TestEnv::new().with_env("OLLAMA_MODELS", "~/.ollama/models");
    let (code, r) = doctor(&env, &["--no-probe"]);
    assert_eq!(code, Some(1));
    let c = check(&r, "env.ollama");
    assert_eq!(c["status"], "fail");
    assert!(
        c["message"].as_str().unwrap().contains("OLLAMA_MODELS"),
        "{c}"
    );
}

#[test]
fn a_login_shell_that_never_gets_the_exports_fails() {
    require("bash");
    let env = TestEnv::new();
    // The classic mistake: exports appended after the interactive guard, no login file.
    let block = "export HF_HOME=\"$HOME/.cache/huggingface\"\nexport TRANSFORMERS_CACHE=\"$HOME/.cache/huggingface/hub\"\nexport HF_DATASETS_CACHE=\"$HOME/.cache/huggingface/datasets\"\nexport CUSTOM_MODEL_DIR=\"$HOME/models\"\n";
    env.write(
        ".bashrc",
        &format!("case $- in\n  *i*) ;;\n  *) return;;\nesac\n{block}"),
    );
    let (code, r) = doctor(&env, &["--shell", "bash"]);
    assert_eq!(code, Some(1));
    let f = failing(&r);
    assert!(f.contains(&"shell.bash.login.HF_HOME".to_owned()), "{f:?}");
    assert_eq!(check(&r, "shell.bash.interactive")["status"], "pass");
    // After install both pass.
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    let (_, r) = doctor(&env, &["--shell", "bash"]);
    assert_eq!(check(&r, "shell.bash.login")["status"], "pass");
}

#[test]
fn a_huggingface_hub_that_resolves_elsewhere_fails() {
    let env = TestEnv::new();
    // A real package, found first on PYTHONPATH, whose constants point elsewhere.
    let pkg = env.tmp.path().join("pylib/huggingface_hub");
    fs::create_dir_all(&pkg).unwrap();
    fs::write(pkg.join("__init__.py"), "__version__ = '0.0.1-test'\n").unwrap();
    fs::write(
        pkg.join("constants.py"),
        "HF_HOME = '/srv/other'\nHF_HUB_CACHE = '/srv/other/hub'\n",
    )
    .unwrap();
    let pylib = env.tmp.path().join("pylib").display().to_string();
    let env = env.with_env("PYTHONPATH", &pylib);
    let py = python();
    let (code, r) = doctor(&env, &["--python", &py]);
    assert_eq!(code, Some(1));
    let id = format!("python.{py}.huggingface_hub");
    let c = check(&r, &id);
    assert_eq!(c["status"], "fail");
    assert!(
        c["message"].as_str().unwrap().contains("/srv/other/hub"),
        "{c}"
    );
}

#[test]
fn a_broken_interpreter_is_a_warning() {
    let env = TestEnv::new();
    let fake = env.tmp.path().join("fakepython");
    fs::write(&fake, "#!/bin/sh\nexit 3\n").unwrap();
    fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let f = fake.display().to_string();
    let (_, r) = doctor(&env, &["--python", &f]);
    assert_eq!(check(&r, &format!("python.{f}"))["status"], "warn");
}

/// A process whose name is `ollama` (a copy of `sleep`) with its own environment.
struct FakeServer(std::process::Child);

impl Drop for FakeServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_ollama_server_with_another_environment_fails() {
    let _turn = OLLAMA_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    let env = TestEnv::new();
    let bin = env.tmp.path().join("bin/ollama");
    fs::create_dir_all(bin.parent().unwrap()).unwrap();
    fs::copy("/bin/sleep", &bin).unwrap();
    let server = FakeServer(
        Command::new(&bin)
            .arg("30")
            .env_clear()
            .env("HOME", "/usr/share/ollama")
            .env("OLLAMA_MODELS", "/srv/ollama-models")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    let (code, r) = doctor(&env, &["--no-probe"]);
    assert_eq!(code, Some(1));
    let c = check(&r, &format!("ollama.process.{}", server.0.id()));
    assert_eq!(c["status"], "fail");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("/srv/ollama-models"),
        "{c}"
    );
    assert!(
        c["hint"].as_str().unwrap().contains("OLLAMA_MODELS="),
        "{c}"
    );
}

#[test]
fn a_local_model_cache_in_the_repo_fails() {
    let env = TestEnv::new();
    let cache = env
        .repo
        .join("alignment/steerability/model_cache/models--org--m/blobs");
    fs::create_dir_all(&cache).unwrap();
    fs::write(cache.join("abc"), vec![0u8; 4096]).unwrap();
    fs::write(
        env.repo.join("alignment/steerability/.env.example"),
        "HF_CACHE_DIR=./model_cache\n",
    )
    .unwrap();
    let (code, r) = doctor(&env, &["--no-probe"]);
    assert_eq!(code, Some(1));
    let c = check(&r, "repo.cache.alignment/steerability/model_cache");
    assert_eq!(c["status"], "fail");
    assert!(c["message"].as_str().unwrap().contains("4.1 KB"), "{c}");
    let c = check(&r, "repo.config.alignment/steerability/.env.example:1");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("HF_CACHE_DIR=./model_cache"),
        "{c}"
    );
}

#[test]
fn a_missing_archive_target_is_flagged() {
    let env = TestEnv::new();
    let hub = env.home.join(".cache/huggingface/hub");
    fs::create_dir_all(&hub).unwrap();
    std::os::unix::fs::symlink(
        "/media/unplugged/models--org--big",
        hub.join("models--org--big"),
    )
    .unwrap();
    let (_, r) = doctor(&env, &["--no-probe"]);
    let c = check(&r, "integrity.models--org--big");
    assert_eq!(c["status"], "warn");
    assert!(
        c["message"].as_str().unwrap().contains("/media/unplugged"),
        "{c}"
    );
}

#[test]
fn a_fresh_central_setup_passes_with_the_real_libraries() {
    let _turn = OLLAMA_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
    require("bash");
    let env = TestEnv::new();
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    // Run the doctor from a new login shell, as a user would after installing, with the
    // interpreter that has the real huggingface_hub and datasets first on PATH.
    let path = format!("{}:{}", venv_bin().display(), common::sys_path());
    let cmd = format!(
        "cd '{}' && PATH='{path}' '{}' doctor --json --shell bash",
        env.repo.display(),
        common::bin().display()
    );
    let out = env.shell("bash", &["-lc"], &cmd);
    let r: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", common::stderr(&out)));
    assert_eq!(failing(&r), Vec::<String>::new(), "{r:#}");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(r["ok"], true);
    let py = venv_bin().join("python3").display().to_string();
    assert_eq!(
        check(&r, &format!("python.{py}.huggingface_hub"))["status"],
        "pass",
        "{r:#}"
    );
    assert_eq!(
        check(&r, &format!("python.{py}.datasets"))["status"],
        "pass"
    );
    for id in [
        "env.huggingface_hub",
        "env.datasets",
        "env.custom_model_dir",
        "shell.bash.login",
        "shell.bash.interactive",
        "repo.env_example",
    ] {
        if id == "env.custom_model_dir" {
            continue; // only reported when wrong or missing
        }
        assert_eq!(check(&r, id)["status"], "pass", "{id}");
    }
}

/// What `zsh FLAGS -c` prints for `$HF_HOME`, started like a terminal starts it: a clean
/// environment (plus `extra`), the temp HOME.
fn zsh_hf_home(env: &TestEnv, flags: &[&str], extra: &[(&str, &str)]) -> String {
    let mut c = Command::new("zsh");
    c.args(flags)
        .arg("print -rn -- \"${HF_HOME-unset}\"")
        .env_clear()
        .env("HOME", &env.home)
        .env("PATH", common::sys_path())
        .current_dir(&env.home)
        .stdin(Stdio::null());
    for (k, v) in extra {
        c.env(k, v);
    }
    String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
}

fn hf_home(env: &TestEnv) -> String {
    env.home.join(".cache/huggingface").display().to_string()
}

/// The common XDG setup: `~/.zshenv` exports ZDOTDIR, the rest lives in ~/.config/zsh.
fn xdg_zsh(env: &TestEnv) -> PathBuf {
    env.write(".zshenv", "export ZDOTDIR=\"$HOME/.config/zsh\"\n");
    env.write(".config/zsh/.zshrc", "# interactive settings\n");
    env.home.join(".config/zsh")
}

#[test]
fn install_from_a_zsh_with_zdotdir_reaches_fresh_and_nested_zsh() {
    require("zsh");
    let env = TestEnv::new();
    let zdot = xdg_zsh(&env);
    let z = zdot.display().to_string();
    // Run as from inside that zsh: ZDOTDIR inherited. A fresh zsh never reads
    // $ZDOTDIR/.zshenv, so the block must (also) be in ~/.zshenv.
    let env = env.with_env("ZDOTDIR", &z);
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    assert!(env.read(".zshenv").contains("# >>> modelenv >>>"));
    assert!(
        env.read(".config/zsh/.zshenv")
            .contains("# >>> modelenv >>>")
    );
    let want = hf_home(&env);
    assert_eq!(zsh_hf_home(&env, &["-c"], &[]), want, "fresh zsh -c");
    assert_eq!(zsh_hf_home(&env, &["-lic"], &[]), want, "fresh login zsh");
    assert_eq!(
        zsh_hf_home(&env, &["-c"], &[("ZDOTDIR", &z)]),
        want,
        "a zsh started from one (ZDOTDIR inherited)"
    );
    let (_, r) = doctor(&env, &["--shell", "zsh"]);
    for mode in ["non-interactive", "login", "interactive", "nested"] {
        assert_eq!(
            check(&r, &format!("shell.zsh.{mode}"))["status"],
            "pass",
            "{mode}: {r:#}"
        );
    }
    // Uninstall takes the block out of both files again.
    env.ok(&["uninstall", "--shell", "zsh"]);
    assert!(!env.read(".zshenv").contains("modelenv"));
    assert_eq!(zsh_hf_home(&env, &["-c"], &[]), "unset");
}

#[test]
fn install_from_bash_finds_the_zdotdir_set_in_zshenv() {
    require("zsh");
    let env = TestEnv::new();
    let zdot = xdg_zsh(&env);
    // No ZDOTDIR in modelenv's environment: zsh itself says where it reads.
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    assert!(zdot.join(".zshenv").exists());
    let want = hf_home(&env);
    assert_eq!(zsh_hf_home(&env, &["-c"], &[]), want);
    let z = zdot.display().to_string();
    assert_eq!(zsh_hf_home(&env, &["-c"], &[("ZDOTDIR", &z)]), want);
    let (_, r) = doctor(&env, &["--shell", "zsh"]);
    assert!(
        !failing(&r).iter().any(|id| id.starts_with("shell.zsh")),
        "{r:#}"
    );
}

#[test]
fn the_doctor_does_not_hand_its_zdotdir_to_the_shells_it_starts() {
    require("zsh");
    let env = TestEnv::new();
    let zdot = xdg_zsh(&env);
    // What an older install did when run from such a zsh: the block only in
    // $ZDOTDIR/.zshenv, which no zsh started by a terminal reads.
    env.write(
        ".config/zsh/.zshenv",
        "export HF_HOME=\"$HOME/.cache/huggingface\"\nexport TRANSFORMERS_CACHE=\"$HOME/.cache/huggingface/hub\"\nexport HF_DATASETS_CACHE=\"$HOME/.cache/huggingface/datasets\"\nexport CUSTOM_MODEL_DIR=\"$HOME/models\"\n",
    );
    assert_eq!(zsh_hf_home(&env, &["-c"], &[]), "unset");
    let env = env.with_env("ZDOTDIR", &zdot.display().to_string());
    let (code, r) = doctor(&env, &["--shell", "zsh"]);
    assert_eq!(code, Some(1));
    let f = failing(&r);
    for mode in ["non-interactive", "login", "interactive"] {
        assert!(
            f.contains(&format!("shell.zsh.{mode}.HF_HOME")),
            "{mode}: {f:?}"
        );
    }
    assert_eq!(check(&r, "shell.zsh.nested")["status"], "pass", "{r:#}");
}

#[test]
fn a_venv_made_from_the_python3_on_path_is_probed_on_its_own() {
    let env = TestEnv::new();
    // The interpreter binary behind the test venv, first on PATH as `python3`.
    let base = fs::canonicalize(python()).unwrap();
    let bin = env.tmp.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(&base, bin.join("python3")).unwrap();
    let venv = env.tmp.path().join("venv");
    let made = Command::new(&base)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", common::stderr(&made));
    let vpy = venv.join("bin/python");
    // Both resolve to the same file; they are still two environments.
    assert_eq!(fs::canonicalize(&vpy).unwrap(), base);
    let path = format!("{}:{}", bin.display(), common::sys_path());
    let env = env.with_env("PATH", &path);
    let v = vpy.display().to_string();
    let (_, r) = doctor(&env, &["--python", &v]);
    let c = check(&r, &format!("python.{v}.huggingface_hub"));
    // The venv has no huggingface_hub of its own (the base's site-packages is not its).
    assert_eq!(c["status"], "skip", "{c}");
    let onpath = bin.join("python3").display().to_string();
    assert!(
        r["checks"].as_array().unwrap().iter().any(|c| c["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("python.{onpath}."))),
        "{r:#}"
    );
}

#[test]
fn a_huggingface_hub_py_in_the_current_folder_never_runs() {
    let env = TestEnv::new();
    let marker = env.tmp.path().join("ran");
    // A repo that happens to hold modules named like the libraries and the stdlib.
    for name in ["huggingface_hub.py", "json.py", "datasets.py"] {
        fs::write(
            env.repo.join(name),
            format!(
                "open({:?}, 'a').write('{name}\\n')\n",
                marker.display().to_string()
            ),
        )
        .unwrap();
    }
    let py = python();
    let (_, r) = doctor(&env, &["--python", &py]);
    assert!(
        !marker.exists(),
        "the probe ran {}",
        fs::read_to_string(&marker).unwrap_or_default()
    );
    assert_eq!(
        check(&r, &format!("python.{py}.huggingface_hub"))["status"],
        "pass",
        "{r:#}"
    );
}

#[test]
fn the_probe_adds_nothing_to_the_interpreters_environment() {
    let env = TestEnv::new();
    // This process has none of the exports (a shell that predates the install); the
    // interpreter really uses its defaults, and with XDG_CACHE_HOME elsewhere that is not
    // the central folder, fixed in the config file.
    let central = env.home.join("central");
    env.write(
        ".config/modelenv/config.toml",
        &format!("hf_home = \"{}\"\n", central.display()),
    );
    let py = python();
    let (code, r) = doctor(&env, &["--python", &py]);
    assert_eq!(code, Some(1));
    for lib in ["huggingface_hub", "datasets"] {
        let c = check(&r, &format!("python.{py}.{lib}"));
        assert_eq!(c["status"], "fail", "{c}");
        assert!(
            c["path"]
                .as_str()
                .unwrap()
                .starts_with(&env.home.join(".cache/huggingface").display().to_string()),
            "{c}"
        );
    }
}

#[test]
fn a_later_export_is_named_with_its_file_and_line() {
    require("bash");
    let env = TestEnv::new();
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    let rc = env.read(".bashrc");
    env.write(".bashrc", &format!("{rc}export HF_HOME=~/old_hf\n"));
    let line = rc.lines().count() + 1;
    let (code, r2) = doctor(&env, &["--shell", "bash"]);
    assert_eq!(code, Some(1));
    let c = check(&r2, "shell.bash.interactive.HF_HOME");
    assert_eq!(c["status"], "fail");
    let hint = c["hint"].as_str().unwrap();
    assert!(
        hint.contains(&format!("~/.bashrc:{line}")) && hint.contains("export HF_HOME=~/old_hf"),
        "{hint}"
    );
    assert!(!hint.contains("modelenv install"), "{hint}");
    // Install, which runs the doctor, says so too.
    let out = env.run(&["install", "--shell", "bash"]);
    let all = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert!(all.contains(&format!("~/.bashrc:{line}")), "{all}");
}

#[test]
fn a_fish_universal_variable_shadowed_by_the_block_is_no_warning() {
    require("fish");
    let env = TestEnv::new().with_env("SHELL", "/usr/bin/fish");
    env.write(
        ".config/fish/fish_variables",
        "# This file contains fish universal variable definitions.\n# VERSION: 3.0\nSETUVAR --export HF_HOME:/srv/old_hf\n",
    );
    // Without the block the universal variable wins: that is the failure.
    let (code, r) = doctor(&env, &["--shell", "fish"]);
    assert_eq!(code, Some(1));
    assert_eq!(check(&r, "shell.fish.universal.HF_HOME")["status"], "warn");
    let c = check(&r, "shell.fish.login.HF_HOME");
    assert!(
        c["message"].as_str().unwrap().contains("/srv/old_hf"),
        "{c}"
    );
    // With modelenv's `set -gx`, every fish sees the central value.
    env.ok(&["install", "--shell", "fish", "--no-doctor"]);
    let (_, r) = doctor(&env, &["--shell", "fish"]);
    assert_eq!(
        check(&r, "shell.fish.universal.HF_HOME")["status"],
        "pass",
        "{r:#}"
    );
    assert!(
        !failing(&r).iter().any(|id| id.starts_with("shell.fish")),
        "{r:#}"
    );
}

/// Where huggingface_hub really puts downloads in a cron-style `env -i sh -c`.
fn cron_hub_cache(env: &TestEnv) -> PathBuf {
    let out = Command::new("env")
        .arg("-i")
        .arg(format!("HOME={}", env.home.display()))
        .arg("PATH=/usr/bin:/bin")
        .args(["sh", "-c"])
        .arg(format!(
            "'{}' -c 'from huggingface_hub import constants; print(constants.HF_HUB_CACHE)'",
            python()
        ))
        .current_dir(&env.home)
        .output()
        .unwrap();
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    fs::create_dir_all(&p).unwrap();
    fs::canonicalize(p).unwrap()
}

#[test]
fn cron_style_env_i_sh_c_is_reported_honestly() {
    require("bash");
    let env = TestEnv::new();
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    // The default central store is the libraries' default: cron gets it with no setup.
    let (_, r) = doctor(&env, &["--shell", "bash"]);
    assert_eq!(check(&r, "context.sh")["status"], "pass", "{r:#}");
    assert_eq!(
        cron_hub_cache(&env),
        fs::canonicalize(env.home.join(".cache/huggingface/hub")).unwrap()
    );

    // A central store elsewhere, the default location in use: the block reaches shells,
    // never `env -i sh -c`, and install leaves the folder alone.
    let env = TestEnv::new();
    env.write(".cache/huggingface/hub/version.txt", "1");
    let central = env.tmp.path().join("central-hf");
    let hf = central.display().to_string();
    env.ok(&[
        "install",
        "--shell",
        "bash",
        "--no-doctor",
        "--hf-home",
        &hf,
    ]);
    assert!(!env.home.join(".cache/huggingface").is_symlink());
    let (_, r) = doctor(&env, &["--shell", "bash"]);
    assert_eq!(check(&r, "shell.bash.login")["status"], "pass", "{r:#}");
    let c = check(&r, "context.sh");
    assert_eq!(c["status"], "warn", "{c}");
    let real = cron_hub_cache(&env);
    assert!(!real.starts_with(&central), "{}", real.display());
    assert_eq!(
        Path::new(c["path"].as_str().unwrap()),
        env.home.join(".cache/huggingface/hub")
    );
    assert!(c["hint"].as_str().unwrap().contains("ln -s"), "{c}");
    // Once the default location is free, install links it: cron's downloads land in the store.
    fs::remove_dir_all(env.home.join(".cache/huggingface")).unwrap();
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    assert_eq!(
        fs::read_link(env.home.join(".cache/huggingface")).unwrap(),
        fs::canonicalize(env.tmp.path()).unwrap().join("central-hf")
    );
    let (_, r) = doctor(&env, &["--shell", "bash"]);
    assert_eq!(check(&r, "context.sh")["status"], "pass", "{r:#}");
    assert!(cron_hub_cache(&env).starts_with(fs::canonicalize(&central).unwrap()));
    // Uninstall takes the link away again, and nothing else.
    env.ok(&["uninstall"]);
    assert!(
        env.home
            .join(".cache/huggingface")
            .symlink_metadata()
            .is_err()
    );
    assert!(central.join("hub").is_dir());
}

#[test]
fn a_dotenv_the_project_loads_is_named_with_its_line() {
    let env = TestEnv::new();
    fs::write(
        env.repo.join(".env"),
        "OPENAI_KEY=x\nHF_HOME=~/.cache/huggingface\nHF_DATASETS_CACHE=${HOME}/.cache/huggingface/datasets\n",
    )
    .unwrap();
    fs::write(env.repo.join(".env.example"), "HF_HOME=/srv/template\n").unwrap();
    // What python-dotenv really loads from it: a literal `~`.
    let out = Command::new(python())
        .args([
            "-c",
            "import dotenv; print(dotenv.dotenv_values('.env')['HF_HOME'])",
        ])
        .current_dir(&env.repo)
        .env("HOME", &env.home)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "~/.cache/huggingface"
    );
    let (code, r) = doctor(&env, &["--no-probe"]);
    assert_eq!(code, Some(1));
    let c = check(&r, "repo.dotenv..env:2");
    assert_eq!(c["status"], "fail");
    assert!(
        c["hint"]
            .as_str()
            .unwrap()
            .contains("HF_HOME=${HOME}/.cache/huggingface"),
        "{c}"
    );
    // `${HOME}` is what python-dotenv expands: that line is right; templates are not loaded.
    let ids: Vec<String> = failing(&r);
    assert!(
        !ids.iter().any(|i| i.starts_with("repo.dotenv..env:3")),
        "{ids:?}"
    );
    assert!(!ids.iter().any(|i| i.contains(".env.example:")), "{ids:?}");
}

#[test]
fn an_interpreter_without_safe_path_mode_still_runs_nothing_of_the_folder() {
    let env = TestEnv::new();
    // A Python older than 3.11 refuses -P; the probe retries without it and drops the
    // current folder from sys.path itself.
    let venv_bin = Path::new(&python()).parent().unwrap().to_path_buf();
    let old = env.tmp.path().join("oldpython");
    fs::write(
        &old,
        format!(
            "#!/bin/sh\ncase \"$1\" in -P) echo 'Unknown option: -P' >&2; exit 2;; esac\nexec '{}' \"$@\"\n",
            venv_bin.join("python").display()
        ),
    )
    .unwrap();
    fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let marker = env.tmp.path().join("ran");
    fs::write(
        env.repo.join("huggingface_hub.py"),
        format!(
            "open({:?}, 'a').write('ran')\n",
            marker.display().to_string()
        ),
    )
    .unwrap();
    let o = old.display().to_string();
    let (_, r) = doctor(&env, &["--python", &o]);
    assert!(!marker.exists());
    assert_eq!(
        check(&r, &format!("python.{o}.huggingface_hub"))["status"],
        "pass",
        "{r:#}"
    );
}
