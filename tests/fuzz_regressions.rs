//! The inputs fuzzing found (tests/fuzz_*.rs), kept as plain tests: each panicked, ran out of
//! memory or was silently misread before its fix, and must now be a clear error or read right.

mod common;

use std::io::Write;
use std::path::Path;

use common::fixture;
use storybook_studio::ml::image_io::encode_png_with_text;
use storybook_studio::ml::models::{gpt2, vqgan};

/// A zip as torch.save writes it, holding only `archive/data.pkl`.
fn ckpt_with_pickle(path: &Path, pickle: &[u8]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("archive/data.pkl", options).unwrap();
    zip.write_all(pickle).unwrap();
    zip.finish().unwrap();
}

fn unicode(s: &str) -> Vec<u8> {
    let mut out = vec![b'X'];
    out.extend((s.len() as u32).to_le_bytes());
    out.extend(s.as_bytes());
    out
}

#[test]
fn a_pickle_that_crashed_candle_s_reader_is_a_sentence() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("model.ckpt");
    let cfg = vqgan::Config::from_yaml_file(&fixture("vqgan-tiny/model.yaml")).unwrap();

    // PROTO 2, LONG1 of 9 bytes (candle shifts a byte by 64 bits), STOP.
    let mut long1 = vec![0x80, 2, 0x8a, 9];
    long1.extend([1u8; 9]);
    long1.push(b'.');
    // {'state_dict': {'w': torch._utils._rebuild_tensor_v2()}}: candle indexes the empty
    // argument tuple as if it held PyTorch's six arguments.
    let mut short = vec![0x80, 2, b'}'];
    short.extend(unicode("state_dict"));
    short.push(b'}');
    short.extend(unicode("w"));
    short.extend(b"ctorch._utils\n_rebuild_tensor_v2\n)Rss.");

    for pickle in [long1, short] {
        ckpt_with_pickle(&path, &pickle);
        let err = vqgan::check_checkpoint(&path, &cfg)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("malformed") && err.contains("model.ckpt"),
            "{err}"
        );
        let err = vqgan::ckpt::read_state_dict(&path).unwrap_err().to_string();
        assert!(err.contains("malformed"), "{err}");
    }
}

#[test]
fn a_pickle_that_would_overflow_the_stack_or_memory_is_refused_unread() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("model.ckpt");
    let cfg = vqgan::Config::from_yaml_file(&fixture("vqgan-tiny/model.yaml")).unwrap();
    // A million nested lists: building and dropping them recursed until the stack overflowed,
    // which aborts the process.
    let n = 1_000_000;
    let mut deep = vec![0x80, 2];
    deep.extend(std::iter::repeat_n(b']', n));
    deep.extend(std::iter::repeat_n(b'a', n - 1));
    deep.push(b'.');
    // A list doubled through the memo forty times: 2^40 copies.
    let mut wide = vec![0x80, 2, b']', b'q', 0];
    for _ in 0..40 {
        wide.extend([b'(', b'h', 0, b'h', 0, b't', b'q', 0]);
    }
    wide.push(b'.');
    // The same nesting after opcodes the first dry run modelled as Python does, not as candle
    // does (found by fuzzing): DICT, which candle reads as an empty dict, and a MARK popped as
    // a value by APPEND.
    let after = |prefix: &[u8]| {
        let mut p = vec![0x80, 2];
        p.extend(prefix);
        p.extend(&deep[2..]);
        p
    };
    let (after_dict, after_mark) = (after(b"d"), after(b"](a"));
    for (pickle, needle) in [
        (deep, "nests"),
        (wide, "objects"),
        (after_dict, "nests"),
        (after_mark, "nests"),
    ] {
        ckpt_with_pickle(&path, &pickle);
        let err = vqgan::check_checkpoint(&path, &cfg)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle) && err.contains("model.ckpt"), "{err}");
    }
}

#[test]
fn configs_asking_for_absurd_sizes_are_refused_before_any_allocation() {
    let tmp = tempfile::tempdir().unwrap();
    let yaml = std::fs::read_to_string(fixture("vqgan-tiny/model.yaml")).unwrap();
    let path = tmp.path().join("model.yaml");
    for (from, to, needle) in [
        ("num_res_blocks: 1", "num_res_blocks: 99999999999", "num_res_blocks"),
        ("ch: 32", "ch: 4611686018427387904", "ch is"),
        ("[ 1,2 ]", "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]", "ch_mult"),
    ] {
        std::fs::write(&path, yaml.replace(from, to)).unwrap();
        let err = vqgan::Config::from_yaml_file(&path).unwrap_err().to_string();
        assert!(err.contains(needle) && err.contains("beyond"), "{err}");
    }

    let json = std::fs::read_to_string(fixture("gpt2-tiny/config.json")).unwrap();
    let path = tmp.path().join("config.json");
    for (from, to) in [
        ("\"n_layer\": 2", "\"n_layer\": 100000000000"),
        (
            "\"vocab_size\": 50257",
            "\"vocab_size\": 18446744073709551615",
        ),
        ("\"n_inner\": null", "\"n_inner\": 1000000000000"),
    ] {
        std::fs::write(&path, json.replace(from, to)).unwrap();
        let err = gpt2::Config::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("beyond any model"), "{err}");
    }
}

#[test]
fn png_text_the_readers_would_drop_is_refused_when_writing() {
    let img = image::RgbImage::new(2, 2);
    for (key, value) in [
        ("\0", ""),
        ("", "x"),
        (" lead", "x"),
        ("a  b", "x"),
        ("k", "a\0b"),
    ] {
        let err = encode_png_with_text(&img, &[(key, value)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot store"), "{key:?}: {err}");
    }
    let ok = encode_png_with_text(&img, &[("storybook-recipe", "{\"a\": \"caf\\u00e9\"}")]);
    assert!(ok.is_ok());
}
