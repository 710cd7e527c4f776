//! Builds a Hugging Face hub cache of N repos in the real layout, for benchmarks:
//! `cargo run --release --example make_hub -- DIR N`. Repos look like real ones: model repos
//! with a config, tokenizer files (the same tokenizer shared by many repos), an index and two
//! weight shards of a few KB, every fifth with an older detached revision; datasets with
//! parquet shards in subfolders; spaces with an app.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

#[path = "../tests/common/fixtures.rs"]
mod fixtures;

use fixtures::{File, Hub, commit, git, lfs};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: make_hub DIR N");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N must be a number");
    let hub = Hub::new(std::path::Path::new(&dir));
    let tokenizer = vec![b't'; 2_000];
    let gitattributes = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n".to_vec();
    for i in 0..n {
        let bytes = |len: usize, salt: usize| -> Vec<u8> {
            (0..len)
                .map(|j| ((i * 31 + j * 7 + salt) % 251) as u8)
                .collect()
        };
        let c = commit(&format!("{i}-main"));
        let readme = format!("# repo {i}\n");
        match i % 10 {
            0 => {
                let r = hub.repo("dataset", &format!("org{}/data-{i}", i % 50));
                let (a, b) = (bytes(3_000, 1), bytes(3_000, 2));
                r.snapshot(
                    &c,
                    &[
                        git(".gitattributes", &gitattributes),
                        git("README.md", readme.as_bytes()),
                        lfs("data/train-00000-of-00002.parquet", &a),
                        lfs("data/train-00001-of-00002.parquet", &b),
                        lfs("data/test-00000-of-00001.parquet", &a[..1_000]),
                    ],
                );
                r.git_ref("main", &c);
            }
            1 => {
                let r = hub.repo("space", &format!("org{}/space-{i}", i % 50));
                r.snapshot(
                    &c,
                    &[
                        git("README.md", readme.as_bytes()),
                        git("app.py", b"import gradio\n"),
                        git("requirements.txt", b"gradio\n"),
                    ],
                );
                r.git_ref("main", &c);
            }
            _ => {
                let r = hub.repo("model", &format!("org{}/model-{i}", i % 50));
                let config = format!("{{\"id\": {i}}}");
                let (s1, s2) = (bytes(4_000 + (i % 7) * 500, 3), bytes(3_000, 4));
                let files: Vec<File> = vec![
                    git(".gitattributes", &gitattributes),
                    git("README.md", readme.as_bytes()),
                    git("config.json", config.as_bytes()),
                    git("generation_config.json", b"{\"do_sample\": true}"),
                    git("tokenizer.json", &tokenizer),
                    git("tokenizer_config.json", b"{\"model_max_length\": 2048}"),
                    git("special_tokens_map.json", b"{}"),
                    git("model.safetensors.index.json", b"{\"weight_map\": {}}"),
                    lfs("model-00001-of-00002.safetensors", &s1),
                    lfs("model-00002-of-00002.safetensors", &s2),
                ];
                r.snapshot(&c, &files);
                r.git_ref("main", &c);
                if i % 5 == 2 {
                    let old = commit(&format!("{i}-old"));
                    r.snapshot(
                        &old,
                        &[
                            git("config.json", b"{}"),
                            lfs("model-00001-of-00002.safetensors", &s1[..2_000]),
                            lfs("model-00002-of-00002.safetensors", &s2),
                        ],
                    );
                }
            }
        }
    }
}
