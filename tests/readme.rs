//! The README's "first five minutes" run line by line on the seed's monorepo, as a new user
//! would type them: nothing is refused, every model ends up central and loadable, each stored
//! once, and the configs point at the central store.
// Tests build the situations they check on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::Path;
use std::process::Command;

use common::TestEnv;
use common::fixtures::seed_monorepo;

/// The commands of the fenced block under `heading`, comments dropped.
fn block_under(readme: &str, heading: &str) -> Vec<String> {
    let after = readme
        .split_once(heading)
        .unwrap_or_else(|| panic!("the README has no {heading:?}"))
        .1;
    let block = after
        .split_once("```sh\n")
        .expect("a shell block follows the heading")
        .1
        .split_once("```")
        .unwrap()
        .0;
    block
        .lines()
        .map(|l| l.split_once('#').map_or(l, |(c, _)| c).trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_first_five_minutes_work_on_the_seed_monorepo() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let lines = block_under(&readme, "## The first five minutes");
    assert!(lines.len() >= 6, "{lines:?}");
    let env = TestEnv::new();
    let models = seed_monorepo(&env.repo);
    let bin_dir = common::bin().parent().unwrap().to_path_buf();
    for line in &lines {
        assert!(
            line.starts_with("modelenv "),
            "not a modelenv command: {line}"
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(line)
            .env_clear()
            .env("HOME", &env.home)
            .env(
                "PATH",
                format!("{}:{}", bin_dir.display(), common::sys_path()),
            )
            .env("SHELL", "/bin/bash")
            .env("USER", "tester")
            .env("TERM", "dumb")
            .current_dir(&env.repo)
            .output()
            .unwrap();
        // Reports may exit 1 (they found something to fix); nothing may be refused.
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{line}: exit {:?}\n{}",
            out.status.code(),
            common::stderr(&out)
        );
    }
    // Every model is central and loads with the real huggingface_hub; no project cache is left.
    let hub = env.home.join(".cache/huggingface/hub");
    for (id, files) in &models {
        for (file, data) in files {
            let got = common::load_from_cache(&env, &hub, id, file);
            assert_eq!(got.as_deref(), Some(&data[..]), "{id} {file}");
        }
    }
    for p in common::fixtures::SEED_PROJECTS {
        assert!(
            !env.repo.join(p).join("model_cache").exists(),
            "{p} kept its cache"
        );
        let cfg = std::fs::read_to_string(env.repo.join(p).join(".env.example")).unwrap();
        assert!(!cfg.contains("./model_cache"), "{p}: {cfg}");
    }
    let bashrc = std::fs::read_to_string(env.home.join(".bashrc")).unwrap_or_default();
    let profile = std::fs::read_to_string(env.home.join(".profile")).unwrap_or_default();
    assert!(bashrc.contains("HF_HOME") || profile.contains("HF_HOME"));
}
