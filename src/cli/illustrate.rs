//! `storybook-studio illustrate TEXT --out OUT.png`: one picture by VQGAN+CLIP.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::progress::TerminalDownload;
use super::GlobalArgs;
use crate::ml::illustrate::{
    IllustrateOptions, Illustrator, ImageInputs, Outcome, Precision, Resume,
};
use crate::ml::image_io::{ascii_json, encode_png_with_text, load_rgb};
use crate::ml::weights::ModelKind;

#[derive(Debug, clap::Args)]
pub struct IllustrateArgs {
    /// What to draw; `text:weight|other:-0.5` weighs several prompts.
    pub text: String,
    /// Where to save the picture: .png (keeps the recipe inside) or .jpg. Checked before any
    /// work starts.
    #[arg(long, value_name = "OUT.png")]
    pub out: PathBuf,
    /// CLIP folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long, value_name = "DIR")]
    pub clip: Option<PathBuf>,
    /// VQGAN folder, or its .ckpt / .safetensors with the .yaml beside it.
    #[arg(long, value_name = "PATH")]
    pub vqgan: Option<PathBuf>,
    /// WIDTHxHEIGHT, rounded to the model's grid (16 pixels for f16 models).
    #[arg(long, default_value = "256x256", value_parser = parse_size)]
    pub size: (usize, usize),
    #[arg(long, default_value_t = 200)]
    pub iterations: usize,
    #[arg(long, default_value_t = 32)]
    pub cutn: usize,
    #[arg(long, default_value_t = 1.0)]
    pub cut_pow: f64,
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_name = "PATH")]
    pub init_image: Option<PathBuf>,
    #[arg(long, default_value_t = 0.0)]
    pub init_weight: f64,
    /// An image whose CLIP embedding is a target; `PATH:weight` sets its weight. Repeatable.
    #[arg(long, value_name = "PATH")]
    pub image_prompt: Vec<String>,
    #[arg(long, default_value = "")]
    pub style_prefix: String,
    #[arg(long, default_value = "")]
    pub style_suffix: String,
    /// Save a frame every N steps into --frames-dir.
    #[arg(long, value_name = "N", requires = "frames_dir")]
    pub save_every: Option<usize>,
    #[arg(long, value_name = "DIR")]
    pub frames_dir: Option<PathBuf>,
    /// Go on from the state a paused run saved (OUT.png.resume, written every few seconds
    /// and on Ctrl-C); the other options must be those of that run.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// A quick look: 128x128, 8 cutouts, 50 steps (replaces --size, --cutn and --iterations).
    #[arg(long)]
    pub draft: bool,
    /// Progressive refinement: two thirds of the steps at half size, then z upsampled 2x.
    #[arg(long)]
    pub progressive: bool,
    /// f32 (exact), or bf16: CLIP's image tower and the VQGAN decoder's wide layers multiply in
    /// bf16, several times faster products on Xeons with AMX, up to about twice as fast with a
    /// fast AVX512-BF16 (AMD Zen 4 and later); elsewhere it says so and draws in f32.
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
}

pub(crate) fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT, e.g. 256x256"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| format!("'{s}' is not WIDTHxHEIGHT, e.g. 256x256"))
    };
    Ok((parse(w)?, parse(h)?))
}

/// `path` or `path:weight`; the weight form applies only when the path part exists.
fn parse_image_prompt(spec: &str) -> (PathBuf, f32) {
    if let Some((path, w)) = spec.rsplit_once(':') {
        if let Ok(weight) = w.parse::<f32>() {
            if Path::new(path).exists() {
                return (PathBuf::from(path), weight);
            }
        }
    }
    (PathBuf::from(spec), 1.0)
}

#[derive(Serialize)]
struct Report<'a> {
    out: &'a Path,
    width: usize,
    height: usize,
    iterations: usize,
    initial_similarity: f32,
    final_similarity: f32,
    seconds_per_iteration: f64,
    seed: u64,
    precision: Precision,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

impl IllustrateArgs {
    pub fn options(&self) -> IllustrateOptions {
        let (size, iterations, cutn) = if self.draft {
            ((128, 128), 50, 8)
        } else {
            (self.size, self.iterations, self.cutn)
        };
        IllustrateOptions {
            width: size.0,
            height: size.1,
            iterations,
            cutn,
            progressive: self.progressive,
            cut_pow: self.cut_pow,
            lr: self.lr,
            seed: self.seed,
            init_weight: self.init_weight,
            preview_every: self.save_every.unwrap_or(0),
            style_prefix: self.style_prefix.clone(),
            style_suffix: self.style_suffix.clone(),
            precision: self.precision,
            ..IllustrateOptions::default()
        }
    }
}

/// The picture formats `--out` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PictureFormat {
    Png,
    Jpeg,
}

fn picture_format(out: &Path) -> anyhow::Result<PictureFormat> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => Ok(PictureFormat::Png),
        Some("jpg" | "jpeg") => Ok(PictureFormat::Jpeg),
        _ => anyhow::bail!(
            "{} should end in .png (which keeps the recipe) or .jpg",
            out.display()
        ),
    }
}

/// The picture as the bytes of its file; a PNG carries its recipe, a JPEG cannot.
fn encode(
    image: &image::RgbImage,
    format: PictureFormat,
    recipe: &serde_json::Value,
) -> anyhow::Result<Vec<u8>> {
    Ok(match format {
        PictureFormat::Png => encode_png_with_text(
            image,
            &[
                ("storybook-recipe", &ascii_json(recipe)),
                ("Software", "Storybook Studio"),
            ],
        )?,
        PictureFormat::Jpeg => {
            let mut bytes = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 92)
                .encode_image(image)
                .context("cannot encode the JPEG")?;
            bytes
        }
    })
}

/// The prompt, and a digest of each input image's pixels with its weight: a saved state is
/// only continued for the same picture.
fn picture_key(text: &str, inputs: &ImageInputs) -> String {
    let digest = |img: &image::RgbImage| {
        img.as_raw().iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    let mut key = text.to_string();
    if let Some(init) = &inputs.init_image {
        key.push_str(&format!(" | init {:016x}", digest(init)));
    }
    for (img, weight) in &inputs.image_prompts {
        key.push_str(&format!(" | image {:016x}:{weight}", digest(img)));
    }
    key
}

/// Where a run keeps its state while it draws `out`: beside it, with `.resume` added.
fn state_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".resume");
    PathBuf::from(name)
}

pub fn run(global: &GlobalArgs, args: IllustrateArgs) -> anyhow::Result<()> {
    super::interrupt::install();
    let mut opts = args.options();
    let saved = match &args.resume {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("the saved state {} could not be read", path.display()))?,
        ),
        None => None,
    };
    // Where the picture goes is checked first: a drawing must never be lost at the end.
    crate::export::check_writable(&args.out).map_err(anyhow::Error::msg)?;
    let format = picture_format(&args.out)?;
    // Inputs are read before the models so a bad file fails fast.
    let mut inputs = ImageInputs::default();
    if let Some(path) = &args.init_image {
        inputs.init_image = Some(load_rgb(path)?);
    }
    for spec in &args.image_prompt {
        let (path, weight) = parse_image_prompt(spec);
        inputs.image_prompts.push((load_rgb(&path)?, weight));
    }
    if let Some(dir) = &args.frames_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the frames folder {}", dir.display()))?;
    }
    let locator = global.locator();
    let device = crate::ml::device::open(&global.device)?;
    let mut progress = TerminalDownload::new(global.json);
    let clip_files = locator.locate(ModelKind::Clip, args.clip.as_deref(), &mut progress)?;
    let vq_files = locator.locate(ModelKind::Vqgan, args.vqgan.as_deref(), &mut progress)?;
    let (mut clip, tokenizer) = crate::ml::models::load::clip(&clip_files, &device)?;
    let mut vqgan = crate::ml::models::load::vqgan(&vq_files, &device)?;
    let (precision, precision_warning) =
        crate::ml::illustrate::precision::prepare(&mut clip, &mut vqgan, opts.precision)?;
    opts.precision = precision;
    if let Some(w) = &precision_warning {
        eprintln!("warning: {w}");
    }

    let bar = if global.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(opts.iterations as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {per_sec}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let targets = Illustrator {
        clip: &clip,
        tokenizer: Some(&tokenizer),
        vqgan: &vqgan,
    }
    .targets(&args.text, &inputs, &opts)?;
    // One picture per process: what its steps never use is freed before they start, which
    // lowers the peak by the text tower (253 MB for ViT-B/32) and the encoder (117 MB).
    clip.free_text_tower();
    if inputs.init_image.is_none() {
        vqgan.free_encoder();
    }
    // The allocator keeps freed blocks for reuse (see `memory`); these will not come back, so
    // they are returned to the system now rather than counted in the run's peak.
    crate::memory::release_memory();
    let illustrator = Illustrator {
        clip: &clip,
        tokenizer: Some(&tokenizer),
        vqgan: &vqgan,
    };
    let mut frame_error = None;
    let state_file = state_path(&args.out);
    let key = picture_key(&args.text, &inputs);
    let resume = Resume {
        from: saved.as_deref(),
        save_every: Some(Duration::from_secs(8)),
        key: &key,
    };
    let cancel = super::interrupt::flag();
    let outcome = illustrator.run_resumable(targets, &inputs, &opts, resume, cancel, |r| {
        bar.set_position(r.step as u64);
        if let Some(state) = r.state {
            // Best effort: a failed save only means more work to redo after a crash.
            let _ = crate::export::write_atomically(&state_file, state);
        }
        // indicatif's own eta averages every step so far; the run's estimate knows that the
        // full-size steps after a half-size start cost more.
        let left = r
            .seconds_left
            .map(|s| format!("about {} left  ", super::progress::duration_label(s)))
            .unwrap_or_default();
        bar.set_message(format!(
            "{left}similarity {:.3}  loss {:.3}",
            r.similarity, r.loss
        ));
        if let (Some(frame), Some(dir)) = (r.frame, &args.frames_dir) {
            let path = dir.join(format!("frame_{:05}.png", r.step));
            if let Err(e) = frame.save(&path) {
                frame_error.get_or_insert(format!("cannot save {}: {e}", path.display()));
            }
        }
    })?;
    bar.finish_and_clear();
    let result = match outcome {
        Outcome::Done(result) => result,
        Outcome::Paused { step, state } => {
            crate::export::write_atomically(&state_file, &state).map_err(anyhow::Error::msg)?;
            let said = format!(
                "paused at step {step} of {}: the state is saved in {}; go on with the same \
                 command and --resume {}",
                opts.iterations,
                state_file.display(),
                super::shell_word(&state_file)
            );
            if global.json {
                println!(
                    "{}",
                    serde_json::json!({ "error": said, "interrupted": true, "paused_step": step,
                        "state": state_file })
                );
            }
            eprintln!("{said}.");
            std::process::exit(130);
        }
    };
    let recipe = serde_json::json!({
        "prompt": args.text,
        "options": opts,
        "models": {
            "clip": clip_files.location.display().to_string(),
            "vqgan": vq_files.location.display().to_string(),
        },
        "engine": concat!("storybook-studio ", env!("CARGO_PKG_VERSION"), " (", env!("STORYBOOK_COMMIT"), ")"),
    });
    let bytes = encode(&result.image, format, &recipe)?;
    crate::export::write_or_rescue(&args.out, &bytes, "picture").map_err(anyhow::Error::msg)?;
    // The picture is finished: the state that could continue it has no use left.
    let _ = std::fs::remove_file(&state_file);
    // The picture is saved before a failed frame is reported, so it is never lost to one.
    if let Some(e) = frame_error {
        anyhow::bail!(
            "{e}; the picture itself was saved to {}",
            args.out.display()
        );
    }
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    let warnings: Vec<String> = precision_warning
        .into_iter()
        .chain(result.warnings.iter().cloned())
        .collect();
    let report = Report {
        out: &args.out,
        width: result.width,
        height: result.height,
        iterations: result.iterations,
        initial_similarity: result.initial_similarity,
        final_similarity: result.final_similarity,
        seconds_per_iteration: result.seconds_per_iteration,
        seed: opts.seed,
        precision: opts.precision,
        warnings: &warnings,
    };
    if global.json {
        return super::print_json(&report);
    }
    println!(
        "{} ({}x{}): similarity {:.3} -> {:.3}, {:.2} s/step",
        args.out.display(),
        result.width,
        result.height,
        result.initial_similarity,
        result.final_similarity,
        result.seconds_per_iteration
    );
    Ok(())
}
