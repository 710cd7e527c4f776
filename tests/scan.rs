//! `modelenv scan` on a monorepo like the seed's: four projects with their own model caches.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;

use common::TestEnv;
use common::fixtures::{SEED_PROJECTS as PROJECTS, seed_monorepo};
use serde_json::Value;

#[test]
fn scan_finds_every_local_cache_and_config_and_the_savings() {
    let env = TestEnv::new();
    seed_monorepo(&env.repo);
    // Things scan must not enter or report.
    fs::create_dir_all(env.repo.join("node_modules/x/model_cache")).unwrap();
    fs::create_dir_all(env.repo.join(".venv")).unwrap();
    fs::write(env.repo.join(".venv/pyvenv.cfg"), "home = /usr\n").unwrap();
    fs::create_dir_all(env.repo.join(".venv/model_cache")).unwrap();

    let before = env.snapshot();
    let out = env.ok(&["scan", "--json"]);
    assert_eq!(env.snapshot(), before, "scan changed something");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let caches = v["caches"].as_array().unwrap();
    let mut paths: Vec<String> = caches
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_owned())
        .collect();
    paths.sort();
    let mut want: Vec<String> = PROJECTS
        .iter()
        .map(|p| env.repo.join(p).join("model_cache").display().to_string())
        .collect();
    want.sort();
    assert_eq!(paths, want);
    for c in caches {
        let models: Vec<&str> = c["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        assert_eq!(models.len(), 2, "{c}");
        assert!(models.contains(&"model:org/shared-model"), "{c}");
        let p = std::path::Path::new(c["path"].as_str().unwrap());
        assert_eq!(
            c["bytes"].as_u64().unwrap(),
            modelenv::scan_size(p),
            "{p:?}"
        );
    }
    assert_eq!(
        v["configs"].as_array().unwrap().len(),
        8,
        "{:#}",
        v["configs"]
    );
    // Three of the four copies of the shared model (weights, config.json, vocab.json) are
    // redundant.
    assert_eq!(
        v["reclaimable_bytes"].as_u64().unwrap(),
        3 * (200_000 + 22 + 8)
    );
    let human = common::stdout(&env.ok(&["scan"]));
    assert!(human.contains("Savings:"), "{human}");
}
