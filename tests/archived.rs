//! Archived models are marked as such in `usage` and `models ls`, their bytes are not the
//! store's, and a drive that is gone is "archive offline", not corruption.
// Tests build the situations they check on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;

use common::TestEnv;
use common::fixtures::{Hub, commit, lfs};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn archived_models_are_marked_and_an_unplugged_drive_is_offline_not_corrupt() {
    let env = TestEnv::new();
    let hub = env.home.join(".cache/huggingface/hub");
    for (id, data) in [
        ("o/kept", &b"stays local"[..]),
        ("o/old", &b"goes to the drive"[..]),
    ] {
        let r = Hub::new(&hub).repo("model", id);
        r.snapshot(&commit(id), &[lfs("w.safetensors", data)]);
        r.git_ref("main", &commit(id));
    }
    let bytes = |u: &Value| u["stores"][0]["bytes"].as_u64().unwrap();
    let before = bytes(&json(&env.ok(&["usage", "--json"])));
    let drive = env.tmp.path().join("drive");
    env.ok(&[
        "models",
        "archive",
        "hf-hub:o/old",
        "--to",
        drive.to_str().unwrap(),
    ]);

    let usage = json(&env.ok(&["usage", "--json"]));
    let old = usage["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "o/old")
        .unwrap();
    assert_eq!(old["archived"]["online"], true, "{old}");
    assert_eq!(
        old["archived"]["at"],
        drive.join("models--o--old").to_str().unwrap()
    );
    // The store's bytes are what is on its disk: the archived weights are not.
    assert!(
        bytes(&usage) + b"goes to the drive".len() as u64 <= before,
        "{before} -> {}",
        bytes(&usage)
    );
    let ls = common::stdout(&env.ok(&["models", "ls"]));
    assert!(ls.contains("o/old [archived]"), "{ls}");

    // The drive is unplugged.
    fs::rename(&drive, env.tmp.path().join("elsewhere")).unwrap();
    let out = env.ok(&["usage", "--json"]);
    let usage = json(&out);
    let old = usage["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "o/old")
        .expect("an offline archive is still listed");
    assert_eq!(old["archived"]["online"], false);
    let warnings = usage["warnings"].to_string();
    assert!(
        warnings.contains("archive offline") && !warnings.contains("corrupt"),
        "{warnings}"
    );
    let ls = common::stdout(&env.ok(&["models", "ls"]));
    assert!(ls.contains("o/old [archive offline]"), "{ls}");
}
