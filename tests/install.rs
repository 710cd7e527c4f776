//! install / uninstall against real bash, zsh, fish and dash with a temp HOME.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use common::{Entry, TestEnv, require, stderr, stdout, user_files};

const DEBIAN_BASHRC: &str = "# ~/.bashrc: executed by bash(1) for non-login shells.\n\n# If not running interactively, don't do anything\ncase $- in\n    *i*) ;;\n      *) return;;\nesac\n\nHISTCONTROL=ignoreboth\nalias ll='ls -alF'\n";

fn central(env: &TestEnv) -> Vec<(&'static str, String)> {
    let h = env.home.display().to_string();
    vec![
        ("HF_HOME", format!("{h}/.cache/huggingface")),
        ("TRANSFORMERS_CACHE", format!("{h}/.cache/huggingface/hub")),
        (
            "HF_DATASETS_CACHE",
            format!("{h}/.cache/huggingface/datasets"),
        ),
        ("CUSTOM_MODEL_DIR", format!("{h}/models")),
    ]
}

fn assert_vars(env: &TestEnv, shell: &str, flags: &[&str], expected: &[(&str, String)]) {
    for (var, want) in expected {
        let got = env.var_in(shell, flags, var);
        assert_eq!(
            got.as_deref().map(String::from_utf8_lossy),
            Some(want.as_str().into()),
            "{var} in `{shell} {}`",
            flags.join(" ")
        );
    }
}

#[test]
fn install_reaches_login_interactive_and_noninteractive_shells() {
    for s in ["bash", "zsh", "fish"] {
        require(s);
    }
    let env = TestEnv::new();
    env.write(".bashrc", DEBIAN_BASHRC);
    env.ok(&[
        "install",
        "--shell",
        "bash",
        "--shell",
        "zsh",
        "--shell",
        "fish",
        "--no-doctor",
    ]);
    let want = central(&env);
    assert_vars(&env, "bash", &["-lc"], &want);
    assert_vars(&env, "bash", &["-ic"], &want);
    assert_vars(&env, "zsh", &["-c"], &want);
    assert_vars(&env, "zsh", &["-lic"], &want);
    assert_vars(&env, "fish", &["-c"], &want);
    assert_vars(&env, "fish", &["-lc"], &want);
    // The block sits before the interactive guard, and no login file existed: .profile is made.
    let bashrc = env.read(".bashrc");
    assert!(bashrc.find("# >>> modelenv >>>").unwrap() < bashrc.find("case $- in").unwrap());
    assert!(
        env.read(".profile")
            .contains("export HF_HOME=\"$HOME/.cache/huggingface\"")
    );
}

#[test]
fn bash_login_file_is_the_one_bash_reads() {
    require("bash");
    let env = TestEnv::new();
    env.write(".bash_profile", "[ -f ~/.bashrc ] && . ~/.bashrc\n");
    env.write(".profile", "# read by sh only while .bash_profile exists\n");
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    assert!(env.read(".bash_profile").contains("# >>> modelenv >>>"));
    assert_eq!(
        env.read(".profile"),
        "# read by sh only while .bash_profile exists\n"
    );
    assert_vars(&env, "bash", &["-lc"], &central(&env));
}

#[test]
fn dash_login_reads_the_profile_block() {
    require("dash");
    let env = TestEnv::new();
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    assert_vars(&env, "dash", &["-lc"], &central(&env));
}

#[test]
fn install_twice_changes_nothing() {
    let env = TestEnv::new();
    env.write(".bashrc", DEBIAN_BASHRC);
    fs::write(
        env.repo.join(".env.example"),
        "HF_CACHE_DIR=./model_cache\n",
    )
    .unwrap();
    let args = [
        "install",
        "--shell",
        "bash",
        "--shell",
        "zsh",
        "--shell",
        "fish",
        "--no-doctor",
    ];
    env.ok(&args);
    let first = env.snapshot();
    let mtimes: Vec<_> = first
        .keys()
        .map(|p| {
            fs::symlink_metadata(env.tmp.path().join(p))
                .unwrap()
                .modified()
                .unwrap()
        })
        .collect();
    let out = env.ok(&args);
    assert_eq!(env.snapshot(), first, "a second install changed bytes");
    let mtimes2: Vec<_> = first
        .keys()
        .map(|p| {
            fs::symlink_metadata(env.tmp.path().join(p))
                .unwrap()
                .modified()
                .unwrap()
        })
        .collect();
    assert_eq!(mtimes, mtimes2, "a second install rewrote a file");
    assert!(
        stderr(&out).contains("already installed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn uninstall_restores_original_bytes() {
    let env = TestEnv::new();
    env.write(".bashrc", DEBIAN_BASHRC);
    env.write(".bash_profile", "export PATH=\"$HOME/bin:$PATH\""); // no final newline
    env.write(".zshenv", "setopt no_global_rcs\r\nexport EDITOR=vim\r\n"); // CRLF
    fs::write(
        env.repo.join(".env.example"),
        "OPENAI_API_KEY=\nHF_CACHE_DIR=./model_cache\nPORT=8000",
    )
    .unwrap();
    let before = user_files(&env.snapshot());
    env.ok(&[
        "install",
        "--shell",
        "bash",
        "--shell",
        "zsh",
        "--shell",
        "fish",
        "--no-doctor",
    ]);
    assert_ne!(user_files(&env.snapshot()), before);
    let out = env.ok(&["uninstall"]);
    assert_eq!(
        user_files(&env.snapshot()),
        before,
        "uninstall left changes: {}",
        stderr(&out)
    );
    assert!(!env.home.join(".config/fish/conf.d/modelenv.fish").exists());
    assert!(
        !env.home.join(".profile").exists(),
        "a .profile install created is removed again"
    );
}

/// The folders install made for its files (fish's `conf.d` in a home without fish config)
/// go again with uninstall; one the user has since put a file in stays, with the file.
#[test]
fn uninstall_removes_the_folders_install_made_once_they_are_empty() {
    let env = TestEnv::new();
    env.ok(&["install", "--shell", "fish", "--no-doctor"]);
    assert!(env.home.join(".config/fish/conf.d/modelenv.fish").is_file());
    let dry = env.ok(&["uninstall", "--dry-run"]);
    assert!(
        stderr(&dry).contains("would remove the folder ~/.config/fish/conf.d"),
        "{}",
        stderr(&dry)
    );
    // modelenv's own config folder is not the user's file's: it is kept, and not named.
    assert!(
        !stderr(&dry).contains("~/.config/modelenv "),
        "{}",
        stderr(&dry)
    );
    assert!(
        env.home.join(".config/fish/conf.d").is_dir(),
        "a dry run removes nothing"
    );
    let out = env.ok(&["uninstall"]);
    assert!(!env.home.join(".config/fish").exists(), "{}", stderr(&out));
    // modelenv's own config is kept, and with it the folder that holds it.
    assert!(env.home.join(".config/modelenv/config.toml").is_file());

    env.ok(&["install", "--shell", "fish", "--no-doctor"]);
    env.write(".config/fish/conf.d/mine.fish", "set -gx EDITOR vim\n");
    let out = env.ok(&["uninstall"]);
    assert!(
        !stderr(&out).contains("removed the folder"),
        "a folder that was kept is not said removed: {}",
        stderr(&out)
    );
    assert!(!env.home.join(".config/fish/conf.d/modelenv.fish").exists());
    assert_eq!(
        env.read(".config/fish/conf.d/mine.fish"),
        "set -gx EDITOR vim\n"
    );

    // conf.d moved into the user's dotfiles and linked back: the link and the folder it
    // leads to stay, and neither is said removed.
    fs::remove_dir_all(env.home.join(".config/fish")).unwrap();
    env.ok(&["install", "--shell", "fish", "--no-doctor"]);
    let dotfiles = env.home.join("dotfiles/fish-conf.d");
    fs::create_dir_all(env.home.join("dotfiles")).unwrap();
    fs::rename(env.home.join(".config/fish/conf.d"), &dotfiles).unwrap();
    symlink(&dotfiles, env.home.join(".config/fish/conf.d")).unwrap();
    let out = env.run(&["uninstall"]);
    assert!(
        !stderr(&out).contains("removed the folder"),
        "{}",
        stderr(&out)
    );
    assert!(dotfiles.is_dir());
    assert!(
        env.home
            .join(".config/fish/conf.d")
            .symlink_metadata()
            .is_ok()
    );
}

/// With the store elsewhere, install makes `~/.config/environment.d` and `~/.cache` (for the
/// environment.d file and the default-location link) in a new home: uninstall removes them
/// again once empty.
#[test]
fn uninstall_removes_the_folders_made_for_the_link_and_environment_d() {
    let env = TestEnv::new();
    let hf = env.home.join("hf");
    env.ok(&[
        "install",
        "--shell",
        "bash",
        "--no-doctor",
        "--hf-home",
        hf.to_str().unwrap(),
    ]);
    assert!(
        env.home
            .join(".config/environment.d/60-modelenv.conf")
            .is_file()
    );
    assert!(
        env.home
            .join(".cache/huggingface")
            .symlink_metadata()
            .is_ok()
    );
    let out = env.ok(&["uninstall"]);
    for gone in [".config/environment.d", ".cache"] {
        assert!(
            env.home.join(gone).symlink_metadata().is_err(),
            "{gone} is left: {}",
            stderr(&out)
        );
    }
}

/// uninstall killed after any change, then run again: the folders install made are removed
/// all the same (they stay in the undo record until they are dealt with).
#[test]
fn uninstall_killed_anywhere_still_removes_the_folders_install_made() {
    let mut kills = 0;
    for kill in 1..=12 {
        let env = TestEnv::new();
        let hf = env.home.join("hf");
        env.ok(&[
            "install",
            "--shell",
            "bash",
            "--shell",
            "fish",
            "--no-doctor",
            "--hf-home",
            hf.to_str().unwrap(),
        ]);
        let out = env
            .cmd(&["uninstall"])
            .env("MODELENV_TEST_KILL_AFTER", kill.to_string())
            .output()
            .unwrap();
        let killed = common::killed(&out);
        kills += killed as u32;
        if killed {
            env.ok(&["uninstall"]);
        } else {
            assert!(out.status.success(), "{}", stderr(&out));
        }
        for gone in [".cache", ".config/environment.d", ".config/fish"] {
            assert!(
                env.home.join(gone).symlink_metadata().is_err(),
                "kill {kill}: {gone} is left"
            );
        }
        if !killed {
            break;
        }
    }
    assert!(kills >= 3, "only {kills} runs were killed");
}

#[test]
fn uninstall_keeps_lines_the_user_added_after_install() {
    let env = TestEnv::new();
    env.write(".zshenv", "export A=1\n");
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    let with_block = env.read(".zshenv");
    env.write(".zshenv", &format!("{with_block}export B=2\n"));
    env.ok(&["uninstall", "--shell", "zsh"]);
    assert_eq!(env.read(".zshenv"), "export A=1\nexport B=2\n");
}

#[test]
fn symlinked_rc_stays_a_symlink_and_its_target_is_edited() {
    let env = TestEnv::new();
    let target = env.write("dotfiles/zsh/.zshenv", "export A=1\n");
    symlink("dotfiles/zsh/.zshenv", env.home.join(".zshenv")).unwrap();
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    let meta = fs::symlink_metadata(env.home.join(".zshenv")).unwrap();
    assert!(
        meta.file_type().is_symlink(),
        "the link was replaced by a file"
    );
    assert!(
        fs::read_to_string(&target)
            .unwrap()
            .contains("# >>> modelenv >>>")
    );
    require("zsh");
    assert_vars(&env, "zsh", &["-c"], &central(&env));
    env.ok(&["uninstall", "--shell", "zsh"]);
    assert!(
        fs::symlink_metadata(env.home.join(".zshenv"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), "export A=1\n");
}

#[test]
fn crlf_file_keeps_crlf_and_permissions() {
    let env = TestEnv::new();
    let p = env.write(".zshenv", "export A=1\r\nexport B=2\r\n");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    let text = env.read(".zshenv");
    assert!(text.contains("# >>> modelenv >>>\r\n"));
    assert_eq!(
        text.matches('\n').count(),
        text.matches("\r\n").count(),
        "a bare LF crept in: {text:?}"
    );
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The \r does not leak into the values.
    require("zsh");
    assert_vars(&env, "zsh", &["-c"], &central(&env));
}

#[test]
fn file_without_final_newline_is_handled() {
    require("bash");
    let env = TestEnv::new();
    env.write(".bash_profile", "export MINE=kept");
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    let text = env.read(".bash_profile");
    assert!(
        text.starts_with("export MINE=kept\n# >>> modelenv >>>\n"),
        "{text:?}"
    );
    assert_eq!(
        env.var_in("bash", &["-lc"], "MINE").as_deref(),
        Some(&b"kept"[..])
    );
    assert_vars(&env, "bash", &["-lc"], &central(&env));
}

#[test]
fn zdotdir_is_respected() {
    require("zsh");
    let env = TestEnv::new();
    let zdot = env.home.join(".config/zsh");
    fs::create_dir_all(&zdot).unwrap();
    let env = env.with_env("ZDOTDIR", &zdot.display().to_string());
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    assert!(zdot.join(".zshenv").exists());
    // A zsh started by a terminal has no ZDOTDIR yet and reads ~/.zshenv (FACTS.md §3).
    assert!(env.home.join(".zshenv").exists());
    assert_vars(&env, "zsh", &["-c"], &central(&env));
    assert_vars(&env, "zsh", &["-lic"], &central(&env));
}

#[test]
fn values_with_other_locations_replace_the_block_in_place() {
    let env = TestEnv::new();
    env.write(".zshenv", "export A=1\n");
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    env.write(".zshenv", &format!("{}export B=2\n", env.read(".zshenv")));
    env.ok(&[
        "install",
        "--shell",
        "zsh",
        "--no-doctor",
        "--hf-home",
        "/data/hf",
    ]);
    let text = env.read(".zshenv");
    assert_eq!(text.matches("# >>> modelenv >>>").count(), 1);
    assert!(text.starts_with("export A=1\n# >>> modelenv >>>\n"));
    assert!(text.ends_with("# <<< modelenv <<<\nexport B=2\n"), "{text}");
    assert!(text.contains("export HF_HOME='/data/hf'\n"), "{text}");
    // The config now remembers it, so init agrees without the flag.
    let init = stdout(&env.ok(&["init", "zsh"]));
    assert!(init.contains("export HF_HOME='/data/hf'\n"), "{init}");
}

#[test]
fn original_is_backed_up_once() {
    let env = TestEnv::new();
    env.write(".zshenv", "export ORIGINAL=1\n");
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    env.ok(&[
        "install",
        "--shell",
        "zsh",
        "--no-doctor",
        "--hf-home",
        "/data/hf",
    ]);
    let backups = env.home.join(".local/state/modelenv/backups");
    let files: Vec<_> = fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let zshenv_backups: Vec<_> = files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".zshenv"))
        .collect();
    assert_eq!(zshenv_backups.len(), 1, "{files:?}");
    assert_eq!(
        fs::read_to_string(zshenv_backups[0]).unwrap(),
        "export ORIGINAL=1\n"
    );
}

#[test]
fn read_only_rc_is_refused_and_nothing_changes() {
    let env = TestEnv::new();
    env.write(".bashrc", DEBIAN_BASHRC);
    let p = env.home.join(".bashrc");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o444)).unwrap();
    let before = env.snapshot();
    let out = env.run(&["install", "--shell", "bash", "--no-doctor"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(".bashrc") && err.contains("read-only"),
        "{err}"
    );
    assert!(!err.contains("updated"), "claimed success: {err}");
    assert_eq!(
        env.snapshot(),
        before,
        "a file changed although install failed"
    );
}

#[test]
fn unwritable_rc_as_non_root_is_refused() {
    // root ignores mode bits, so run modelenv as `nobody` on a HOME it may read but not write.
    if !nix_is_root() || which::which("setpriv").is_err() {
        // As a normal user the 0444 case above already exercises the kernel's refusal.
        return;
    }
    let env = TestEnv::new();
    env.write(".zshenv", "export A=1\n");
    fs::set_permissions(env.tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // A copy of the binary that `nobody` may run, wherever the build folder is.
    let program = env.tmp.path().join("modelenv");
    fs::copy(common::bin(), &program).unwrap();
    fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
    let before = env.snapshot();
    let mut cmd = env.cmd(&["install", "--shell", "zsh", "--no-doctor"]);
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut wrapped = std::process::Command::new("setpriv");
    wrapped
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(program)
        .args(args);
    wrapped.env_clear().envs(
        cmd.get_envs()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
    );
    wrapped.current_dir(env.tmp.path());
    cmd = wrapped;
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not writable"), "{}", stderr(&out));
    assert_eq!(env.snapshot(), before);
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn duplicate_or_unpaired_markers_are_refused() {
    let block = "# >>> modelenv >>>\nexport HF_HOME=/x\n# <<< modelenv <<<\n";
    for bad in [
        format!("{block}{block}"),
        "# >>> modelenv >>>\nexport HF_HOME=/x\n".to_owned(),
    ] {
        let env = TestEnv::new();
        env.write(".zshenv", &bad);
        let before = env.snapshot();
        let out = env.run(&["install", "--shell", "zsh", "--no-doctor"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("nothing was changed"),
            "{}",
            stderr(&out)
        );
        assert_eq!(env.snapshot(), before);
    }
}

#[test]
fn dry_run_prints_a_diff_and_changes_nothing() {
    let env = TestEnv::new();
    env.write(".zshenv", "export A=1\n");
    fs::write(
        env.repo.join(".env.example"),
        "HF_CACHE_DIR=./model_cache\n",
    )
    .unwrap();
    let before = env.snapshot();
    let out = env.ok(&["install", "--shell", "zsh", "--dry-run"]);
    assert_eq!(env.snapshot(), before);
    let diff = stdout(&out);
    assert!(
        diff.contains("--- a/~/.zshenv\n+++ b/~/.zshenv\n"),
        "{diff}"
    );
    assert!(
        diff.contains("+export HF_HOME=\"$HOME/.cache/huggingface\""),
        "{diff}"
    );
    assert!(
        diff.contains(
            "-HF_CACHE_DIR=./model_cache\n+HF_CACHE_DIR=${HOME}/.cache/huggingface/hub\n"
        ),
        "{diff}"
    );
    let out = env.ok(&["uninstall", "--dry-run"]);
    assert_eq!(env.snapshot(), before);
    assert!(
        stderr(&out).contains("0 file(s) would change"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unsupported_shell_is_a_clear_error() {
    let env = TestEnv::new().with_env("SHELL", "/usr/bin/tcsh");
    let out = env.run(&["install", "--no-doctor"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unsupported shell `tcsh`")
            && stderr(&out).contains("bash, zsh and fish"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["install", "--shell", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("possible values: bash, zsh, fish"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn shell_comes_from_dollar_shell() {
    let env = TestEnv::new().with_env("SHELL", "/usr/bin/zsh");
    env.ok(&["install", "--no-doctor"]);
    assert!(env.home.join(".zshenv").exists());
    assert!(!env.home.join(".bashrc").exists());
}

#[test]
fn no_modify_profile_leaves_shell_files_alone() {
    let env = TestEnv::new();
    env.ok(&[
        "install",
        "--shell",
        "zsh",
        "--no-modify-profile",
        "--no-doctor",
    ]);
    assert!(!env.home.join(".zshenv").exists());
    assert!(env.repo.join(".env.example").exists());
}

#[test]
fn outside_a_repo_dotenv_is_skipped_with_a_note() {
    let env = TestEnv::new();
    fs::remove_dir_all(env.repo.join(".git")).unwrap();
    let out = env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    assert!(
        stderr(&out).contains("not inside a git repository"),
        "{}",
        stderr(&out)
    );
    assert!(!env.repo.join(".env.example").exists());
}

#[test]
fn install_runs_the_doctor_which_sees_the_fresh_shell() {
    require("zsh");
    let env = TestEnv::new();
    let out = env.ok(&["install", "--shell", "zsh"]);
    let text = stdout(&out);
    assert!(
        text.contains("a fresh non-interactive zsh gets the central locations"),
        "{text}"
    );
    assert!(!text.contains('✗'), "{text}");
    // Without the block, the doctor's fresh-shell check fails and names the fix.
    env.ok(&["uninstall"]);
    let out = env.run(&["doctor", "--shell", "zsh", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let failing: Vec<_> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert!(
        failing
            .iter()
            .any(|c| c["id"] == "shell.zsh.non-interactive.HF_HOME"),
        "{report}"
    );
    assert!(failing.iter().all(|c| {
        c["hint"]
            .as_str()
            .unwrap()
            .contains("modelenv install --shell zsh")
    }));
}

#[test]
fn config_set_keeps_comments_and_drives_init() {
    let env = TestEnv::new();
    let cfg = env.write(
        ".config/modelenv/config.toml",
        "# my big disk\nhf_home = \"/old\" # keep me\n",
    );
    env.ok(&["config", "set", "hf_home", "/mnt/big/hf"]);
    assert_eq!(
        fs::read_to_string(&cfg).unwrap(),
        "# my big disk\nhf_home = \"/mnt/big/hf\" # keep me\n"
    );
    assert_eq!(
        stdout(&env.ok(&["config", "get", "hf_home"])),
        "/mnt/big/hf\n"
    );
    assert_eq!(
        stdout(&env.ok(&["config", "path"])).trim(),
        cfg.display().to_string()
    );
    let out = env.run(&["config", "set", "hf_hme", "/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown config key"));
    let out = env.run(&["config", "set", "hf_home", "relative/path"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(fs::read_to_string(&cfg).unwrap().contains("/mnt/big/hf"));
}

#[test]
fn snapshot_helper_sees_links() {
    // Sanity for the snapshot helper itself: it sees links and modes.
    let env = TestEnv::new();
    env.write("a", "x");
    symlink("a", env.home.join("b")).unwrap();
    let snap = env.snapshot();
    assert_eq!(
        snap.get(Path::new("home/b")),
        Some(&Entry::Link("a".into()))
    );
}

/// Runs modelenv with a deadline: a command that blocks (on a FIFO) fails the test instead of
/// hanging it.
fn run_within(mut cmd: std::process::Command, secs: u64) -> std::process::Output {
    use wait_timeout::ChildExt;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    match child
        .wait_timeout(std::time::Duration::from_secs(secs))
        .unwrap()
    {
        Some(_) => child.wait_with_output().unwrap(),
        None => {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("modelenv blocked for {secs}s");
        }
    }
}

fn mkfifo(p: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_fifo_as_a_startup_file_is_refused_without_blocking() {
    let env = TestEnv::new();
    mkfifo(&env.home.join(".bashrc"));
    let before = env.snapshot();
    let out = run_within(env.cmd(&["install", "--shell", "bash", "--no-doctor"]), 20);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.snapshot(), before);
    // uninstall does not even look at a file it has no record of...
    let out = run_within(env.cmd(&["uninstall"]), 20);
    assert!(out.status.success(), "{}", stderr(&out));
    // ...and refuses, without blocking, a recorded one that became a FIFO.
    fs::remove_file(env.home.join(".bashrc")).unwrap();
    env.write(".bashrc", "alias ll='ls -l'\n");
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    fs::remove_file(env.home.join(".bashrc")).unwrap();
    mkfifo(&env.home.join(".bashrc"));
    let out = run_within(env.cmd(&["uninstall"]), 20);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_hard_linked_startup_file_is_refused_and_keeps_its_links() {
    let env = TestEnv::new();
    let copy = env.write("dotfiles/bashrc", DEBIAN_BASHRC);
    fs::hard_link(&copy, env.home.join(".bashrc")).unwrap();
    let before = env.snapshot();
    let out = env.run(&["install", "--shell", "bash", "--no-doctor"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("hard links"), "{}", stderr(&out));
    assert_eq!(env.snapshot(), before);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&copy).unwrap().nlink(), 2);
}

/// `setpriv` runs a copy of modelenv as `uid` (the test binary's folder may be private).
fn as_user(env: &TestEnv, uid: u32, args: &[&str]) -> std::process::Output {
    let program = env.tmp.path().join("modelenv");
    if !program.exists() {
        fs::copy(common::bin(), &program).unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cmd = env.cmd(args);
    let mut wrapped = std::process::Command::new("setpriv");
    wrapped
        .args([
            format!("--reuid={uid}"),
            format!("--regid={uid}"),
            "--clear-groups".into(),
            "--".into(),
        ])
        .arg(&program)
        .args(cmd.get_args())
        .env_clear()
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .current_dir(env.tmp.path());
    wrapped.output().unwrap()
}

#[test]
fn a_startup_file_keeps_its_owner() {
    if !nix_is_root() || which::which("setpriv").is_err() {
        eprintln!("skipped: needs root and setpriv to make files of another user");
        return;
    }
    use std::os::unix::fs::{MetadataExt, chown};
    // root edits a user's file (sudo with the user's HOME): the file stays the user's.
    let env = TestEnv::new();
    let rc = env.write(".zshenv", "export A=1\n");
    chown(&rc, Some(65534), Some(65534)).unwrap();
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    let m = fs::metadata(&rc).unwrap();
    assert_eq!((m.uid(), m.gid()), (65534, 65534));
    assert!(env.read(".zshenv").contains("# >>> modelenv >>>"));
    env.ok(&["uninstall"]);
    let m = fs::metadata(&rc).unwrap();
    assert_eq!((m.uid(), m.gid()), (65534, 65534));
    assert_eq!(env.read(".zshenv"), "export A=1\n");

    // A user cannot give a new file another owner: a writable file of root's is refused.
    let env = TestEnv::new();
    fs::set_permissions(env.tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    chown(&env.home, Some(65534), Some(65534)).unwrap();
    chown(&env.repo, Some(65534), Some(65534)).unwrap();
    let rc = env.write(".zshenv", "export A=1\n");
    fs::set_permissions(&rc, fs::Permissions::from_mode(0o666)).unwrap();
    let out = as_user(&env, 65534, &["--version"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = env.snapshot();
    let out = as_user(&env, 65534, &["install", "--shell", "zsh", "--no-doctor"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("belongs to uid 0"),
        "{}",
        stderr(&out)
    );
    assert!(common::changed(&before, &env.snapshot()).is_empty());
}

#[test]
fn a_block_modelenv_did_not_write_here_comes_back_on_uninstall() {
    let env = TestEnv::new();
    // Synced dotfiles and a teammate's committed .env.example, each with a block.
    let zshenv = "export A=1\n# >>> modelenv >>>\nexport HF_HOME=/other/machine/hf\n# <<< modelenv <<<\nexport B=2\n";
    let dotenv = "PORT=1\n# >>> modelenv >>>\nHF_HOME=/team/hf\nFOO_CACHE=x\n# <<< modelenv <<<\n";
    env.write(".zshenv", zshenv);
    fs::write(env.repo.join(".env.example"), dotenv).unwrap();
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    let installed = env.read(".zshenv");
    assert!(installed.contains(&env.home.display().to_string()) || installed.contains("$HOME"));
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    env.ok(&["uninstall"]);
    assert_eq!(env.read(".zshenv"), zshenv);
    assert_eq!(
        fs::read_to_string(env.repo.join(".env.example")).unwrap(),
        dotenv
    );
}

#[test]
fn uninstall_works_whatever_unrelated_config_keys_say() {
    let env = TestEnv::new();
    env.write(".zshenv", "export A=1\n");
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    let cfg = env.home.join(".config/modelenv/config.toml");
    let mut text = fs::read_to_string(&cfg).unwrap();
    text.push_str("headroom = \"lots\"\n");
    fs::write(&cfg, &text).unwrap();
    assert_eq!(
        env.run(&["usage"]).status.code(),
        Some(2),
        "usage needs headroom"
    );
    let out = env.ok(&["uninstall"]);
    assert!(stderr(&out).contains("headroom"), "{}", stderr(&out));
    assert_eq!(env.read(".zshenv"), "export A=1\n");
    // and `config set` can fix it.
    env.ok(&["config", "set", "headroom", "100GB"]);
    assert_ne!(env.run(&["usage"]).status.code(), Some(2));
}

#[test]
fn a_command_that_edits_no_shell_file_needs_no_shell() {
    let env = TestEnv::new();
    let repo = env.repo.display().to_string();
    let out = env
        .cmd(&[
            "install",
            "--repo",
            &repo,
            "--no-modify-profile",
            "--no-doctor",
        ])
        .env_remove("SHELL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(env.repo.join(".env.example").exists());
    assert!(!env.home.join(".bashrc").exists() && !env.home.join(".zshenv").exists());
    let out = env
        .cmd(&["uninstall"])
        .env_remove("SHELL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!env.repo.join(".env.example").exists());
}

/// install with another location and uninstall at the same moment, ten times: each either
/// runs or is refused whole, and a last uninstall always puts every byte back.
#[test]
fn install_and_uninstall_at_once_never_lose_the_undo_record() {
    let env = TestEnv::new();
    let zshenv = "export A=1\n";
    let dotenv = "PORT=1\nHF_HOME=./model_cache\n";
    env.write(".zshenv", zshenv);
    fs::write(env.repo.join(".env.example"), dotenv).unwrap();
    env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    for round in 0..10 {
        let hf = format!("/data/hf{round}");
        let a = env
            .cmd(&["install", "--shell", "zsh", "--no-doctor", "--hf-home", &hf])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let b = env
            .cmd(&["uninstall"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
            assert!(
                out.status.success() || stderr(&out).contains("another modelenv"),
                "round {round}: {}",
                stderr(&out)
            );
        }
        env.ok(&["uninstall"]);
        assert_eq!(env.read(".zshenv"), zshenv, "round {round}");
        assert_eq!(
            fs::read_to_string(env.repo.join(".env.example")).unwrap(),
            dotenv,
            "round {round}"
        );
        env.ok(&["install", "--shell", "zsh", "--no-doctor"]);
    }
}

/// A small filesystem mounted for one test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "skipped: cannot mount a tmpfs: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        Some(Tmpfs(at.to_path_buf()))
    }

    fn free(&self) -> u64 {
        let c = std::ffi::CString::new(self.0.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `c` is a valid path and `st` a properly sized out-parameter.
        unsafe {
            let mut st: libc::statvfs = std::mem::zeroed();
            assert_eq!(libc::statvfs(c.as_ptr(), &mut st), 0);
            st.f_bavail as u64 * st.f_frsize as u64
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// The disk fills up part-way: `.bashrc` was already replaced when `.profile` cannot be.
/// install puts `.bashrc` back and records nothing, so the files are as before.
#[test]
fn install_is_all_or_nothing_when_the_disk_fills_up() {
    let env = TestEnv::new();
    let state = env.tmp.path().join("state");
    let env = env.with_env("XDG_STATE_HOME", &state.display().to_string());
    let Some(fs_) = Tmpfs::mount(&env.home, "256k") else {
        return;
    };
    env.write(".bashrc", DEBIAN_BASHRC);
    let profile = format!("# big\n{}", "export X=1\n".repeat(6000));
    env.write(".profile", &profile);
    // Room for a small file, not for a second copy of .profile.
    let filler = fs_.free() - 16 * 1024;
    fs::write(env.home.join("filler"), vec![b'x'; filler as usize]).unwrap();
    let before = env.snapshot();
    let out = env.run(&["install", "--shell", "bash", "--no-doctor"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("No space left"), "{err}");
    assert!(err.contains("put back"), "{err}");
    let after = env.snapshot();
    let changed: Vec<_> = common::changed(&before, &after)
        .into_iter()
        .filter(|p| !p.starts_with("state"))
        .collect();
    assert!(changed.is_empty(), "changed: {changed:?}");
    assert_eq!(env.read(".bashrc"), DEBIAN_BASHRC);
    assert!(
        !state.join("modelenv/state.json").exists(),
        "an undo record of nothing"
    );
    // With room again, install and uninstall work and restore every byte.
    fs::remove_file(env.home.join("filler")).unwrap();
    env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    env.ok(&["uninstall"]);
    assert_eq!(env.read(".bashrc"), DEBIAN_BASHRC);
    assert_eq!(env.read(".profile"), profile);
}

/// Pieces random startup and `.env` files are made of: line ends of every kind, quotes,
/// escapes, comments, managed keys in several spellings, markers and whole blocks.
const PIECES: &[&str] = &[
    "\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "#",
    "=",
    "\"",
    "'",
    "\\",
    "export ",
    "a",
    "X=1",
    "${HOME}",
    "HF_HOME",
    "HF_CACHE_DIR=./model_cache",
    "'HF_HOME'=",
    "HF_HOME=\"./a\\\"b\" # c",
    "\u{feff}",
    "é",
    "# >>> modelenv >>>",
    "# <<< modelenv <<<",
    "# >>> modelenv >>>\nexport HF_HOME=/other\n# <<< modelenv <<<\n",
    "# >>> modelenv >>>\nHF_HOME=/team\n# <<< modelenv <<<\n",
    "case $- in\n *i*) ;;\n *) return;;\nesac\n",
];

fn file_text() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    prop_oneof![
        8 => prop::collection::vec(prop::sample::select(PIECES), 0..16)
            .prop_map(|p| p.concat().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// install → install → uninstall gives back every byte of every file, whatever they hold;
    /// a refused install changes nothing.
    #[test]
    fn install_install_uninstall_restores_every_byte(
        bashrc in file_text(), zshenv in file_text(), dotenv in file_text()
    ) {
        let env = TestEnv::new();
        fs::write(env.home.join(".bashrc"), &bashrc).unwrap();
        fs::write(env.home.join(".zshenv"), &zshenv).unwrap();
        fs::write(env.repo.join(".env.example"), &dotenv).unwrap();
        // install starts the user's shells as a terminal does (in HOME), and what their
        // startup files do then (`>\x01` in a `.zshenv` makes an empty file) is theirs, done
        // whenever a terminal opens: the baseline is a home whose shells have started.
        for (shell, flags) in [("zsh", "-c"), ("bash", "-lc"), ("bash", "-ic")] {
            env.shell(shell, &[flags], ":");
        }
        let before = user_files(&env.snapshot());
        let args = ["install", "--shell", "bash", "--shell", "zsh", "--no-doctor"];
        let out = env.run(&args);
        if out.status.success() {
            let once = env.snapshot();
            let again = env.run(&args);
            proptest::prop_assert!(again.status.success(), "{}", stderr(&again));
            proptest::prop_assert_eq!(common::changed(&once, &env.snapshot()), Vec::<std::path::PathBuf>::new());
            let out = env.run(&["uninstall"]);
            proptest::prop_assert!(out.status.success(), "{}", stderr(&out));
        } else {
            proptest::prop_assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        }
        proptest::prop_assert_eq!(user_files(&env.snapshot()), before);
    }
}
