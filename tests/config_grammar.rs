//! migrate rewrites cache settings in YAML, TOML and Python files through their grammars:
//! checked with the real readers (PyYAML, ruamel.yaml, tomllib, CPython's compiler and
//! interpreter), only the settings change value and every other value reads back the same.
// Tests build the situations they check on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;

use common::{TestEnv, python};
use serde_json::Value;

/// Reads each file with the real libraries: `{path: {reader: {key path: value}}}`, or an
/// `error` entry when a reader rejects the file.
const READER: &str = r#"
import json, sys, os, tomllib, yaml, io
from ruamel.yaml import YAML

def flat(v, prefix, out):
    if isinstance(v, dict):
        for k, x in v.items():
            flat(x, f"{prefix}{k}.", out)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            flat(x, f"{prefix}{i}.", out)
    else:
        out[prefix[:-1]] = v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
    return out

def python_values(path, text):
    code = compile(text, path, "exec")
    import types
    m = types.ModuleType("config_under_test")
    sys.modules["config_under_test"] = m
    exec(code, m.__dict__)
    ns = m.__dict__
    out = {}
    for name, v in ns.items():
        if name.startswith("_"):
            continue
        if isinstance(v, (str, int)):
            out[name] = v
        elif isinstance(v, type) and v.__module__ == "config_under_test":
            for a, x in vars(v).items():
                if not a.startswith("_") and isinstance(x, (str, int)):
                    out[f"{name}.{a}"] = x
    return out

result = {}
for path in sys.argv[1:]:
    text = open(path, "rb").read().decode()
    r = {}
    try:
        if path.endswith((".yaml", ".yml")):
            r["pyyaml"] = flat(yaml.safe_load(text), "", {})
            r["ruamel"] = flat(YAML(typ="safe", pure=True).load(text), "", {})
        elif path.endswith(".toml"):
            r["tomllib"] = flat(tomllib.loads(text), "", {})
        elif path.endswith(".py"):
            r["python"] = python_values(path, text)
    except Exception as e:
        r = {"error": f"{type(e).__name__}: {e}"}
    result[path] = r
print(json.dumps(result))
"#;

fn read_all(env: &TestEnv, paths: &[String]) -> BTreeMap<String, Value> {
    let out = Command::new(python())
        .arg("-c")
        .arg(READER)
        .args(paths)
        .env_clear()
        .env("HOME", &env.home)
        .env("PATH", common::sys_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A config file, its text, and the key paths that must come to name each central location.
type Case = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

fn cases() -> Vec<Case> {
    vec![
        (
            "eval/config.yaml",
            "# cache_dir: ./model_cache stays a comment\n\
             cache_dir: cache\n\
             notes: \"cache_dir: ./model_cache\"\n\
             desc: |\n  cache_dir: ./model_cache\n  more\n\
             model:\n  hf_cache_dir: './model_cache'  # local\n  other: 1\n\
             list:\n  - model_cache_dir: \"./mc\"\n    name: x\n\
             flow: {cache_dir: ./flow, n: 2}\n\
             null_cache_dir: null\n\
             hf_datasets_cache: ./ds\n\
             long_cache_dir: ./a\n  b\n",
            vec![
                ("cache_dir", "hub"),
                ("model.hf_cache_dir", "hub"),
                ("list.0.model_cache_dir", "hub"),
                ("flow.cache_dir", "hub"),
                ("hf_datasets_cache", "datasets"),
            ],
        ),
        (
            "crlf/settings.yml",
            "a: 1\r\ncache_dir: model_cache\r\nb: \"x\"\r\n",
            vec![("cache_dir", "hub")],
        ),
        (
            "svc/settings.toml",
            "# hf_cache_dir = \"./model_cache\"\n\
             title = \"x\"\n\
             hf_cache_dir = './model_cache'   # local\n\
             notes = \"\"\"\ncache_dir = \"./model_cache\"\n\"\"\"\n\
             [model]\ncache_dir = \"model_cache\"\ninline = { hf_cache = \"./c\", n = 1 }\n\
             [[runs]]\nmodel_cache_dir = \"./mc\"\n",
            vec![
                ("hf_cache_dir", "hub"),
                ("model.cache_dir", "hub"),
                ("model.inline.hf_cache", "hub"),
                ("runs.0.model_cache_dir", "hub"),
            ],
        ),
        (
            "backend/app/config.py",
            "\"\"\"Settings for the backend.\n\nReads the environment.\n\"\"\"\n\n\
             from __future__ import annotations\n\n\
             from dataclasses import dataclass\n\n\n\
             @dataclass\nclass Settings:\n    hf_cache_dir: str = \"./model_cache\"\n    port: int = 8000\n\n\n\
             HF_HOME = './hf'\n",
            vec![("Settings.hf_cache_dir", "hub"), ("HF_HOME", "home")],
        ),
        (
            "worker/conf.py",
            "#!/usr/bin/env python3\r\n# -*- coding: utf-8 -*-\r\nr'''Doc with \\''' inside.'''\r\n\
             from __future__ import (\r\n    annotations,\r\n    division,\r\n)\r\n\
             import os as o\r\nCACHE_DIR = \"./model_cache\"\r\nNAME = o.sep\r\n",
            vec![("CACHE_DIR", "hub")],
        ),
        (
            "tools/load.py",
            "MODEL_CACHE = './mc'\nLABEL = \"./model_cache is the old place\"\n",
            vec![("MODEL_CACHE", "hub")],
        ),
    ]
}

#[test]
fn only_the_settings_change_as_the_real_readers_see_them() {
    let env = TestEnv::new();
    let hf = env.home.join(".cache/huggingface");
    let central = |which: &str| {
        match which {
            "hub" => hf.join("hub"),
            "datasets" => hf.join("datasets"),
            _ => hf.clone(),
        }
        .display()
        .to_string()
    };
    let cases = cases();
    let mut paths = Vec::new();
    for (rel, text, _) in &cases {
        let p = env.repo.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        paths.push(p.display().to_string());
    }
    let before = read_all(&env, &paths);
    for (p, r) in &before {
        assert!(
            r.get("error").is_none(),
            "{p} must be valid to start with: {r}"
        );
    }

    let out = env.run(&["migrate", "--apply"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let after = read_all(&env, &paths);

    for ((rel, text, expected), path) in cases.iter().zip(&paths) {
        let (old, new) = (&before[path], &after[path]);
        assert!(new.get("error").is_none(), "{rel} after migrate: {new}");
        for (reader, old_values) in old.as_object().unwrap() {
            let mut want = old_values.as_object().unwrap().clone();
            for (key, which) in expected {
                assert!(want.contains_key(*key), "{rel}: no {key} in {want:?}");
                want.insert((*key).to_owned(), Value::String(central(which)));
            }
            assert_eq!(
                &Value::Object(want),
                &new[reader],
                "{rel} read by {reader}:\n{}",
                fs::read_to_string(path).unwrap()
            );
        }
        // Comments and untouched lines keep their bytes.
        let new_text = fs::read_to_string(path).unwrap();
        for line in text.split_inclusive('\n') {
            if line.trim_start().starts_with('#') {
                assert!(new_text.contains(line), "{rel} lost {line:?}");
            }
        }
    }

    // A second run changes no byte.
    let snap = env.snapshot();
    let out = env.run(&["migrate", "--apply"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::changed(&snap, &env.snapshot()).is_empty());
}

#[test]
fn unreadable_config_is_left_alone() {
    let env = TestEnv::new();
    // Not valid YAML or TOML: nothing in it is taken for a setting.
    let (y, t) = (env.repo.join("broken.yaml"), env.repo.join("broken.toml"));
    fs::write(&y, "cache_dir: ./model_cache\n  - [\n").unwrap();
    fs::write(&t, "cache_dir = \"./model_cache\"\n[[\n").unwrap();
    let (y0, t0) = (fs::read(&y).unwrap(), fs::read(&t).unwrap());
    let out = env.run(&["migrate", "--apply"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(fs::read(&y).unwrap(), y0);
    assert_eq!(fs::read(&t).unwrap(), t0);
}
