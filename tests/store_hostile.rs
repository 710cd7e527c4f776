//! prune, rm and archive against hostile but realistic stores: each test builds the situation
//! that once lost data and checks that what another model needs is still there.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::os::unix::fs::symlink;

use common::TestEnv;
use common::fixtures::{self, Hub, commit, lfs};

#[test]
fn prune_keeps_another_repos_blob_that_a_detached_revision_links_to() {
    let env = TestEnv::new();
    let hub = Hub::new(&env.home.join(".cache/huggingface/hub"));
    let y = hub.repo("model", "o/Y");
    y.snapshot(&commit("y"), &[lfs("model.safetensors", b"Y weights")]);
    y.git_ref("main", &commit("y"));
    let x = hub.repo("model", "o/X");
    x.snapshot(&commit("x"), &[lfs("model.safetensors", b"X weights")]);
    x.git_ref("main", &commit("x"));
    // A detached revision of X whose file is a link into Y's blobs (a hand-made dedupe).
    let detached = x.path.join("snapshots").join(commit("old"));
    fs::create_dir_all(&detached).unwrap();
    let y_blob = format!(
        "../../../models--o--Y/blobs/{}",
        fixtures::sha256_hex(b"Y weights")
    );
    symlink(&y_blob, detached.join("model.safetensors")).unwrap();
    env.ok(&["prune", "--apply"]);
    let y_file = y
        .path
        .join("snapshots")
        .join(commit("y"))
        .join("model.safetensors");
    assert_eq!(fs::read(&y_file).unwrap(), b"Y weights", "Y lost its blob");
}

#[test]
fn archive_refuses_a_destination_inside_a_store() {
    let env = TestEnv::new();
    let hub_dir = env.home.join(".cache/huggingface/hub");
    let hub = Hub::new(&hub_dir);
    for id in ["o/z", "o/w"] {
        let r = hub.repo("model", id);
        r.snapshot(&commit(id), &[lfs("model.safetensors", id.as_bytes())]);
        r.git_ref("main", &commit(id));
    }
    let to = hub_dir.join("models--o--w/archive");
    let out = env.run(&[
        "models",
        "archive",
        "hf-hub:o/z",
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("inside the model store"));
    assert!(hub_dir.join("models--o--z").is_dir());
    assert!(!to.exists());
}
