//! A content fingerprint of a weights file, cheap enough to take on every run.
//!
//! Hashing all 600 MB of CLIP would cost more than loading the cached label embeddings it
//! protects, so the fingerprint hashes the file length, the first 64 KiB (the safetensors header:
//! every name, shape and offset) and 16 evenly spaced 64 KiB samples of the weights. A fine-tune
//! or a different checkpoint changes the samples; a rename or a copy does not.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::lexicon::hex;
use crate::ml::{Error, Result};

const CHUNK: u64 = 64 * 1024;
const SAMPLES: u64 = 16;

pub fn file_fingerprint(path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut h = Sha256::new();
    h.update(len.to_le_bytes());
    let mut buf = vec![0u8; CHUNK as usize];
    let mut offsets = vec![0u64];
    if len > CHUNK {
        offsets.extend((1..=SAMPLES).map(|i| (len - CHUNK) * i / SAMPLES));
    }
    for offset in offsets {
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        let n = read_up_to(&mut file, &mut buf).map_err(io)?;
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()[..8]))
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
