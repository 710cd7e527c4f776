//! dedupe: the same GGUF in Ollama and LM Studio becomes one file.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::TestEnv;
use common::fixtures::{self, Ollama};
use serde_json::Value;

#[test]
fn identical_copies_become_hard_links_of_the_ollama_blob() {
    let env = TestEnv::new();
    let gguf = vec![42u8; 300_000];
    let o = Ollama::new(&env.home.join(".ollama/models"));
    o.library("qwen", "latest", b"{}", &[(fixtures::MODEL, &gguf)]);
    let blob = o
        .root
        .join("blobs")
        .join(format!("sha256-{}", fixtures::sha256_hex(&gguf)));
    let lm = env
        .home
        .join(".lmstudio/models/Qwen/Qwen-GGUF/qwen.Q4.gguf");
    fs::create_dir_all(lm.parent().unwrap()).unwrap();
    fs::write(&lm, &gguf).unwrap();
    let custom = env.home.join("models/qwen.gguf");
    fs::create_dir_all(custom.parent().unwrap()).unwrap();
    fs::write(&custom, &gguf).unwrap();
    let blobs_before: Vec<_> = fs::read_dir(o.root.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();

    let before = env.snapshot();
    let dry: Value = serde_json::from_slice(&env.ok(&["dedupe", "--json"]).stdout).unwrap();
    assert_eq!(
        common::changed(
            &common::user_files(&env.snapshot()),
            &common::user_files(&before)
        ),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(dry["freed_bytes"], 2 * 300_000);
    assert_eq!(dry["groups"][0]["keep"], blob.display().to_string());

    let applied: Value =
        serde_json::from_slice(&env.ok(&["dedupe", "--apply", "--json"]).stdout).unwrap();
    assert_eq!(applied["freed_bytes"], 2 * 300_000);
    let ino = |p: &std::path::Path| fs::metadata(p).unwrap().ino();
    assert_eq!(ino(&lm), ino(&blob));
    assert_eq!(ino(&custom), ino(&blob));
    assert_eq!(fs::read(&lm).unwrap(), gguf);
    let blobs_after: Vec<_> = fs::read_dir(o.root.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        blobs_before, blobs_after,
        "Ollama's blobs/ gained or lost a name"
    );
    // Now stored once: usage finds no duplicate content left.
    let usage: Value =
        serde_json::from_slice(&env.ok(&["usage", "--json", "--no-hash-cache"]).stdout).unwrap();
    assert_eq!(usage["reclaimable"]["duplicate_bytes"], 0);
    // And a second run has nothing to do.
    let again: Value =
        serde_json::from_slice(&env.ok(&["dedupe", "--apply", "--json"]).stdout).unwrap();
    assert_eq!(again["freed_bytes"], 0);
}
