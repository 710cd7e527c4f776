//! Content hashes: sha256 (HF LFS blobs and Ollama blobs are named by it) and the git blob
//! sha1 (small HF files are named by it).

use std::io::Read;
use std::path::Path;

use sha1::Digest as _;
use sha2::Sha256;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of everything `r` yields, streamed.
pub fn sha256_reader(mut r: impl Read, size_hint: u64) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; (size_hint as usize).clamp(4096, 1 << 20)];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// sha256 of a file's content, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let f = std::fs::File::open(path)?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    sha256_reader(f, len)
}

/// The git blob sha1 of a file (what a 40-hex HF blob name promises).
pub fn git_sha1_reader(mut r: impl Read, size: u64) -> std::io::Result<String> {
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {size}\0").as_bytes());
    let mut buf = vec![0u8; (size as usize).clamp(4096, 1 << 20)];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hashes() {
        assert_eq!(
            sha256_reader(&b"abc"[..], 3).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // `printf hello | git hash-object --stdin`
        assert_eq!(
            git_sha1_reader(&b"hello"[..], 5).unwrap(),
            "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0"
        );
    }
}
