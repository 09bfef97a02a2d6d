//! Fuzzing the file parsers of untrusted input: safetensors headers, the `.ckpt` pickle walker,
//! YAML and JSON model configs, and PNG recipe chunks (with the image decoder). Inputs are the
//! test fixtures, mutated (see common/fuzz.rs); each parser must answer with a value or an error,
//! never a panic, and what it accepts must be usable by the next step of loading.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use candle_core::{Device, Tensor};
use common::fixture;
use common::fuzz::{fuzz, mutated, mutated_text};
use proptest::prelude::*;
use storybook_studio::ml::image_io::{decode_rgb, encode_png_with_text, read_png_text};
use storybook_studio::ml::models::{clip, gpt2, minilm, vqgan};
use storybook_studio::ml::weights::safetensors_check;

/// Small safetensors files: a few tensors of the tiny GPT-2's names, and the real header of
/// the tiny GPT-2 (whose data is then missing).
fn safetensors_seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut tensors = HashMap::new();
    for (name, shape) in [("wte.weight", vec![3usize, 2]), ("ln_f.bias", vec![2])] {
        let n = shape.iter().product::<usize>();
        let t = Tensor::from_vec(
            (0..n).map(|i| i as f32).collect::<Vec<_>>(),
            shape,
            &Device::Cpu,
        );
        tensors.insert(name.to_string(), t.unwrap());
    }
    let small = dir.join("small.safetensors");
    candle_core::safetensors::save(&tensors, &small).unwrap();
    let real = std::fs::read(fixture("gpt2-tiny/model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(real[..8].try_into().unwrap()) as usize;
    vec![
        std::fs::read(&small).unwrap(),
        real[..8 + header_len + 64].to_vec(),
    ]
}

#[test]
fn fuzz_safetensors_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let seeds = safetensors_seeds(tmp.path());
    let path = tmp.path().join("model.safetensors");
    let cfg = gpt2::Config::from_file(&fixture("gpt2-tiny/config.json")).unwrap();
    fuzz("safetensors headers", mutated(seeds), |bytes| {
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(header) = safetensors_check::read_header(&path) {
            // What the loaders do next: compare keys, then let candle read what was checked.
            let _ = gpt2::check_checkpoint(&path, &cfg);
            let loaded = candle_core::safetensors::load(&path, &Device::Cpu);
            if let Ok(tensors) = loaded {
                for (name, info) in &header.tensors {
                    let t = &tensors[name];
                    prop_assert_eq!(t.dims(), info.shape.as_slice(), "{}", name);
                }
            }
        }
        Ok(())
    });
}

/// The pickle of the tiny VQGAN checkpoint, and the small storages it points to.
fn ckpt_parts() -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let file = std::fs::File::open(fixture("vqgan-tiny/model.ckpt")).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let (mut pickle, mut rest) = (Vec::new(), Vec::new());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let name = entry.name().unwrap().into_owned();
        if entry.size() > 16 * 1024 {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if name.ends_with("data.pkl") {
            pickle = bytes;
        } else {
            rest.push((name, bytes));
        }
    }
    (pickle, rest)
}

/// Pickles assembled from opcodes with plausible arguments, including long runs of one opcode.
fn pickle_program() -> impl Strategy<Value = Vec<u8>> {
    let pieces: Vec<Vec<u8>> = [
        &b"]"[..],
        b"}",
        b")",
        b"(",
        b"N",
        b"a",
        b"e",
        b"s",
        b"u",
        b"t",
        b"d",
        b"R",
        b"b",
        b"Q",
        b"\x85",
        b"\x86",
        b"\x87",
        b"\x81",
        b"h\x00",
        b"h\x01",
        b"q\x00",
        b"q\x01",
        b"K\x07",
        b"J\x01\x00\x00\x80",
        b"\x8a\x02\x01\x01",
        b"\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01",
        b"X\x01\x00\x00\x00w",
        b"X\x0a\x00\x00\x00state_dict",
        b"X\xff\xff\xff\xffab",
        b"ctorch._utils\n_rebuild_tensor_v2\n",
        b"ctorch\nFloatStorage\n",
        b"ccollections\nOrderedDict\n",
    ]
    .iter()
    .map(|p| p.to_vec())
    .collect();
    let single = (
        proptest::sample::select(pieces),
        prop_oneof![8 => Just(1usize), 1 => 1usize..5000],
    )
        .prop_map(|(p, times)| p.repeat(times));
    // Two shapes of attack: lists nested k deep, and a list doubled k times through the memo.
    let nest = (1usize..300_000).prop_map(|k| [b"]".repeat(k), b"a".repeat(k - 1)].concat());
    let double =
        (1usize..48).prop_map(|k| [b"]q\x00".to_vec(), b"(h\x00h\x00tq\x00".repeat(k)].concat());
    let piece = prop_oneof![30 => single, 1 => nest, 1 => double];
    proptest::collection::vec(piece, 0..64).prop_map(|parts| {
        let mut out = vec![0x80, 2];
        out.extend(parts.concat());
        out.push(b'.');
        out
    })
}

fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn fuzz_pickle_walker() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("model.ckpt");
    let cfg = vqgan::Config::from_yaml_file(&fixture("vqgan-tiny/model.yaml")).unwrap();
    let (pickle, storages) = ckpt_parts();
    let unsafe_ones: Vec<Vec<u8>> = ["code-at-top", "code-in-state-dict", "no-state-dict"]
        .iter()
        .map(|n| std::fs::read(fixture(&format!("unsafe-ckpt/{n}.ckpt"))).unwrap())
        .collect();
    // Mostly a mutated pickle in a well-formed zip (reaching the walker), then opcode
    // sequences built from pickle's grammar (reaching nesting and memo copies that byte edits
    // seldom make), sometimes a mutated zip (reaching the container reader).
    let inputs = prop_oneof![
        3 => mutated(vec![pickle]).prop_map(|p| (true, p)),
        2 => pickle_program().prop_map(|p| (true, p)),
        1 => mutated(unsafe_ones).prop_map(|z| (false, z)),
    ];
    fuzz("pickle walker", inputs, |(is_pickle, bytes)| {
        if is_pickle {
            let mut entries = vec![("model/data.pkl".to_string(), bytes)];
            entries.extend(storages.iter().cloned());
            write_zip(&path, &entries);
        } else {
            std::fs::write(&path, &bytes).unwrap();
        }
        let _ = vqgan::check_checkpoint(&path, &cfg);
        let _ = vqgan::ckpt::read_state_dict(&path);
        Ok(())
    });
}

#[test]
fn fuzz_yaml_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("model.yaml");
    let tiny = std::fs::read_to_string(fixture("vqgan-tiny/model.yaml")).unwrap();
    let seeds = vec![
        tiny.clone(),
        tiny.replace("[ 1,2 ]", "[1,1,2,2,4]")
            .replace("num_res_blocks: 1", "num_res_blocks: 99999999999"),
        "model: {params: {embed_dim: 1, n_embed: 1, ddconfig: {}}}".into(),
    ];
    fuzz("YAML configs", mutated_text(seeds), |text| {
        std::fs::write(&path, &text).unwrap();
        if let Ok(cfg) = vqgan::Config::from_yaml_file(&path) {
            // What loading does next with an accepted config.
            let keys = vqgan::expected_keys(&cfg);
            prop_assert!(!keys.is_empty());
            prop_assert!(cfg.downscale() >= 1);
        }
        Ok(())
    });
}

#[test]
fn fuzz_json_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("config.json");
    let read = |rel: &str| std::fs::read_to_string(fixture(rel)).unwrap();
    let seeds = vec![
        read("gpt2-tiny/config.json"),
        read("clip-tiny/config.json"),
        read("minilm-tiny/config.json"),
    ];
    fuzz("JSON configs", mutated_text(seeds), |text| {
        std::fs::write(&path, &text).unwrap();
        if let Ok(cfg) = gpt2::Config::from_file(&path) {
            prop_assert!(cfg.inner_dim() > 0 && cfg.head_dim() > 0);
            prop_assert!(!gpt2::expected_keys(&cfg, gpt2::KeyLayout::Hub).is_empty());
        }
        if let Ok(cfg) = clip::Config::from_file(&path) {
            prop_assert!(!clip::expected_keys(&cfg).is_empty());
        }
        if let Ok(cfg) = minilm::Config::from_file(&path) {
            prop_assert!(!minilm::expected_keys(&cfg, "").is_empty());
        }
        Ok(())
    });
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Rewrites every chunk's CRC that the chunk walk can reach, so a mutation gets past the CRC
/// check into the chunk's parser.
fn fix_crcs(mut png: Vec<u8>) -> Vec<u8> {
    let mut at = 8;
    while at + 12 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|e| e + 4 <= png.len()) else {
            break;
        };
        let crc = crc32(&png[at + 4..end]);
        png[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        at = end + 4;
    }
    png
}

fn recipe_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]));
    let recipe =
        serde_json::json!({"prompt": "a fox \u{e9}", "options": {"seed": 3, "size": [5, 3]}});
    let text = storybook_studio::ml::image_io::ascii_json(&recipe);
    encode_png_with_text(
        &img,
        &[("storybook-recipe", &text), ("Software", "storybook")],
    )
    .unwrap()
}

#[test]
fn fuzz_png_recipe_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("picture.png");
    let inputs = (mutated(vec![recipe_png()]), any::<bool>());
    fuzz("PNG recipe chunks", inputs, |(bytes, fix)| {
        let bytes = if fix { fix_crcs(bytes) } else { bytes };
        let _ = decode_rgb(&bytes);
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(chunks) = read_png_text(&path) {
            for (key, value) in chunks {
                if key == "storybook-recipe" {
                    let _ = serde_json::from_str::<serde_json::Value>(&value);
                }
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_png_text_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("picture.png");
    // Mostly printable Latin-1, so many keys are valid and the round trip is exercised.
    let byte = prop_oneof![6 => 32u8..=126, 2 => 161u8..=255, 1 => any::<u8>()];
    let latin1 = proptest::collection::vec(byte, 0..40)
        .prop_map(|b| b.into_iter().map(char::from).collect::<String>());
    let pairs = proptest::collection::vec((latin1.clone(), latin1), 0..4);
    fuzz(
        "PNG text round trip",
        (pairs, 1u32..6, 1u32..6),
        |(pairs, w, h)| {
            let img = image::RgbImage::new(w, h);
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if let Ok(bytes) = encode_png_with_text(&img, &refs) {
                std::fs::write(&path, &bytes).unwrap();
                let back = read_png_text(&path).unwrap();
                prop_assert_eq!(back, pairs);
                prop_assert_eq!(decode_rgb(&bytes).unwrap().dimensions(), (w, h));
            }
            Ok(())
        },
    );
}

/// Small pictures in every format the commands accept, for the decoder target.
fn image_seeds() -> Vec<Vec<u8>> {
    let img = image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(6, 4, |x, y| {
        image::Rgba([x as u8 * 40, y as u8 * 60, 90, 128 + x as u8])
    }));
    let mut seeds: Vec<Vec<u8>> = ["cmyk.jpg", "exif-rotate-90.jpg"]
        .iter()
        .map(|n| std::fs::read(fixture(&format!("images/{n}"))).unwrap())
        .collect();
    for format in [
        image::ImageFormat::Gif,
        image::ImageFormat::Bmp,
        image::ImageFormat::WebP,
    ] {
        let mut bytes = std::io::Cursor::new(Vec::new());
        img.write_to(&mut bytes, format).unwrap();
        seeds.push(bytes.into_inner());
    }
    seeds.push(common::images::animated_gif());
    seeds.push(common::images::png_bomb());
    seeds
}

#[test]
fn fuzz_image_decoding() {
    fuzz("image decoding", mutated(image_seeds()), |bytes| {
        if let Ok(img) = decode_rgb(&bytes) {
            let (w, h) = img.dimensions();
            prop_assert!(w > 0 && h > 0);
            prop_assert!(w <= storybook_studio::ml::image_io::MAX_SIDE);
        }
        Ok(())
    });
}
