//! `illustrate` and `models convert-vqgan` as a user runs them on the tiny fixtures: the JSON
//! report, the recipe in the PNG, and clear refusals of bad images, sizes and checkpoints.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::fixture;

fn studio(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_storybook-studio"))
        .args(args)
        .current_dir(cwd)
        .env("HF_HOME", cwd.join("hf-home"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("STORYBOOK_MODELS")
        .output()
        .expect("the binary runs")
}

fn failure(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected a failure: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

fn base_args<'a>(clip: &'a str, vqgan: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "illustrate",
        "a photo of a cat",
        "--clip",
        clip,
        "--vqgan",
        vqgan,
        "--out",
        out,
    ]
}

#[test]
fn illustrate_writes_a_png_with_its_recipe_and_a_json_report() {
    let tmp = tempfile::tempdir().unwrap();
    let (clip, vqgan) = (fixture("clip-tiny"), fixture("vqgan-tiny/model.ckpt"));
    let out = tmp.path().join("cat.png");
    let frames = tmp.path().join("frames");
    let mut args = base_args(
        clip.to_str().unwrap(),
        vqgan.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    args.extend([
        "--size",
        "32x32",
        "--cutn",
        "2",
        "--iterations",
        "4",
        "--seed",
        "3",
        "--save-every",
        "2",
        "--frames-dir",
        frames.to_str().unwrap(),
        "--style-suffix",
        ", watercolour ✨",
        "--json",
    ]);
    let run = studio(&args, tmp.path());
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    for key in [
        "out",
        "width",
        "height",
        "iterations",
        "initial_similarity",
        "final_similarity",
        "seconds_per_iteration",
        "seed",
    ] {
        assert!(report.get(key).is_some(), "missing {key}: {report}");
    }
    assert_eq!(report["iterations"], 4);
    assert_eq!(report["seed"], 3);
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (32, 32));
    assert!(frames.join("frame_00002.png").is_file() && frames.join("frame_00004.png").is_file());

    let text = storybook_studio::ml::image_io::read_png_text(&out).unwrap();
    let recipe = &text
        .iter()
        .find(|(k, _)| k == "storybook-recipe")
        .unwrap()
        .1;
    assert!(recipe.is_ascii());
    let recipe: serde_json::Value = serde_json::from_str(recipe).unwrap();
    assert_eq!(recipe["prompt"], "a photo of a cat");
    assert_eq!(recipe["options"]["seed"], 3);
    assert_eq!(recipe["options"]["style_suffix"], ", watercolour ✨");
    assert_eq!(recipe["options"]["cutn"], 2);
}

#[test]
fn bad_images_and_sizes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (clip, vqgan) = (fixture("clip-tiny"), fixture("vqgan-tiny"));
    let out = tmp.path().join("x.png");
    let text_png = tmp.path().join("notes.png");
    std::fs::write(&text_png, "just some words").unwrap();
    let bytes = std::fs::read(fixture("clip-tiny/images/circle_256x256.png")).unwrap();
    let truncated = tmp.path().join("half.png");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let base = base_args(
        clip.to_str().unwrap(),
        vqgan.to_str().unwrap(),
        out.to_str().unwrap(),
    );

    for (extra, needle) in [
        (
            vec![
                "--init-image",
                text_png.to_str().unwrap(),
                "--size",
                "32x32",
            ],
            "not a usable image",
        ),
        (
            vec![
                "--init-image",
                truncated.to_str().unwrap(),
                "--size",
                "32x32",
            ],
            "not a usable image",
        ),
        (
            vec!["--image-prompt", "/no/such.png", "--size", "32x32"],
            "/no/such.png",
        ),
        (vec!["--size", "0x0"], "no pixels"),
        (vec!["--size", "30000x30000"], "too large"),
        (vec!["--size", "big"], "WIDTHxHEIGHT"),
        (
            vec!["--cutn", "0", "--size", "32x32"],
            "cutn must be between 1 and 256",
        ),
        (
            vec!["--iterations", "99999999999", "--size", "32x32"],
            "at most 100000 steps",
        ),
    ] {
        let mut args = base.clone();
        args.extend(extra.iter().copied());
        let err = failure(&studio(&args, tmp.path()));
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    assert!(!out.exists(), "no image is written when the run fails");

    // Not a multiple of the grid: rounded, with a warning.
    let mut args = base.clone();
    args.extend([
        "--size",
        "33x31",
        "--cutn",
        "2",
        "--iterations",
        "1",
        "--json",
    ]);
    let run = studio(&args, tmp.path());
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("rounded to 34x32"));
}

#[test]
fn checkpoints_with_missing_keys_or_code_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vq");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("vqgan-tiny/model.yaml"), dir.join("model.yaml")).unwrap();
    let mut tensors = candle_core::safetensors::load(
        fixture("vqgan-tiny/model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    tensors.remove("decoder.conv_out.weight");
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
    let clip = fixture("clip-tiny");
    let out = tmp.path().join("x.png");
    let mut args = base_args(
        clip.to_str().unwrap(),
        dir.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    args.extend(["--size", "32x32"]);
    let err = failure(&studio(&args, tmp.path()));
    assert!(
        err.contains("'decoder.conv_out.weight' is missing"),
        "{err}"
    );

    for (file, needle) in [
        (
            "code-in-state-dict.ckpt",
            "'encoder.conv_in.weight' is posix.system",
        ),
        ("code-at-top.ckpt", "posix.system"),
        ("no-state-dict.ckpt", "no 'state_dict'"),
    ] {
        let ckpt = fixture(&format!("unsafe-ckpt/{file}"));
        let yaml = fixture("vqgan-tiny/model.yaml");
        let converted = tmp.path().join("out.safetensors");
        let err = failure(&studio(
            &[
                "models",
                "convert-vqgan",
                ckpt.to_str().unwrap(),
                converted.to_str().unwrap(),
                "--config",
                yaml.to_str().unwrap(),
            ],
            tmp.path(),
        ));
        assert!(err.contains(needle), "{file}: {err}");
        assert!(!converted.exists());
    }
}

#[test]
fn convert_vqgan_writes_a_checked_safetensors_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let converted = tmp.path().join("model.safetensors");
    let run = studio(
        &[
            "models",
            "convert-vqgan",
            fixture("vqgan-tiny/model.ckpt").to_str().unwrap(),
            converted.to_str().unwrap(),
            "--json",
        ],
        tmp.path(),
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(doc["tensors"], 155);
    let a = candle_core::safetensors::load(&converted, &candle_core::Device::Cpu).unwrap();
    let b = candle_core::safetensors::load(
        fixture("vqgan-tiny/model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert_eq!(a.len(), b.len());
    for (k, t) in &b {
        let diff = (t - &a[k])
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0, "{k}");
    }
}

/// Ctrl-C mid-way saves the run's state beside the picture and exits with 130; `--resume`
/// finishes it to the same bytes as a run never interrupted.
#[cfg(unix)]
#[test]
fn ctrl_c_pauses_and_resume_draws_the_same_picture() {
    let dir = tempfile::tempdir().unwrap();
    let (clip, vqgan) = (common::fixture("clip-tiny"), common::fixture("vqgan-tiny"));
    let base = |out: &str| -> Vec<String> {
        [
            "illustrate",
            "a red fox",
            "--size",
            "32x32",
            "--cutn",
            "1",
            "--iterations",
            "200",
            "--out",
            out,
            "--clip",
            clip.to_str().unwrap(),
            "--vqgan",
            vqgan.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let bin = env!("CARGO_BIN_EXE_storybook-studio");
    let child = std::process::Command::new(bin)
        .args(base("a.png"))
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("paused at step") && err.contains("--resume a.png.resume"),
        "{err}"
    );
    assert!(
        !dir.path().join("a.png").exists(),
        "no half picture is written"
    );
    let mut resume = base("a.png");
    resume.extend(["--resume".into(), "a.png.resume".into()]);
    for args in [resume, base("b.png")] {
        let out = std::process::Command::new(bin)
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (a, b) = (
        std::fs::read(dir.path().join("a.png")).unwrap(),
        std::fs::read(dir.path().join("b.png")).unwrap(),
    );
    assert!(a == b, "the resumed picture differs");
    assert!(
        !dir.path().join("a.png.resume").exists(),
        "the finished run's state is removed"
    );
}

/// `bench conv` reports the measured FMA peak and, for the decoder's convolutions and CLIP's
/// products, our rates (both Winograd blocks for 3×3 layers) and candle's. Speed itself is left to the benchmark; this checks that
/// every figure is there and is a rate.
#[test]
fn bench_conv_reports_kernel_rates_beside_the_measured_fma_peak() {
    let tmp = tempfile::tempdir().unwrap();
    let out = studio(&["bench", "conv", "--runs", "1", "--json"], tmp.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rate = |v: &serde_json::Value| {
        let g = v.as_f64().unwrap_or(f64::NAN);
        assert!(g.is_finite() && g > 0.0, "{v}");
    };
    rate(&doc["fma_peak_gflops"]);
    assert!(doc["fma_instructions"].is_string());
    assert_eq!(doc["cases"].as_array().unwrap().len(), 5);
    for case in doc["cases"].as_array().unwrap() {
        rate(&case["ours_gflops"]);
        rate(&case["candle_gflops"]);
        // Both Winograd blocks are timed for each 3×3 layer, with the one the decoder uses:
        // F(4×4) for the narrow layers only.
        if case["kernel"] == 3 {
            rate(&case["winograd_f2_effective_gflops"]);
            rate(&case["winograd_f4_effective_gflops"]);
            let narrow = case["channels"].as_u64().unwrap() <= 128;
            let used = if narrow { "F4" } else { "F2" };
            assert_eq!(case["winograd_block_used"], used, "{case}");
            // bf16 products only for F(2×2) layers, and only where a bf16 kernel runs.
            let bf16 = &case["winograd_bf16_effective_gflops"];
            if !narrow && storybook_studio::ml::kernels::bf16_gemm::available() {
                rate(bf16);
            } else {
                assert!(bf16.is_null(), "{case}");
            }
        } else {
            assert!(case["winograd_block_used"].is_null(), "{case}");
        }
    }
    let gemm = doc["gemm"].as_array().unwrap();
    let names: Vec<&str> = gemm.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["qkv", "out_proj", "fc1", "fc2"]);
    let bf16 = storybook_studio::ml::kernels::bf16_gemm::available();
    for g in gemm {
        assert_eq!(g["rows"], 1600);
        for key in ["forward_gflops", "input_grad_gflops", "candle_gflops"] {
            rate(&g[key]);
        }
        for key in ["bf16_forward_gflops", "bf16_input_grad_gflops"] {
            if bf16 {
                rate(&g[key]);
            } else {
                assert!(g[key].is_null(), "{g}");
            }
        }
    }
    // The kernel that ran is named, and where none did, the sentence says why.
    let kernel = storybook_studio::ml::kernels::bf16_gemm::kernel().map(|k| k.name());
    assert_eq!(
        doc["bf16_kernel"].as_str(),
        kernel,
        "{}",
        doc["bf16_kernel"]
    );
    assert_eq!(
        doc["bf16_unavailable"].is_null(),
        bf16,
        "{}",
        doc["bf16_unavailable"]
    );
}

/// The CLI frees the encoder only when there is no init image: with one, it is encoded.
#[test]
fn an_init_image_is_encoded_after_the_text_tower_is_freed() {
    let tmp = tempfile::tempdir().unwrap();
    let (clip, vqgan) = (fixture("clip-tiny"), fixture("vqgan-tiny/model.ckpt"));
    let out = tmp.path().join("circle.png");
    let init = fixture("clip-tiny/images/circle_256x256.png");
    let mut args = base_args(
        clip.to_str().unwrap(),
        vqgan.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    args.extend(["--size", "32x32", "--iterations", "1", "--cutn", "2"]);
    args.extend([
        "--init-image",
        init.to_str().unwrap(),
        "--init-weight",
        "0.5",
    ]);
    let run = studio(&args, tmp.path());
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (32, 32));
}

/// bf16 where a bf16 kernel runs, and otherwise f32 with a sentence; the report and the picture's
/// recipe both say what really ran. A precision that does not exist is refused by name.
#[test]
fn precision_bf16_runs_or_says_why_it_drew_in_f32() {
    let tmp = tempfile::tempdir().unwrap();
    let (clip, vqgan) = (fixture("clip-tiny"), fixture("vqgan-tiny/model.ckpt"));
    let out = tmp.path().join("cat.png");
    let mut args = base_args(
        clip.to_str().unwrap(),
        vqgan.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    args.extend(["--size", "32x32", "--cutn", "2", "--iterations", "2"]);
    let mut wrong = args.clone();
    wrong.extend(["--precision", "fp16"]);
    let err = failure(&studio(&wrong, tmp.path()));
    assert!(
        err.contains("'fp16' is not a precision: choose f32 or bf16"),
        "{err}"
    );
    assert!(!out.exists());

    args.extend(["--precision", "bf16", "--json"]);
    let run = studio(&args, tmp.path());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let ran = match storybook_studio::ml::kernels::bf16_gemm::unavailable_reason() {
        None => {
            assert!(report.get("warnings").is_none(), "{report}");
            "bf16"
        }
        Some(why) => {
            // Up to the first colon: what follows may quote a speed the CLI measured afresh.
            let head = why.split(':').next().unwrap();
            assert!(stderr.contains(head), "{stderr}");
            let warning = report["warnings"][0].as_str().unwrap();
            assert!(warning.starts_with(head), "{report}");
            assert!(warning.ends_with("; drawing in f32 instead"), "{report}");
            "f32"
        }
    };
    assert_eq!(report["precision"], ran);
    let text = storybook_studio::ml::image_io::read_png_text(&out).unwrap();
    let recipe: serde_json::Value = serde_json::from_str(
        &text
            .iter()
            .find(|(k, _)| k == "storybook-recipe")
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(recipe["options"]["precision"], ran);
}
