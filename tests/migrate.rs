//! migrate on the seed's monorepo: everything ends up central, stored once, loadable by
//! huggingface_hub, configs rewritten, and a SIGKILL at any point is finished by a rerun.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixtures::{SEED_PROJECTS, SeedModel, seed_monorepo};
use common::{TestEnv, python};
use serde_json::Value;

fn py(env: &TestEnv, script: &str, args: &[&str], extra_env: &[(&str, &str)]) -> String {
    let mut c = Command::new(python());
    c.arg("-c")
        .arg(script)
        .args(args)
        .env_clear()
        .env("HOME", &env.home)
        .env("PATH", common::sys_path());
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every file of every model loads from `hub` with its original bytes; the cache is valid.
fn assert_all_central(env: &TestEnv, hub: &Path, models: &[SeedModel]) {
    for (id, files) in models {
        for (name, data) in files {
            let out = Command::new(python())
                .args(["-c", "import sys; from huggingface_hub import try_to_load_from_cache as t; p = t(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3]); sys.stdout.buffer.write(open(p, 'rb').read() if isinstance(p, str) else b'<missing>')"])
                .args([id.as_str(), name.as_str()])
                .arg(hub)
                .env("HOME", &env.home)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.stdout == *data,
                "{id}/{name} does not load from the central cache with its bytes"
            );
        }
    }
    let warnings = py(
        env,
        "import json,sys; from huggingface_hub import scan_cache_dir; print(json.dumps([str(w) for w in scan_cache_dir(sys.argv[1]).warnings]))",
        &[hub.to_str().unwrap()],
        &[],
    );
    assert_eq!(warnings.trim(), "[]");
    // Stored once: the shared model has one blob per distinct file.
    let blobs = fs::read_dir(hub.join("models--org--shared-model/blobs"))
        .unwrap()
        .count();
    assert_eq!(blobs, 3);
    for p in SEED_PROJECTS {
        assert!(
            !env.repo.join(p).join("model_cache").exists(),
            "{p}/model_cache was not removed"
        );
    }
}

fn migrate(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let mut a = vec!["migrate"];
    a.extend_from_slice(args);
    env.run(&a)
}

#[test]
fn migrate_moves_everything_central_and_rewrites_configs() {
    let env = TestEnv::new();
    let models = seed_monorepo(&env.repo);
    // A loose weight file next to the code goes to CUSTOM_MODEL_DIR/<project path>/.
    let loose: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    let loose_path = env
        .repo
        .join("alignment/steerability/weights/adapter.safetensors");
    fs::create_dir_all(loose_path.parent().unwrap()).unwrap();
    fs::write(&loose_path, &loose).unwrap();
    let before = env.snapshot();
    let dry = migrate(&env, &["--json"]);
    assert!(dry.status.success(), "{}", common::stderr(&dry));
    assert_eq!(
        common::changed(&env.snapshot(), &before),
        Vec::<PathBuf>::new(),
        "the dry run changed something"
    );
    let plan: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(plan["caches"].as_array().unwrap().len(), 5);
    assert_eq!(plan["configs"].as_array().unwrap().len(), 8);
    assert!(
        plan["freed_bytes"].as_u64().unwrap() >= 3 * 200_000,
        "{plan:#}"
    );

    let out = migrate(&env, &["--apply"]);
    assert!(
        out.status.success(),
        "{}{}",
        common::stdout(&out),
        common::stderr(&out)
    );
    let hub = env.home.join(".cache/huggingface/hub");
    assert_all_central(&env, &hub, &models);
    assert!(!loose_path.exists());
    let moved = env
        .home
        .join("models/alignment/steerability/weights/adapter.safetensors");
    assert_eq!(
        fs::read(&moved).unwrap(),
        loose,
        "the loose weights were not moved intact"
    );

    let central = hub.display().to_string();
    for p in SEED_PROJECTS {
        let dir = env.repo.join(p);
        let dotenv = py(
            &env,
            "import sys; from dotenv import dotenv_values; print(dotenv_values(sys.argv[1])['HF_CACHE_DIR'])",
            &[dir.join(".env.example").to_str().unwrap()],
            &[],
        );
        assert_eq!(dotenv.trim(), central);
        assert!(
            fs::read_to_string(dir.join(".env.example"))
                .unwrap()
                .starts_with("PORT=8000\n")
        );
        let load = "import importlib.util, sys; s = importlib.util.spec_from_file_location('c', sys.argv[1]); m = importlib.util.module_from_spec(s); s.loader.exec_module(m); print(m.settings.hf_cache_dir)";
        let cfg = dir.join("backend/app/config.py");
        assert_eq!(
            py(&env, load, &[cfg.to_str().unwrap()], &[]).trim(),
            central
        );
        assert_eq!(
            py(
                &env,
                load,
                &[cfg.to_str().unwrap()],
                &[("HF_CACHE_DIR", "/override")]
            )
            .trim(),
            "/override"
        );
        assert_eq!(
            py(
                &env,
                load,
                &[cfg.to_str().unwrap()],
                &[("HF_HOME", "/elsewhere")]
            )
            .trim(),
            "/elsewhere/hub"
        );
        let text = fs::read_to_string(&cfg).unwrap();
        assert!(
            text.starts_with("\"\"\"Settings for the backend.\"\"\"\nimport os\n"),
            "{text}"
        );
        assert!(text.contains("    port: int = 8000\n"));
    }
    // A second --apply changes nothing.
    let after = env.snapshot();
    let again = migrate(&env, &["--apply", "--json"]);
    assert!(again.status.success());
    assert_eq!(
        common::changed(&env.snapshot(), &after),
        Vec::<PathBuf>::new(),
        "a second --apply changed something"
    );
}

#[test]
fn sigkill_at_any_point_then_rerun_loses_nothing_across_filesystems() {
    let shm = Path::new("/dev/shm");
    assert!(
        shm.is_dir(),
        "this test needs /dev/shm (tmpfs) as a second filesystem"
    );
    let mut kills = 0;
    for n in [1u64, 2, 3, 5, 8, 13, 21, 34, 55, 89] {
        let env = TestEnv::new();
        let models = seed_monorepo(&env.repo);
        // Removed when dropped, a failed assertion included.
        let central_dir = tempfile::Builder::new()
            .prefix("modelenv-central-")
            .tempdir_in(shm)
            .unwrap();
        let central: PathBuf = central_dir.path().to_path_buf();
        let hf = central.join("hf").display().to_string();
        let first = env
            .cmd(&["--hf-home", &hf, "migrate", "--apply"])
            .env("MODELENV_TEST_KILL_AFTER", n.to_string())
            .output()
            .unwrap();
        if common::killed(&first) {
            kills += 1;
        } else {
            assert!(
                first.status.success(),
                "step {n}: {}",
                common::stderr(&first)
            );
        }
        let second = env.run(&["--hf-home", &hf, "migrate", "--apply"]);
        assert!(
            second.status.success(),
            "rerun after a kill at step {n}: {}{}",
            common::stdout(&second),
            common::stderr(&second)
        );
        assert_all_central(&env, &central.join("hf/hub"), &models);
        drop(central_dir);
    }
    assert!(kills >= 5, "the kill hook fired only {kills} times");
}

#[test]
fn yaml_and_toml_cache_settings_are_rewritten() {
    let env = TestEnv::new();
    let dir = env.repo.join("tools/eval");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("config.yaml"),
        "# eval settings\nbatch_size: 8\ncache_dir: ./model_cache  # local\n",
    )
    .unwrap();
    fs::write(
        dir.join("settings.toml"),
        "[model]\nname = \"gpt2\"\nhf_cache_dir = \"./model_cache\"\n",
    )
    .unwrap();
    let out = migrate(&env, &["--apply"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let hub = env
        .home
        .join(".cache/huggingface/hub")
        .display()
        .to_string();
    let y = dir.join("config.yaml");
    let t = dir.join("settings.toml");
    let got = py(
        &env,
        "import sys, yaml, tomllib; print(yaml.safe_load(open(sys.argv[1]))['cache_dir']); print(tomllib.load(open(sys.argv[2], 'rb'))['model']['hf_cache_dir'])",
        &[y.to_str().unwrap(), t.to_str().unwrap()],
        &[],
    );
    assert_eq!(got, format!("{hub}\n{hub}\n"));
    let yaml = fs::read_to_string(&y).unwrap();
    assert!(
        yaml.starts_with("# eval settings\nbatch_size: 8\ncache_dir: "),
        "{yaml}"
    );
    assert!(yaml.ends_with("  # local\n"), "{yaml}");
}
