//! With no flag and no config, modelenv adopts the locations the user's libraries use today
//! (an exported `HF_HOME`), and merges a whole other hub cache with `migrate --store`.
// Tests build the situations they check on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;

use common::TestEnv;
use common::fixtures::{Hub, commit, lfs, sha256_hex};
use serde_json::Value;

use common::load_from_cache as loads;

#[test]
fn an_exported_hf_home_is_adopted_by_install_init_usage_and_migrate() {
    let data = tempfile::tempdir().unwrap();
    let hf = data.path().join("hf");
    let env = TestEnv::new().with_env("HF_HOME", hf.to_str().unwrap());
    let central = Hub::new(&hf.join("hub")).repo("model", "o/central");
    central.snapshot(&commit("c"), &[lfs("w.safetensors", b"already central")]);
    central.git_ref("main", &commit("c"));
    let project = Hub::new(&env.repo.join("model_cache")).repo("model", "o/proj");
    project.snapshot(&commit("p"), &[lfs("w.safetensors", b"project weights")]);
    project.git_ref("main", &commit("p"));

    // usage reads the adopted store.
    let usage: Value = serde_json::from_slice(&env.ok(&["usage", "--json"]).stdout).unwrap();
    let hub_store = usage["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["store"] == "hf-hub")
        .unwrap();
    assert_eq!(hub_store["path"], hf.join("hub").to_str().unwrap());

    // init exports it.
    let init = common::stdout(&env.ok(&["init", "bash"]));
    assert!(init.contains(hf.to_str().unwrap()), "{init}");

    // migrate moves the project cache there.
    env.ok(&["migrate", "--apply"]);
    assert_eq!(
        loads(&env, &hf.join("hub"), "o/proj", "w.safetensors").as_deref(),
        Some(&b"project weights"[..])
    );

    // install writes it to the shells and says where it came from.
    let out = env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    assert!(
        common::stderr(&out).contains("adopted from the environment"),
        "{}",
        common::stderr(&out)
    );
    let got = env
        .var_in("bash", &["-lc"], "HF_HOME")
        .expect("a login bash gets HF_HOME");
    assert_eq!(got, hf.to_str().unwrap().as_bytes());
}

#[test]
fn an_old_hub_cache_is_shown_and_merged_whole_by_migrate_store() {
    let data = tempfile::tempdir().unwrap();
    let hf = data.path().join("hf");
    let env = TestEnv::new().with_env("HF_HOME", hf.to_str().unwrap());
    // Models from before HF_HOME was set, in the default location.
    let old = env.home.join(".cache/huggingface/hub");
    let a = Hub::new(&old).repo("model", "o/a");
    a.snapshot(&commit("a"), &[lfs("w.safetensors", b"old model a")]);
    a.git_ref("main", &commit("a"));
    // One model is in both places: stored once afterwards.
    let both = b"in both";
    let b_old = Hub::new(&old).repo("model", "o/b");
    b_old.snapshot(&commit("b"), &[lfs("w.safetensors", both)]);
    b_old.git_ref("main", &commit("b"));
    let b_new = Hub::new(&hf.join("hub")).repo("model", "o/b");
    b_new.snapshot(&commit("b"), &[lfs("w.safetensors", both)]);
    b_new.git_ref("main", &commit("b"));

    let usage: Value = serde_json::from_slice(&env.ok(&["usage", "--json"]).stdout).unwrap();
    let others = usage["other_hub_caches"].as_array().unwrap();
    assert_eq!(others.len(), 1, "{usage}");
    assert_eq!(others[0]["path"], old.to_str().unwrap());
    assert!(others[0]["merge"].as_str().unwrap().contains("--store"));

    // The dry run changes nothing; --apply merges every file.
    let before = env.snapshot();
    env.ok(&["migrate", "--store", old.to_str().unwrap()]);
    assert!(env.user_changes(&before).is_empty());
    let out = env.ok(&[
        "migrate",
        "--store",
        old.to_str().unwrap(),
        "--apply",
        "--json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["caches"][0]["removed"], true, "{report}");
    assert!(!old.exists());
    let hub = hf.join("hub");
    assert_eq!(
        loads(&env, &hub, "o/a", "w.safetensors").as_deref(),
        Some(&b"old model a"[..])
    );
    assert_eq!(
        loads(&env, &hub, "o/b", "w.safetensors").as_deref(),
        Some(&both[..])
    );
    assert!(
        hub.join("models--o--b/blobs")
            .join(sha256_hex(both))
            .exists()
    );
}

#[test]
fn migrate_store_refuses_what_is_not_another_hub_cache() {
    let env = TestEnv::new();
    let central = env.home.join(".cache/huggingface/hub");
    let r = Hub::new(&central).repo("model", "o/m");
    r.snapshot(&commit("a"), &[lfs("w.safetensors", b"x")]);
    let plain = env.tmp.path().join("plain");
    fs::create_dir_all(&plain).unwrap();
    fs::write(plain.join("notes.txt"), "mine").unwrap();
    for (store, why) in [
        (central.to_str().unwrap(), "central"),
        (plain.to_str().unwrap(), "not a Hugging Face hub cache"),
        ("/does/not/exist", "/does/not/exist"),
    ] {
        let before = env.snapshot();
        let out = env.run(&["migrate", "--store", store, "--apply"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{store}: {}",
            common::stderr(&out)
        );
        assert!(
            common::stderr(&out).contains(why),
            "{}",
            common::stderr(&out)
        );
        assert!(env.user_changes(&before).is_empty());
    }
}

#[test]
fn a_hub_cache_the_keys_cannot_express_is_explained_with_its_fix() {
    let data = tempfile::tempdir().unwrap();
    let models = data.path().join("models");
    let env = TestEnv::new().with_env("HF_HUB_CACHE", models.to_str().unwrap());
    let out = env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    let err = common::stderr(&out);
    assert!(
        err.contains("HF_HUB_CACHE=")
            && err.contains(&format!("migrate --store {}", models.display())),
        "{err}"
    );
}

#[test]
fn usage_on_a_machine_without_stores_says_so() {
    let env = TestEnv::new();
    let out = env.run(&["usage"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(
        common::stdout(&out).contains("modelenv scan"),
        "{}",
        common::stdout(&out)
    );
}

#[test]
fn headroom_is_read_back_as_written_and_documented() {
    let env = TestEnv::new();
    let get = |env: &TestEnv| common::stdout(&env.ok(&["config", "get", "headroom"]));
    assert!(get(&env).contains("10% of the disk"), "{}", get(&env));
    env.ok(&["config", "set", "headroom", "100GB"]);
    assert_eq!(get(&env).trim(), "100GB");
    let help = common::stdout(&env.ok(&["config", "set", "--help"]));
    assert!(help.contains("headroom"), "{help}");
    let out = env.run(&["config", "set", "headroom", "lots"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn models_ls_names_each_copy_by_its_real_folder() {
    let env = TestEnv::new();
    for p in ["projects/a/model_cache", "projects/b/model_cache"] {
        let r = Hub::new(&env.repo.join(p)).repo("model", "o/shared");
        r.snapshot(&commit("s"), &[lfs("w.safetensors", b"same model")]);
    }
    let out = env.ok(&[
        "models",
        "ls",
        "--dir",
        "./projects/a/./model_cache",
        "--dir",
        "projects/b/../b/model_cache",
    ]);
    let ls = common::stdout(&out);
    let rows: Vec<&str> = ls.lines().filter(|l| l.contains("o/shared")).collect();
    assert_eq!(rows.len(), 2, "{ls}");
    assert_ne!(rows[0], rows[1], "two copies, two different rows: {ls}");
    assert!(!ls.contains("/./") && !ls.contains("/../"), "{ls}");
}

#[test]
fn a_folder_that_does_not_exist_is_an_error_everywhere() {
    let env = TestEnv::new();
    for args in [
        &["usage", "--dir", "/does/not/exist"][..],
        &["models", "ls", "--dir", "/does/not/exist"],
        &["dedupe", "--dir", "/does/not/exist"],
    ] {
        let out = env.run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            common::stderr(&out)
        );
        assert!(common::stderr(&out).contains("/does/not/exist"), "{args:?}");
    }
}

#[test]
fn a_location_only_a_fresh_login_shell_exports_is_adopted_by_install() {
    common::require("bash");
    // modelenv started where the login files were not read (an IDE, a tmux started before):
    // its own environment has no HF_HOME, the user's ~/.profile exports one.
    let data = tempfile::tempdir().unwrap();
    let hf = data.path().join("hf");
    let env = TestEnv::new();
    env.write(
        ".profile",
        &format!(
            "export HF_HOME='{}'\nexport CUSTOM_MODEL_DIR=\"$HOME/m\"\n",
            hf.display()
        ),
    );
    let out = env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    let err = common::stderr(&out);
    assert!(
        err.contains(&format!(
            "HF_HOME={} (adopted from what a fresh login shell exports)",
            hf.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("CUSTOM_MODEL_DIR=~/m (adopted from what a fresh login shell exports)"),
        "{err}"
    );
    let cfg = env.read(".config/modelenv/config.toml");
    assert!(
        cfg.contains(&format!("hf_home = \"{}\"", hf.display())),
        "{cfg}"
    );
    for flags in [&["-lc"][..], &["-ic"]] {
        assert_eq!(
            env.var_in("bash", flags, "HF_HOME").as_deref(),
            Some(hf.to_str().unwrap().as_bytes()),
            "{flags:?}"
        );
    }
    // Without that export, the default stays the default.
    let plain = TestEnv::new();
    let err = common::stderr(&plain.ok(&["install", "--shell", "bash", "--no-doctor"]));
    assert!(err.contains("(the libraries' default)"), "{err}");
}

#[test]
fn a_login_file_that_leaves_a_background_job_does_not_hold_up_install() {
    common::require("bash");
    let env = TestEnv::new();
    env.write(".profile", "export HF_HOME=/srv/hf\n(sleep 60 &)\n");
    let mut cmd = env.cmd(&["install", "--shell", "bash", "--no-doctor"]);
    let started = std::time::Instant::now();
    let mut child = cmd.spawn().unwrap();
    use wait_timeout::ChildExt;
    let status = child
        .wait_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    if status.is_none() {
        child.kill().unwrap();
        panic!("install still running after 30 s: the login probe waits for a background job");
    }
    assert!(status.unwrap().success());
    assert!(started.elapsed().as_secs() < 30);
    assert!(
        env.read(".config/modelenv/config.toml")
            .contains("hf_home = \"/srv/hf\"")
    );
}

/// A terminal starts the user's shells in HOME, so startup files may source by a relative
/// path (`. ./.hfrc`): modelenv starts them there too, and install adopts what they export
/// and the doctor sees it (started anywhere else, both missed it and install wrote the default).
#[test]
fn startup_files_that_source_by_a_relative_path_are_read_as_a_terminal_reads_them() {
    common::require("bash");
    let env = TestEnv::new();
    env.write(".hfrc", "export HF_HOME=\"$HOME/hf-rel\"\n");
    env.write(".profile", ". ./.hfrc\n");
    env.write(".bashrc", ". ./.hfrc\n");
    let out = env.ok(&["install", "--shell", "bash", "--no-doctor"]);
    let want = env.home.join("hf-rel");
    assert_eq!(
        common::stdout(&env.ok(&["config", "get", "hf_home"])).trim(),
        want.to_str().unwrap(),
        "{}",
        common::stderr(&out)
    );
    let out = env.run(&["doctor", "--shell", "bash", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    for mode in ["login", "interactive"] {
        let id = format!("shell.bash.{mode}");
        let c = checks.iter().find(|c| c["id"] == id.as_str());
        assert_eq!(
            c.map(|c| &c["status"]),
            Some(&"pass".into()),
            "{id}: {report:#}"
        );
    }
}

/// A login shell too slow to answer is not taken for one that exports nothing: install says
/// its locations were not adopted.
#[test]
fn a_login_shell_too_slow_to_read_is_said_not_taken_for_the_default() {
    common::require("bash");
    let env = TestEnv::new();
    env.write(".profile", "sleep 8\nexport HF_HOME=\"$HOME/hf-slow\"\n");
    let out = env.ok(&["install", "--shell", "bash", "--no-doctor", "--dry-run"]);
    let err = common::stderr(&out);
    assert!(
        err.contains("could not read what a fresh login bash exports")
            && err.contains("not adopted"),
        "{err}"
    );
}

/// A `.zshenv` that leaves a background job holding the output does not hold up install (zsh
/// is asked where it reads `.zshenv`; the job is ended with the answer).
#[test]
fn a_zshenv_that_leaves_a_background_job_does_not_hold_up_install() {
    common::require("zsh");
    let env = TestEnv::new();
    env.write(".zshenv", "(sleep 60; echo late) &!\n");
    let mut child = env
        .cmd(&["install", "--shell", "zsh", "--no-doctor", "--dry-run"])
        .spawn()
        .unwrap();
    use wait_timeout::ChildExt;
    let status = child
        .wait_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    if status.is_none() {
        child.kill().unwrap();
        panic!("install still running after 30 s: asking zsh waits for a background job");
    }
    assert!(status.unwrap().success());
}

#[test]
fn a_login_shells_own_xdg_cache_home_moves_the_adopted_default() {
    common::require("bash");
    let data = tempfile::tempdir().unwrap();
    let env = TestEnv::new();
    env.write(
        ".profile",
        &format!("export XDG_CACHE_HOME='{}'\n", data.path().display()),
    );
    let err = common::stderr(&env.ok(&["install", "--shell", "bash", "--no-doctor"]));
    let want = data.path().join("huggingface");
    assert!(
        err.contains(&format!(
            "HF_HOME={} (adopted from what a fresh login shell exports)",
            want.display()
        )),
        "{err}"
    );
    assert_eq!(
        env.var_in("bash", &["-lc"], "HF_HOME").as_deref(),
        Some(want.to_str().unwrap().as_bytes())
    );
}

#[test]
fn the_doctor_names_a_users_hf_home_that_hides_the_system_store() {
    let env = TestEnv::new();
    let sys = env.tmp.path().join("etc/modelenv/config.toml");
    fs::create_dir_all(sys.parent().unwrap()).unwrap();
    fs::write(&sys, "hf_home = \"/srv/shared-hf\"\n").unwrap();
    let shadow = |env: &TestEnv| -> Option<Value> {
        let out = env.run(&["doctor", "--no-probe", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "shared.shadow")
            .cloned()
    };
    // Following the system store: nothing to say.
    assert_eq!(shadow(&env), None);
    // A config of the user's own hides it.
    env.write(".config/modelenv/config.toml", "hf_home = \"~/mine\"\n");
    let c = shadow(&env).expect("no shared.shadow check");
    assert_eq!(c["status"], "warn");
    assert!(
        c["message"].as_str().unwrap().contains("/srv/shared-hf"),
        "{c}"
    );
    assert!(
        c["hint"].as_str().unwrap().contains("remove `hf_home`"),
        "{c}"
    );
}
