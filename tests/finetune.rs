//! Fine-tuning on the tiny GPT-2: the loss falls, the LM loss equals one computed from
//! transformers' logits, checkpoints reload (and survive SIGKILL), bad corpora are refused.

mod common;

use std::ops::ControlFlow;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use common::{fixture, ids_of, load_tensors, read_json};
use storybook_studio::ml::finetune::gpt2_step::FusedStep;
use storybook_studio::ml::finetune::{lm_loss, train, Corpus, FinetuneOptions, Trainable};
use storybook_studio::ml::generate::generate;
use storybook_studio::ml::kernels::composed_forced;
use storybook_studio::ml::models::gpt2::tokenizer::TextTokenizer;
use storybook_studio::ml::models::gpt2::{check_checkpoint, Config, Gpt2, KeyLayout};
use storybook_studio::ml::sampling::SamplingOptions;

fn write_corpus(dir: &Path, words: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let vocab = [
        "the", "fox", "ran", "over", "hill", "and", "owl", "sang", "to", "moon", "river",
    ];
    let text: Vec<&str> = (0..words)
        .map(|i| vocab[(i * 7 + i / 3) % vocab.len()])
        .collect();
    std::fs::write(dir.join("story.txt"), text.join(" ")).unwrap();
}

fn tiny() -> (Config, TextTokenizer) {
    (
        Config::from_file(&fixture("gpt2-tiny/config.json")).unwrap(),
        TextTokenizer::from_file(&fixture("gpt2-tiny/tokenizer.json")).unwrap(),
    )
}

#[test]
fn thirty_steps_lower_the_loss_and_the_checkpoint_reloads_and_writes() {
    let tmp = tempfile::tempdir().unwrap();
    write_corpus(&tmp.path().join("corpus"), 2000);
    let (cfg, tok) = tiny();
    let opts = FinetuneOptions {
        epochs: 3,
        lr: 2e-3,
        block_size: 32,
        batch_size: 4,
        val_split: 0.1,
        ..FinetuneOptions::default()
    };
    let corpus = Corpus::load(&[tmp.path().join("corpus")], &tok, 32, 0.1, 0).unwrap();
    let model = Trainable::load(
        &fixture("gpt2-tiny/model.safetensors"),
        &cfg,
        0,
        &Device::Cpu,
    )
    .unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut losses = Vec::new();
    let reports = train(
        &model,
        &corpus,
        &opts,
        &out,
        &Device::Cpu,
        &AtomicBool::new(false),
        |p| losses.push(p.loss),
    )
    .unwrap();
    assert!(losses.len() >= 30, "only {} steps", losses.len());
    let first: f64 = losses[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = losses[losses.len() - 5..].iter().sum::<f64>() / 5.0;
    assert!(last < first - 0.5, "loss went from {first} to {last}");
    assert!(reports.iter().any(|r| r.saved) && reports[0].val_loss.is_some());

    let weights = out.join("model.safetensors");
    assert_eq!(
        check_checkpoint(&weights, &cfg).unwrap(),
        KeyLayout::SavePretrained
    );
    let reloaded = Gpt2::from_file(&weights, &cfg, &Device::Cpu).unwrap();
    let g = generate(
        &reloaded,
        &tok,
        "the fox",
        &SamplingOptions::greedy(8),
        |_| ControlFlow::Continue(()),
    )
    .unwrap();
    assert_eq!(g.sequences[0].generated_token_ids.len(), 8);
}

#[test]
fn the_lm_loss_equals_cross_entropy_of_transformers_logits() {
    let (cfg, _) = tiny();
    let reference = load_tensors("gpt2-tiny/reference.safetensors");
    let json = read_json("gpt2-tiny/reference.json");
    let model = Trainable::load(
        &fixture("gpt2-tiny/model.safetensors"),
        &cfg,
        0,
        &Device::Cpu,
    )
    .unwrap();
    for i in 0..3 {
        let ids = ids_of(&json["prompts"][i]["input_ids"]);
        let ours = lm_loss(
            &model.model,
            &Tensor::new(ids.as_slice(), &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap(),
        )
        .unwrap()
        .to_scalar::<f32>()
        .unwrap() as f64;
        // Independent: log-softmax in f64 of the oracle's logits at each position.
        let logits = reference[&format!("p{i}.logits")]
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec2::<f64>()
            .unwrap();
        let mut sum = 0.0;
        for t in 0..ids.len() - 1 {
            let row = &logits[t];
            let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + row.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
            sum += lse - row[ids[t + 1] as usize];
        }
        let want = sum / (ids.len() - 1) as f64;
        assert!((ours - want).abs() < 1e-4, "prompt {i}: {ours} vs {want}");
        // The training step's own forward pass measures the same loss. It does not exist when
        // composed ops are forced (STORYBOOK_COMPOSED_OPS=1); autograd trains then.
        match FusedStep::new(&model).unwrap() {
            Some(mut step) => {
                let own = step.run(&[&ids]).unwrap();
                assert!(
                    (own - want).abs() < 1e-4,
                    "prompt {i}, own step: {own} vs {want}"
                );
            }
            None => assert!(composed_forced(), "the step covers the tiny GPT-2"),
        }
    }
}

#[test]
fn freezing_keeps_early_blocks_fixed() {
    let (cfg, _) = tiny();
    let all = Trainable::load(
        &fixture("gpt2-tiny/model.safetensors"),
        &cfg,
        0,
        &Device::Cpu,
    )
    .unwrap();
    let frozen = Trainable::load(
        &fixture("gpt2-tiny/model.safetensors"),
        &cfg,
        1,
        &Device::Cpu,
    )
    .unwrap();
    // 64-wide blocks hold 49,984 weights each; embeddings 50257*64 + 256*64.
    assert_eq!(
        all.trainable_parameters() - frozen.trainable_parameters(),
        49_984 + 50_257 * 64 + 256 * 64
    );
}

fn studio(args: &[&str], cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_storybook-studio"));
    cmd.args(args)
        .current_dir(cwd)
        .env("HF_HOME", cwd.join("hf"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9");
    cmd
}

#[test]
fn sigkill_mid_training_leaves_the_last_checkpoint_loadable() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    write_corpus(&corpus, 20_000);
    let out = tmp.path().join("out");
    let base = fixture("gpt2-tiny");
    let mut child = studio(
        &[
            "finetune",
            corpus.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--base",
            base.to_str().unwrap(),
            "--epochs",
            "50",
            "--block-size",
            "32",
            "--batch-size",
            "8",
            "--val-split",
            "0.05",
            "--lr",
            "1e-3",
            "--json",
        ],
        tmp.path(),
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let weights = out.join("model.safetensors");
    let started = Instant::now();
    while !weights.exists() && started.elapsed() < Duration::from_secs(180) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(weights.exists(), "no checkpoint within three minutes");
    // Let it get into the next epoch (and maybe a checkpoint write) before the kill.
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap();
    child.wait().unwrap();

    let cfg = Config::from_file(&out.join("config.json")).unwrap();
    let tok = TextTokenizer::from_file(&out.join("tokenizer.json")).unwrap();
    let model = Gpt2::from_file(&weights, &cfg, &Device::Cpu).unwrap();
    let g = generate(&model, &tok, "the owl", &SamplingOptions::greedy(5), |_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(g.sequences[0].generated_token_ids.len(), 5);
}

#[test]
fn bad_corpora_and_outputs_are_refused_with_a_sentence() {
    let tmp = tempfile::tempdir().unwrap();
    let base = fixture("gpt2-tiny");
    let run = |input: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "finetune",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--base",
            base.to_str().unwrap(),
            "--epochs",
            "1",
            "--block-size",
            "16",
        ];
        args.extend(extra);
        studio(&args, tmp.path()).output().unwrap()
    };
    let out = tmp.path().join("out");
    let empty = tmp.path().join("empty.txt");
    std::fs::write(&empty, "   \n").unwrap();
    let binary = tmp.path().join("photo.txt");
    std::fs::write(&binary, [0x89u8, b'P', b'N', b'G', 0, 0, 1, 2]).unwrap();
    let short = tmp.path().join("short.txt");
    std::fs::write(&short, "Just a few words.").unwrap();
    for (input, needle) in [
        (&empty, "corpus is empty"),
        (&binary, "binary"),
        (&short, "shorter than one block"),
        (&tmp.path().join("missing.txt"), "does not exist"),
    ] {
        let o = run(input, &out, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains(needle) && !err.contains("panicked"),
            "{needle}: {err}"
        );
    }

    let latin1 = tmp.path().join("latin1");
    std::fs::create_dir_all(&latin1).unwrap();
    let mut bytes = b"caf\xe9 ".repeat(60);
    bytes.extend(b"the fox ran over the hill ".repeat(20));
    std::fs::write(latin1.join("old.txt"), bytes).unwrap();
    let o = run(&latin1, &out, &["--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not valid UTF-8"));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["epochs"].as_array().unwrap().len(), 1);
    assert!(report["epochs"][0]["train_loss"]
        .as_f64()
        .unwrap()
        .is_finite());

    let locked = tmp.path().join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    let mut perms = std::fs::metadata(&locked).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&locked, perms).unwrap();
    let o = run(&latin1, &locked, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("not writable"), "{err}");
}
