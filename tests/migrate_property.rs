//! Property: over randomly generated project caches (repo folders sharing content, the
//! user's own files inside them and loose beside them, a damaged local blob, a link out of the
//! cache to the user's folder, a second project's cache holding the same repo, a central
//! store that already holds some of it, intact or damaged) and a kill after any change followed by a rerun, `migrate --apply` loses nothing:
//! every content that was on disk before (project, central store, the folder a link leads to)
//! is still on disk after, in the project, the central store or CUSTOM_MODEL_DIR; the folder
//! outside is untouched; and the central store has no dangling snapshot link.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::TestEnv;
use common::fixtures::{Hub, commit, lfs, sha256_hex};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Central {
    /// The central store does not have the repo.
    Absent,
    /// It holds the repo's first file with the same content.
    Same,
    /// It holds a blob of that name and size whose content rotted.
    Damaged,
}

#[derive(Clone, Debug)]
struct RepoSpec {
    /// The files of its one revision: indexes into the content pool.
    files: Vec<u8>,
    /// A file of the user's inside the repo folder (an adapter, notes).
    user_file: bool,
    /// Its first blob's content rotted (same name and size).
    damaged_local: bool,
    central: Central,
}

#[derive(Clone, Debug)]
struct Case {
    repos: Vec<RepoSpec>,
    /// Loose weight files beside the repo folders.
    loose: Vec<u8>,
    /// A link inside the cache to a folder of the user's outside it.
    link_out: bool,
    /// Kill the first run after this many changes, then run again.
    kill: Option<u64>,
    /// A second project's cache with the first repo again (same commit), its first blob
    /// rotted or not.
    second: Option<bool>,
}

fn repo_spec() -> impl Strategy<Value = RepoSpec> {
    (
        prop::collection::vec(0u8..6, 1..4),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop_oneof![
            3 => Just(Central::Absent),
            2 => Just(Central::Same),
            1 => Just(Central::Damaged),
        ],
    )
        .prop_map(|(files, user_file, damaged_local, central)| RepoSpec {
            files,
            user_file,
            damaged_local,
            central,
        })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(repo_spec(), 1..4),
        prop::collection::vec(0u8..6, 0..3),
        prop::bool::weighted(0.2),
        prop::option::of(1u64..25),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(repos, loose, link_out, kill, second)| Case {
            repos,
            loose,
            link_out,
            kill,
            second,
        })
}

fn content(i: u8) -> Vec<u8> {
    format!("weights {i} ")
        .repeat(40 + 7 * i as usize)
        .into_bytes()
}

/// The same length as `data`, other bytes: what bit rot leaves.
fn rotted(data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    d[0] ^= 0xff;
    d
}

/// Every regular file below `dir` (links not followed): path → sha256 of its bytes.
fn contents(dir: &Path) -> BTreeMap<PathBuf, String> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let data = fs::read(e.path()).unwrap();
            (e.path().to_path_buf(), sha256_hex(&data))
        })
        .collect()
}

fn build(env: &TestEnv, case: &Case, outside: &Path) {
    let mc = env.repo.join("model_cache");
    let project = Hub::new(&mc);
    let central = Hub::new(&env.home.join(".cache/huggingface/hub"));
    for (r, spec) in case.repos.iter().enumerate() {
        let id = format!("org/m{r}");
        let repo = project.repo("model", &id);
        let names: Vec<String> = (0..spec.files.len())
            .map(|i| format!("f{i}.safetensors"))
            .collect();
        let datas: Vec<Vec<u8>> = spec.files.iter().map(|&i| content(i)).collect();
        let files: Vec<_> = names.iter().zip(&datas).map(|(n, d)| lfs(n, d)).collect();
        let c = commit(&format!("rev {r}"));
        repo.snapshot(&c, &files);
        repo.git_ref("main", &c);
        let first = repo.path.join("blobs").join(sha256_hex(&datas[0]));
        if spec.damaged_local {
            fs::write(&first, rotted(&datas[0])).unwrap();
        }
        if spec.user_file {
            let f = repo.path.join("finetune/adapter_model.safetensors");
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(f, format!("the user's adapter {r}")).unwrap();
        }
        match spec.central {
            Central::Absent => {}
            Central::Same | Central::Damaged => {
                let crepo = central.repo("model", &id);
                crepo.snapshot(&c, &files[..1]);
                crepo.git_ref("main", &c);
                if matches!(spec.central, Central::Damaged) {
                    let blob = crepo.path.join("blobs").join(sha256_hex(&datas[0]));
                    fs::write(blob, rotted(&datas[0])).unwrap();
                }
            }
        }
    }
    if let Some(rot) = case.second {
        let spec = &case.repos[0];
        let repo = Hub::new(&env.repo.join("second/model_cache")).repo("model", "org/m0");
        let datas: Vec<Vec<u8>> = spec.files.iter().map(|&i| content(i)).collect();
        let names: Vec<String> = (0..datas.len())
            .map(|i| format!("f{i}.safetensors"))
            .collect();
        let files: Vec<_> = names.iter().zip(&datas).map(|(n, d)| lfs(n, d)).collect();
        let c = commit("rev 0");
        repo.snapshot(&c, &files);
        repo.git_ref("main", &c);
        if rot {
            let first = repo.path.join("blobs").join(sha256_hex(&datas[0]));
            fs::write(first, rotted(&datas[0])).unwrap();
        }
    }
    for (k, &i) in case.loose.iter().enumerate() {
        fs::write(mc.join(format!("loose-{k}.safetensors")), content(i)).unwrap();
    }
    fs::create_dir_all(outside).unwrap();
    fs::write(outside.join("mine.txt"), "the user's own file").unwrap();
    if case.link_out {
        symlink(outside, mc.join("models--org--m0/my-folder")).unwrap();
    }
}

/// Snapshot links in the hub cache that lead nowhere.
fn dangling(hub: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(hub)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| e.path_is_symlink() && fs::metadata(e.path()).is_err())
        .map(|e| e.path().to_path_buf())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn migrate_loses_no_content_whatever_the_caches_hold(case in case()) {
        let env = TestEnv::new();
        let outside = env.tmp.path().join("outside");
        build(&env, &case, &outside);
        let hub = env.home.join(".cache/huggingface/hub");
        let custom = env.home.join("models");
        let seen = |dirs: &[&Path]| -> BTreeSet<String> {
            dirs.iter().flat_map(|d| contents(d).into_values()).collect()
        };
        let before = seen(&[&env.repo, &hub, &outside]);
        let outside_before = contents(&outside);

        let mut killed = false;
        if let Some(n) = case.kill {
            let out = env
                .cmd(&["migrate", "--apply"])
                .env("MODELENV_TEST_KILL_AFTER", n.to_string())
                .output()
                .unwrap();
            killed = common::killed(&out);
            prop_assert!(killed || out.status.code().is_some_and(|c| c <= 1), "{}", common::stderr(&out));
        }
        let out = env.run(&["migrate", "--apply"]);
        prop_assert!(out.status.code().is_some_and(|c| c <= 1), "killed first: {killed}\n{}", common::stderr(&out));

        let after = seen(&[&env.repo, &hub, &custom, &outside]);
        let lost: Vec<&String> = before.difference(&after).collect();
        prop_assert!(lost.is_empty(), "contents lost: {lost:?}\n{}", common::stderr(&out));
        prop_assert_eq!(contents(&outside), outside_before);
        prop_assert_eq!(dangling(&hub), Vec::<PathBuf>::new());
    }
}
