//! `usage` and `models ls` on stores built in their real layouts, checked against
//! huggingface_hub's own `scan_cache_dir`.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::fixtures::{self, Hub, Ollama, commit, git, lfs};
use common::{TestEnv, python};
use serde_json::Value;

/// huggingface_hub's view of a cache: sizes per repo and revision, warnings, and what
/// `hf cache prune` would free from detached revisions.
fn hf_scan(cache: &Path) -> Value {
    let script = r#"
import json, sys
from huggingface_hub import scan_cache_dir
info = scan_cache_dir(sys.argv[1])
detached = [r.commit_hash for repo in info.repos for r in repo.revisions if not r.refs]
out = {
  "repos": {f"{r.repo_type}/{r.repo_id}": {
      "size": r.size_on_disk, "nb_files": r.nb_files,
      "revisions": {v.commit_hash: {"size": v.size_on_disk, "refs": sorted(v.refs)} for v in r.revisions},
  } for r in info.repos},
  "warnings": [str(w) for w in info.warnings],
  "detached_freed": info.delete_revisions(*detached).expected_freed_size if detached else 0,
}
print(json.dumps(out))
"#;
    let out = Command::new(python())
        .args(["-c", script])
        .arg(cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scan_cache_dir failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn usage_json(env: &TestEnv, extra: &[&str]) -> Value {
    let mut args = vec!["usage", "--json", "--no-hash-cache"];
    args.extend_from_slice(extra);
    let out = env.ok(&args);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn hub_path(env: &TestEnv) -> std::path::PathBuf {
    env.home.join(".cache/huggingface/hub")
}

/// A hub cache with every feature of the layout: revisions, a detached one, subfolders,
/// a PR ref, datasets and spaces, an `.incomplete` download, the no-symlink layout,
/// `.no_exist` markers, and a blob shared by two revisions.
fn rich_hub(root: &Path) {
    let hub = Hub::new(root);
    let weights_v1 = vec![1u8; 300_000];
    let weights_v2 = vec![2u8; 310_000];
    let r = hub.repo("model", "org/llama-mini");
    let c1 = commit("llama v1");
    let c2 = commit("llama v2");
    r.snapshot(
        &c1,
        &[
            git("config.json", b"{\"v\":1}"),
            lfs("model.safetensors", &weights_v1),
            git("tokenizer.json", b"{}"),
        ],
    );
    r.snapshot(
        &c2,
        &[
            git("config.json", b"{\"v\":2}"),
            lfs("model.safetensors", &weights_v2),
            git("tokenizer.json", b"{}"),
            lfs("onnx/model.onnx", &[3u8; 50_000]),
        ],
    );
    r.git_ref("main", &c2);
    r.git_ref("refs/pr/1", &c2);
    r.incomplete(&[9u8; 12_345]);
    r.no_exist(&c2, "generation_config.json");

    let d = hub.repo("dataset", "org/squad-mini");
    let cd = commit("squad");
    d.snapshot(
        &cd,
        &[
            git("README.md", b"# squad"),
            lfs("data/train-00000.parquet", &[4u8; 70_000]),
        ],
    );
    d.git_ref("main", &cd);

    let s = hub.repo("space", "org/demo");
    let cs = commit("space");
    s.snapshot(&cs, &[git("app.py", b"print('hi')")]);
    s.git_ref("main", &cs);

    let n = hub.repo("model", "org/no-symlinks");
    let cn = commit("nosym");
    n.snapshot_no_symlinks(
        &cn,
        &[
            git("config.json", b"{}"),
            lfs("pytorch_model.bin", &[5u8; 80_000]),
        ],
    );
    n.git_ref("main", &cn);

    // huggingface_hub 2.4 knows a fourth repo type, `kernels--`.
    let k = hub.repo("kernel", "org/flash-kernel");
    let ck = commit("kernel");
    k.snapshot(&ck, &[lfs("build/kernel.so", &[6u8; 20_000])]);
    k.git_ref("main", &ck);
}

#[test]
fn hub_sizes_agree_with_scan_cache_dir_repo_by_repo() {
    let env = TestEnv::new();
    let cache = hub_path(&env);
    rich_hub(&cache);
    let hf = hf_scan(&cache);
    assert_eq!(
        hf["warnings"],
        serde_json::json!([]),
        "the fixture is not a valid cache"
    );
    let ours = usage_json(&env, &["--store", "hf-hub"]);
    let models = ours["models"].as_array().unwrap();
    assert_eq!(models.len(), hf["repos"].as_object().unwrap().len());
    for m in models {
        let key = format!(
            "{}/{}",
            m["type"].as_str().unwrap(),
            m["id"].as_str().unwrap()
        );
        let theirs = &hf["repos"][&key];
        assert_eq!(m["bytes"], theirs["size"], "{key}");
        assert_eq!(m["files"], theirs["nb_files"], "{key}");
        for rev in m["revisions"].as_array().unwrap() {
            let c = rev["commit"].as_str().unwrap();
            assert_eq!(rev["bytes"], theirs["revisions"][c]["size"], "{key}@{c}");
            assert_eq!(rev["refs"], theirs["revisions"][c]["refs"], "{key}@{c}");
        }
    }
    assert_eq!(ours["reclaimable"]["detached_bytes"], hf["detached_freed"]);
    assert_eq!(ours["reclaimable"]["incomplete_bytes"], 12_345);
    assert_eq!(ours["warnings"], serde_json::json!([]));
    // The largest first.
    let sizes: Vec<u64> = models
        .iter()
        .map(|m| m["bytes"].as_u64().unwrap())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
}

#[test]
fn shared_blob_store_is_followed_but_never_a_repo() {
    let env = TestEnv::new();
    let cache = hub_path(&env);
    let hub = Hub::new(&cache);
    let payload = vec![7u8; 40_000];
    let xet = fixtures::sha256_hex(&payload);
    let store = cache.join("blobs");
    fs::create_dir_all(store.join(&xet[..2])).unwrap();
    fs::write(store.join(".huggingface-shared-blobs"), "1\n").unwrap();
    fs::write(store.join(&xet[..2]).join(&xet), &payload).unwrap();
    for name in ["org/a", "org/b"] {
        let r = hub.repo("model", name);
        let c = commit(name);
        // blobs/<etag> → ../../blobs/<2hex>/<hash>, snapshot → ../../blobs/<etag>
        std::os::unix::fs::symlink(
            format!("../../blobs/{}/{xet}", &xet[..2]),
            r.path.join("blobs").join(&xet),
        )
        .unwrap();
        let snap = r.path.join("snapshots").join(&c);
        fs::create_dir_all(&snap).unwrap();
        std::os::unix::fs::symlink(format!("../../blobs/{xet}"), snap.join("model.safetensors"))
            .unwrap();
        r.git_ref("main", &c);
    }
    let hf = hf_scan(&cache);
    assert_eq!(hf["warnings"], serde_json::json!([]));
    let ours = usage_json(&env, &["--store", "hf-hub"]);
    let models = ours["models"].as_array().unwrap();
    assert_eq!(
        models.len(),
        2,
        "the shared store must not be listed as a repo: {models:?}"
    );
    for m in models {
        let key = format!("model/{}", m["id"].as_str().unwrap());
        assert_eq!(m["bytes"], hf["repos"][&key]["size"]);
    }
    // One payload on disk: stored once, so no duplicate and the store counts it once.
    assert_eq!(ours["reclaimable"]["duplicate_bytes"], 0);
    let store_bytes = ours["stores"][0]["bytes"].as_u64().unwrap();
    assert!(store_bytes < 2 * 40_000, "{store_bytes}");
}

#[test]
fn corrupt_entries_are_warnings_not_failures() {
    let env = TestEnv::new();
    let cache = hub_path(&env);
    let hub = Hub::new(&cache);
    let good = hub.repo("model", "org/good");
    let c = commit("good");
    good.snapshot(&c, &[lfs("w.bin", &[1u8; 1000])]);
    good.git_ref("main", &c);
    // No snapshots folder.
    fs::create_dir_all(cache.join("models--org--nosnap/blobs")).unwrap();
    // A broken symlink.
    let broken = hub.repo("model", "org/broken");
    let cb = commit("broken");
    fs::create_dir_all(broken.path.join("snapshots").join(&cb)).unwrap();
    std::os::unix::fs::symlink(
        "../../blobs/deadbeef",
        broken.path.join("snapshots").join(&cb).join("x.bin"),
    )
    .unwrap();
    // A ref to a missing snapshot.
    let dangling = hub.repo("model", "org/dangling");
    dangling.git_ref("main", &commit("nowhere"));
    // A file directly in snapshots/.
    let filey = hub.repo("model", "org/filey");
    fs::write(filey.path.join("snapshots/oops"), "x").unwrap();
    // A malformed Ollama manifest next to a valid one.
    let ollama = Ollama::new(&env.home.join(".ollama/models"));
    ollama.library("ok", "latest", b"{}", &[(fixtures::MODEL, b"weights")]);
    let bad = ollama
        .root
        .join("manifests/registry.ollama.ai/library/bad/latest");
    fs::create_dir_all(bad.parent().unwrap()).unwrap();
    fs::write(&bad, "{not json").unwrap();

    let hf = hf_scan(&cache);
    assert_eq!(
        hf["warnings"].as_array().unwrap().len(),
        4,
        "{}",
        hf["warnings"]
    );
    let out = env.ok(&["usage", "--json", "--store", "hf-hub", "--store", "ollama"]);
    let ours: Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings: Vec<&str> = ours["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    for needle in [
        "models--org--nosnap",
        "models--org--broken",
        "models--org--dangling",
        "models--org--filey",
        "bad/latest",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(needle)),
            "no warning for {needle}: {warnings:?}"
        );
    }
    let ids: Vec<&str> = ours["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&"org/good") && ids.contains(&"ok:latest"));
    // Warnings also reach stderr.
    assert!(common::stderr(&out).contains("malformed Ollama manifest"));
}

#[test]
fn ollama_names_and_sizes_follow_the_manifests() {
    let env = TestEnv::new();
    let o = Ollama::new(&env.home.join(".ollama/models"));
    let template = b"{{ .Prompt }}";
    let license = b"MIT License ...";
    o.library(
        "llama3.2",
        "latest",
        b"{\"arch\":\"llama\"}",
        &[
            (fixtures::MODEL, &[1u8; 90_000]),
            (fixtures::TEMPLATE, template),
            (fixtures::LICENSE, license),
        ],
    );
    o.library(
        "llama3.2",
        "1b",
        b"{\"arch\":\"llama\",\"s\":1}",
        &[
            (fixtures::MODEL, &[2u8; 40_000]),
            (fixtures::TEMPLATE, template),
            (fixtures::LICENSE, license),
        ],
    );
    o.model(
        "registry.ollama.ai",
        "jmorgan",
        "tiny",
        "q4",
        b"{}",
        &[(fixtures::MODEL, &[3u8; 1_000])],
    );
    o.model(
        "hf.co",
        "org",
        "gguf-model",
        "Q4_K_M",
        b"{\"x\":1}",
        &[(fixtures::MODEL, &[4u8; 2_000])],
    );
    let (_, orphan) = o.blob(&[5u8; 777]);
    fs::write(
        o.root
            .join("blobs")
            .join(format!("sha256-{}-partial", fixtures::sha256_hex(b"p"))),
        vec![0u8; 333],
    )
    .unwrap();
    let ours = usage_json(&env, &["--store", "ollama"]);
    let mut got: Vec<(String, u64)> = ours["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                m["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    // Expected from the manifests themselves: config.size + Σ layers.size.
    let mut want = Vec::new();
    for e in walkdir::WalkDir::new(o.root.join("manifests"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
    {
        let m: Value = serde_json::from_slice(&fs::read(e.path()).unwrap()).unwrap();
        let size = m["config"]["size"].as_u64().unwrap()
            + m["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["size"].as_u64().unwrap())
                .sum::<u64>();
        let rel: Vec<String> = e
            .path()
            .strip_prefix(o.root.join("manifests"))
            .unwrap()
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        let name = match (rel[0].as_str(), rel[1].as_str()) {
            ("registry.ollama.ai", "library") => format!("{}:{}", rel[2], rel[3]),
            ("registry.ollama.ai", ns) => format!("{ns}/{}:{}", rel[2], rel[3]),
            (h, ns) => format!("{h}/{ns}/{}:{}", rel[2], rel[3]),
        };
        want.push((name, size));
    }
    want.sort();
    assert_eq!(got, want);
    assert!(
        got.iter().any(|(n, _)| n == "llama3.2:latest")
            && got.iter().any(|(n, _)| n == "hf.co/org/gguf-model:Q4_K_M")
    );
    assert_eq!(
        ours["reclaimable"]["orphan_bytes"],
        fs::metadata(orphan).unwrap().len()
    );
    assert_eq!(ours["reclaimable"]["incomplete_bytes"], 333);
}

#[test]
fn duplicates_across_ollama_custom_and_lmstudio_are_found() {
    let env = TestEnv::new();
    let gguf = vec![42u8; 123_456];
    let o = Ollama::new(&env.home.join(".ollama/models"));
    o.library("qwen", "latest", b"{}", &[(fixtures::MODEL, &gguf)]);
    // The same GGUF in the custom dir, plus a hard link to it (one inode: not a second copy).
    let custom = env.home.join("models/qwen");
    fs::create_dir_all(&custom).unwrap();
    fs::write(custom.join("qwen-q4.gguf"), &gguf).unwrap();
    fs::hard_link(
        custom.join("qwen-q4.gguf"),
        env.home.join("models/qwen-link.gguf"),
    )
    .unwrap();
    // And in LM Studio, under another name.
    let lm = env.home.join(".lmstudio/models/Qwen/Qwen-GGUF");
    fs::create_dir_all(&lm).unwrap();
    fs::write(lm.join("qwen.Q4.gguf"), &gguf).unwrap();
    // Same size, different content: not a duplicate.
    let mut other = gguf.clone();
    other[0] = 0;
    fs::write(env.home.join("models/other.gguf"), &other).unwrap();
    let ours = usage_json(&env, &[]);
    let groups = ours["duplicates"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(
        groups[0]["content"],
        format!("sha256:{}", fixtures::sha256_hex(&gguf))
    );
    assert_eq!(groups[0]["copies"].as_array().unwrap().len(), 3);
    assert_eq!(ours["reclaimable"]["duplicate_bytes"], 2 * 123_456);
}

#[test]
fn hash_cache_is_reused() {
    let env = TestEnv::new();
    let data = vec![8u8; 5_000];
    for d in ["models/a", "models/b"] {
        fs::create_dir_all(env.home.join(d)).unwrap();
        fs::write(env.home.join(d).join("w.gguf"), &data).unwrap();
    }
    env.ok(&["usage", "--json"]);
    let cache = env.home.join(".cache/modelenv/hashes.json");
    let saved: Value = serde_json::from_slice(&fs::read(&cache).unwrap()).unwrap();
    assert_eq!(saved.as_object().unwrap().len(), 2);
    // A poisoned entry proves the second run reads the cache instead of the files.
    let poisoned: serde_json::Map<String, Value> = saved
        .as_object()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.clone(), Value::from(format!("fake{i}"))))
        .collect();
    fs::write(&cache, serde_json::to_vec(&poisoned).unwrap()).unwrap();
    let v: Value = serde_json::from_slice(&env.ok(&["usage", "--json"]).stdout).unwrap();
    assert_eq!(
        v["reclaimable"]["duplicate_bytes"], 0,
        "the cache was not used"
    );
    let v: Value =
        serde_json::from_slice(&env.ok(&["usage", "--json", "--no-hash-cache"]).stdout).unwrap();
    assert_eq!(v["reclaimable"]["duplicate_bytes"], 5_000);
}

#[test]
fn top_sort_and_filters() {
    let env = TestEnv::new();
    let cache = hub_path(&env);
    rich_hub(&cache);
    let o = Ollama::new(&env.home.join(".ollama/models"));
    o.library(
        "big",
        "latest",
        b"{}",
        &[(fixtures::MODEL, &[1u8; 900_000])],
    );
    // Make one model look untouched for 60 days.
    let old = filetime::FileTime::from_unix_time(
        filetime::FileTime::now().unix_seconds() - 60 * 86_400,
        0,
    );
    for e in walkdir::WalkDir::new(cache.join("datasets--org--squad-mini/blobs"))
        .into_iter()
        .flatten()
    {
        filetime::set_file_times(e.path(), old, old).unwrap();
    }
    let top: Value =
        serde_json::from_slice(&env.ok(&["usage", "--json", "--top", "2"]).stdout).unwrap();
    let ids: Vec<&str> = top["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["big:latest", "org/llama-mini"]);
    assert_eq!(top["total_models"], 6);

    let ls = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["models", "ls", "--json"];
        a.extend_from_slice(args);
        let v: Value = serde_json::from_slice(&env.ok(&a).stdout).unwrap();
        v["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{}:{}",
                    m["store"].as_str().unwrap(),
                    m["id"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(ls(&["--filter", "store=ollama"]), ["ollama:big:latest"]);
    assert_eq!(
        ls(&["--filter", "size>500KB"]),
        ["ollama:big:latest", "hf-hub:org/llama-mini"]
    );
    assert_eq!(ls(&["--filter", "accessed>30d"]), ["hf-hub:org/squad-mini"]);
    assert_eq!(ls(&["--filter", "type=space"]), ["hf-hub:org/demo"]);
    assert_eq!(
        ls(&["--filter", "refs=refs/pr/1"]),
        ["hf-hub:org/llama-mini"]
    );
    assert_eq!(
        ls(&["--filter", "id=org/*", "--filter", "size<10KB"]),
        ["hf-hub:org/demo"]
    );
    assert_eq!(
        ls(&["--sort", "name", "--limit", "2"]),
        ["ollama:big:latest", "hf-hub:org/demo"]
    );
    assert_eq!(
        ls(&["--sort", "size:asc", "--limit", "1"]),
        ["hf-hub:org/demo"]
    );
    let bad = env.run(&["models", "ls", "--filter", "color=red"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(common::stderr(&bad).contains("unknown filter key `color`"));
}

#[test]
fn human_output_names_the_reclaim_commands() {
    let env = TestEnv::new();
    rich_hub(&hub_path(&env));
    let out = common::stdout(&env.ok(&["usage"]));
    assert!(out.contains("org/llama-mini"), "{out}");
    assert!(out.contains("modelenv prune --apply"), "{out}");
    assert!(out.contains("decimal units"), "{out}");
}

#[test]
fn no_store_at_all_is_said_plainly_not_an_error() {
    // A fresh machine: nothing downloaded yet is a state, not a failure.
    let env = TestEnv::new();
    let out = env.run(&["usage"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(
        !common::stderr(&out).contains("error"),
        "{}",
        common::stderr(&out)
    );
    assert!(common::stdout(&out).contains("No model store exists yet"));
}

/// HF_HOME inside the custom folder (`~/models/hf` with `CUSTOM_MODEL_DIR=~/models`, a
/// symlink spelling of it too): the hub cache is counted once, as itself, and its weights are
/// neither custom models nor duplicates of themselves.
#[test]
fn a_hub_cache_inside_the_custom_folder_is_counted_once() {
    let env = TestEnv::new();
    fs::create_dir_all(env.home.join("models")).unwrap();
    std::os::unix::fs::symlink(env.home.join("models"), env.home.join("m")).unwrap();
    let (hf_home, custom_dir) = (env.home.join("m/hf"), env.home.join("models"));
    let env = env
        .with_env("HF_HOME", hf_home.to_str().unwrap())
        .with_env("CUSTOM_MODEL_DIR", custom_dir.to_str().unwrap());
    rich_hub(&env.home.join("models/hf/hub"));
    fs::create_dir_all(env.home.join("models/hf/datasets/x")).unwrap();
    fs::write(
        env.home.join("models/hf/datasets/x/data.arrow"),
        [8u8; 9_000],
    )
    .unwrap();
    let own = env.home.join("models/my-finetune");
    fs::create_dir_all(&own).unwrap();
    fs::write(own.join("config.json"), b"{\"mine\":1}").unwrap();
    fs::write(own.join("model.safetensors"), [7u8; 40_000]).unwrap();
    let ours = usage_json(&env, &[]);
    let store = |name: &str| {
        ours["stores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["store"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(store("custom")["bytes"], 40_010, "{ours:#}");
    assert_eq!(store("custom")["models"], 1);
    assert_eq!(store("hf-datasets")["bytes"], 9_000);
    let custom: Vec<&Value> = ours["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["store"] == "custom")
        .collect();
    assert_eq!(custom.len(), 1, "{custom:#?}");
    assert_eq!(custom[0]["id"], "my-finetune");
    // The hub's files are never its own duplicates by way of the custom folder.
    let via_custom = custom_dir.join("hf").to_string_lossy().into_owned();
    let dupes = ours["duplicates"].to_string();
    assert!(!dupes.contains(&via_custom), "{dupes}");
}

/// A link at the top of the custom folder to the real HF_HOME (`~/models/hf -> /data/hf`),
/// and a custom folder that is LM Studio's: each store's files are counted once.
#[test]
fn a_store_reached_through_the_custom_folder_by_a_link_or_as_itself_is_counted_once() {
    let env = TestEnv::new();
    let data = env.home.join("data/hf");
    let custom_dir = env.home.join("models");
    fs::create_dir_all(&custom_dir).unwrap();
    std::os::unix::fs::symlink(&data, custom_dir.join("hf")).unwrap();
    rich_hub(&data.join("hub"));
    let own = custom_dir.join("my-finetune");
    fs::create_dir_all(&own).unwrap();
    fs::write(own.join("config.json"), b"{\"mine\":1}").unwrap();
    fs::write(own.join("model.safetensors"), [7u8; 40_000]).unwrap();
    let env = env
        .with_env("HF_HOME", data.to_str().unwrap())
        .with_env("CUSTOM_MODEL_DIR", custom_dir.to_str().unwrap());
    let ours = usage_json(&env, &[]);
    let custom = ours["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["store"] == "custom")
        .unwrap();
    assert_eq!(custom["bytes"], 40_010, "{ours:#}");

    // CUSTOM_MODEL_DIR set to LM Studio's models folder.
    let lm = env.home.join(".lmstudio/models/pub/model-GGUF");
    fs::create_dir_all(&lm).unwrap();
    fs::write(lm.join("model.gguf"), [9u8; 30_000]).unwrap();
    let lm_models = env.home.join(".lmstudio/models");
    let env = env.with_env("CUSTOM_MODEL_DIR", lm_models.to_str().unwrap());
    let ours = usage_json(&env, &[]);
    let gguf: Vec<&Value> = ours["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["path"].as_str().unwrap_or("").contains("model-GGUF"))
        .collect();
    assert_eq!(gguf.len(), 1, "{gguf:#?}");
    assert_eq!(gguf[0]["store"], "lmstudio");
}
