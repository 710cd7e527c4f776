//! Property: over randomly generated hub caches (revisions sharing blobs, refs or none,
//! links into other repos' blobs, links out of the store to user files, unfinished downloads,
//! orphans, everything old), `prune --apply` and `models rm` never break a revision that a ref
//! names or that a pinned repo holds, in any repo, and never touch a file outside the store.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::TestEnv;
use common::fixtures::{Hub, commit, lfs, sha256_hex};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct RepoSpec {
    /// Each revision's files: an index into the content pool.
    revisions: Vec<Vec<u8>>,
    /// The revision `main` names; `None`: a repo with no ref (downloaded by commit).
    main: Option<usize>,
    /// Link the first file of the last revision into the previous repo's blobs.
    cross_link: bool,
    /// A file of the last revision that links out of the store to a user file.
    link_out: bool,
    orphan: bool,
    incomplete: bool,
}

fn repo_spec() -> impl Strategy<Value = RepoSpec> {
    (
        prop::collection::vec(prop::collection::vec(0u8..5, 1..3), 1..4),
        prop::option::of(0usize..3),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(revisions, main, cross_link, link_out, orphan, incomplete)| {
                let main = main.map(|m| m % revisions.len());
                RepoSpec {
                    revisions,
                    main,
                    cross_link,
                    link_out,
                    orphan,
                    incomplete,
                }
            },
        )
}

fn content(i: u8) -> Vec<u8> {
    format!("content {i} ").repeat(50 + i as usize).into_bytes()
}

fn age_all(dir: &Path) {
    let t =
        filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - 86_400, 0);
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        let _ = filetime::set_symlink_file_times(e.path(), t, t);
    }
}

/// Builds the store; returns what must survive: every file of every protected revision with
/// the bytes it resolves to, and the user's files outside the store.
fn build(env: &TestEnv, specs: &[RepoSpec]) -> BTreeMap<PathBuf, Vec<u8>> {
    let hub_dir = env.home.join(".cache/huggingface/hub");
    let hub = Hub::new(&hub_dir);
    let user = env.home.join("my-files");
    fs::create_dir_all(&user).unwrap();
    let mut keep = BTreeMap::new();
    let mut prev: Option<PathBuf> = None;
    for (r, spec) in specs.iter().enumerate() {
        let repo = hub.repo("model", &format!("org/m{r}"));
        let last = spec.revisions.len() - 1;
        for (v, files) in spec.revisions.iter().enumerate() {
            let c = commit(&format!("{r}-{v}"));
            let names: Vec<String> = (0..files.len()).map(|i| format!("f{i}.bin")).collect();
            let datas: Vec<Vec<u8>> = files.iter().map(|&i| content(i)).collect();
            let fs_: Vec<_> = names.iter().zip(&datas).map(|(n, d)| lfs(n, d)).collect();
            let snap = repo.snapshot(&c, &fs_);
            if v == last {
                if spec.cross_link
                    && let Some(p) = &prev
                {
                    // Into the previous repo's blobs: its first blob, by name.
                    let blob = fs::read_dir(p.join("blobs"))
                        .unwrap()
                        .flatten()
                        .map(|e| e.file_name().into_string().unwrap())
                        .find(|n| n.len() == 64)
                        .unwrap();
                    let from_repo = p.file_name().unwrap().to_str().unwrap();
                    symlink(
                        format!("../../../{from_repo}/blobs/{blob}"),
                        snap.join("cross.bin"),
                    )
                    .unwrap();
                }
                if spec.link_out {
                    let f = user.join(format!("notes-{r}.txt"));
                    fs::write(&f, format!("user notes {r}")).unwrap();
                    symlink(&f, snap.join("notes.txt")).unwrap();
                }
            }
        }
        if let Some(m) = spec.main {
            repo.git_ref("main", &commit(&format!("{r}-{m}")));
        }
        if spec.orphan {
            fs::write(
                repo.path
                    .join("blobs")
                    .join(sha256_hex(format!("orphan {r}").as_bytes())),
                format!("orphan {r}"),
            )
            .unwrap();
        }
        if spec.incomplete {
            repo.incomplete(format!("partial {r}").as_bytes());
        }
        // Protected: the revision main names, or every revision of a repo with no ref.
        for (v, _) in spec.revisions.iter().enumerate() {
            if spec.main.is_none_or(|m| m == v) {
                let snap = repo
                    .path
                    .join("snapshots")
                    .join(commit(&format!("{r}-{v}")));
                for e in walkdir::WalkDir::new(&snap).into_iter().flatten() {
                    if !e.file_type().is_dir() {
                        keep.insert(e.path().to_path_buf(), fs::read(e.path()).unwrap());
                    }
                }
            }
        }
        prev = Some(repo.path.clone());
    }
    for e in walkdir::WalkDir::new(&user).into_iter().flatten() {
        if e.file_type().is_file() {
            keep.insert(e.path().to_path_buf(), fs::read(e.path()).unwrap());
        }
    }
    age_all(&env.home);
    keep
}

/// huggingface_hub's own view: `scan_cache_dir`'s warnings, and for each protected snapshot
/// file whether `try_to_load_from_cache` still finds it with its bytes (sha256).
fn library_view(hub: &Path, keep: &BTreeMap<PathBuf, Vec<u8>>, skip_repo: Option<&str>) -> String {
    let mut wanted = Vec::new();
    for (p, bytes) in keep {
        let Ok(rel) = p.strip_prefix(hub) else {
            continue;
        };
        let parts: Vec<String> = rel
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        if skip_repo.is_some_and(|r| parts[0] == r) {
            continue;
        }
        let repo = parts[0].trim_start_matches("models--").replace("--", "/");
        wanted.push(serde_json::json!({
            "repo": repo, "rev": parts[2], "file": parts[3..].join("/"),
            "sha": sha256_hex(bytes),
        }));
    }
    let script = r#"
import hashlib, json, sys
from huggingface_hub import scan_cache_dir, try_to_load_from_cache
hub, wanted = sys.argv[1], json.loads(sys.stdin.read())
bad = []
for w in wanted:
    p = try_to_load_from_cache(w["repo"], w["file"], cache_dir=hub, revision=w["rev"])
    if not isinstance(p, str) or hashlib.sha256(open(p, "rb").read()).hexdigest() != w["sha"]:
        bad.append(f"{w['repo']}@{w['rev'][:8]}/{w['file']} does not load")
print(json.dumps({"bad": bad, "warnings": sorted(str(x) for x in scan_cache_dir(hub).warnings)}))
"#;
    let mut child = std::process::Command::new(common::python())
        .args(["-c", script, hub.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        serde_json::to_string(&wanted).unwrap().as_bytes(),
    )
    .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn assert_kept(keep: &BTreeMap<PathBuf, Vec<u8>>, skip_repo: Option<&str>) {
    for (p, bytes) in keep {
        if skip_repo.is_some_and(|r| p.to_string_lossy().contains(&format!("/{r}/"))) {
            continue;
        }
        assert_eq!(
            fs::read(p).ok().as_ref(),
            Some(bytes),
            "{} no longer holds its bytes",
            p.display()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn prune_and_rm_keep_every_protected_revision(
        specs in prop::collection::vec(repo_spec(), 1..4),
        rm in 0usize..4,
    ) {
        let env = TestEnv::new();
        let keep = build(&env, &specs);
        let hub = env.home.join(".cache/huggingface/hub");
        let before: serde_json::Value =
            serde_json::from_str(&library_view(&hub, &keep, None)).unwrap();
        prop_assert_eq!(&before["bad"], &serde_json::json!([]), "the fixture does not load");
        let out = env.run(&["prune", "--apply"]);
        prop_assert!(out.status.success(), "{}", common::stderr(&out));
        assert_kept(&keep, None);
        // huggingface_hub still loads every protected file and sees no new problem.
        let after: serde_json::Value =
            serde_json::from_str(&library_view(&hub, &keep, None)).unwrap();
        prop_assert_eq!(&after["bad"], &serde_json::json!([]));
        prop_assert_eq!(&after["warnings"], &before["warnings"]);
        // Removing one repo breaks no other repo (it is refused if another still needs it).
        let rm = rm % specs.len();
        let id = format!("hf-hub:org/m{rm}");
        let out = env.run(&["models", "rm", &id, "--yes"]);
        prop_assert!(matches!(out.status.code(), Some(0 | 2)), "{}", common::stderr(&out));
        let removed = out.status.success().then(|| format!("models--org--m{rm}"));
        assert_kept(&keep, removed.as_deref());
    }
}
