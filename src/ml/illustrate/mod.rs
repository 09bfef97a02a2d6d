//! VQGAN+CLIP: a VQGAN latent is optimised until CLIP sees the prompt in the decoded image.
//!
//! The algorithm of the known-good notebooks (Crowson's VQGAN+CLIP): z starts from random
//! codebook entries or an encoded init image; each step quantizes z with a straight-through
//! gradient, decodes, clamps, takes augmented random cutouts, CLIP-encodes them, and minimises
//! the weighted spherical distance to every prompt with Adam; z is then kept inside the
//! codebook's range. All randomness comes from one seeded generator, so a seed reproduces an image.

mod adam;
pub mod cutouts;
mod options;
mod pixels;
pub mod precision;
pub mod prompts;
mod run;
mod saved;
pub mod spherical;
pub mod time_left;

pub use options::*;
pub use pixels::{rgb_to_tensor, tensor_to_rgb};
pub use precision::Precision;
pub use run::{saved_step, Outcome, Resume};

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use candle_core::{Device, Tensor, Var, D};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::ml::models::clip::tokenize::ClipTokenizer;
use crate::ml::models::clip::{self, Clip};
use crate::ml::models::vqgan::VqModel;
use crate::ml::{Error, Result};
use adam::Adam;
use cutouts::{whole_image, CutoutPlan};
use prompts::parse_prompts;
use spherical::spherical_distance;

struct StepOutput {
    image: Tensor,
    loss: f32,
    similarity: f32,
}

struct Target {
    embed: Tensor,
    weight: f32,
}

/// The models an illustration needs, borrowed. The tokenizer is only needed for text prompts.
pub struct Illustrator<'a> {
    pub clip: &'a Clip,
    pub tokenizer: Option<&'a ClipTokenizer>,
    pub vqgan: &'a VqModel,
}

/// The most optimisation steps one picture may take: runs of a few hundred to a few thousand
/// are usual, and a mistyped count of billions would only promise an absurd wait.
pub const MAX_ITERATIONS: usize = 100_000;

impl Illustrator<'_> {
    fn device(&self) -> &Device {
        self.clip.device()
    }

    /// The precision CLIP's image tower runs in (the decoder must run in the same): what a
    /// run's options must say.
    pub fn precision(&self) -> Precision {
        if self.clip.image_tower_is_bf16() {
            Precision::Bf16
        } else {
            Precision::F32
        }
    }

    fn validate(&self, opts: &IllustrateOptions) -> Result<()> {
        let grid = self.vqgan.config().downscale();
        fit_size(opts.width, opts.height, grid)?;
        if opts.iterations > MAX_ITERATIONS {
            return Err(Error::Input(format!(
                "at most {MAX_ITERATIONS} steps a picture (got {})",
                opts.iterations
            )));
        }
        if opts.cutn == 0 || opts.cutn > 256 {
            return Err(Error::Input(format!(
                "cutn must be between 1 and 256 (got {})",
                opts.cutn
            )));
        }
        if !(opts.lr.is_finite() && opts.lr > 0.0) {
            return Err(Error::Input(format!(
                "the learning rate must be positive (got {})",
                opts.lr
            )));
        }
        if !(opts.cut_pow.is_finite() && opts.cut_pow > 0.0) {
            return Err(Error::Input(format!(
                "cut_pow must be positive (got {})",
                opts.cut_pow
            )));
        }
        // The options are saved with the page: they must say what really ran.
        let running = self.precision();
        if self.vqgan.decoder_is_bf16() != (running == Precision::Bf16) {
            return Err(Error::Input(format!(
                "CLIP's image tower runs in {running} but the VQGAN decoder does not; \
                 illustrate::precision::prepare sets both up"
            )));
        }
        if opts.precision != running {
            return Err(Error::Input(format!(
                "the options ask for {} but CLIP's image tower runs in {running}; \
                 illustrate::precision::prepare sets the model up",
                opts.precision
            )));
        }
        Ok(())
    }

    /// The unit CLIP embeddings and weights of a prompt (with the style prefix and suffix), as
    /// [`Self::run_with_targets`] takes them; callers may cache them per prompt.
    pub fn prompt_targets(
        &self,
        prompt: &str,
        opts: &IllustrateOptions,
    ) -> Result<Vec<(Tensor, f32)>> {
        self.targets(prompt, &ImageInputs::default(), opts)
    }

    /// The unit CLIP embeddings and weights of the text and image prompts, as
    /// [`Self::run_resumable`] takes them.
    pub fn targets(
        &self,
        prompt: &str,
        inputs: &ImageInputs,
        opts: &IllustrateOptions,
    ) -> Result<Vec<(Tensor, f32)>> {
        let mut targets: Vec<(Tensor, f32)> = Vec::new();
        for p in parse_prompts(prompt, &opts.style_prefix, &opts.style_suffix)? {
            let tokenizer = self.tokenizer.ok_or_else(|| {
                Error::Input("text prompts need CLIP's tokenizer, which is not loaded".into())
            })?;
            let ids = tokenizer.batch(&[p.text.as_str()], self.device())?;
            let embed = clip::normalize(&self.clip.text_embeds(&ids)?)?;
            targets.push((embed, p.weight));
        }
        let size = self.clip.config().vision_config.image_size;
        for (img, weight) in &inputs.image_prompts {
            let pixels = clip::image::preprocess(img, size, self.device())?;
            let embed = clip::normalize(&self.clip.image_embeds(&pixels)?)?;
            targets.push((embed, *weight));
        }
        if targets.is_empty() {
            return Err(Error::Input(
                "there is nothing to illustrate: give a text prompt or an image prompt".into(),
            ));
        }
        Ok(targets)
    }

    /// CLIP's embedding of `image01` `[1, 3, h, w]` in [0, 1], as normalised pixels go in.
    fn embed_images(&self, images01: &Tensor) -> Result<Tensor> {
        let mean = Tensor::new(&clip::image::MEAN, self.device())?.reshape((1, 3, 1, 1))?;
        let std = Tensor::new(&clip::image::STD, self.device())?.reshape((1, 3, 1, 1))?;
        let pixels = images01.broadcast_sub(&mean)?.broadcast_div(&std)?;
        clip::normalize(&self.clip.image_embeds(&pixels)?)
    }

    /// Weighted mean cosine similarity of embeddings `[n, p]` to the positive targets.
    fn similarity(embeds: &Tensor, targets: &[Target]) -> Result<f32> {
        let (mut sum, mut total) = (0f32, 0f32);
        for t in targets.iter().filter(|t| t.weight > 0.0) {
            let cos = embeds.broadcast_mul(&t.embed)?.sum(D::Minus1)?.mean_all()?;
            sum += t.weight * cos.to_scalar::<f32>()?;
            total += t.weight;
        }
        Ok(if total > 0.0 { sum / total } else { 0.0 })
    }

    fn whole_similarity(&self, image01: &Tensor, targets: &[Target]) -> Result<f32> {
        let size = self.clip.config().vision_config.image_size;
        let embed = self.embed_images(&whole_image(&image01.detach(), size)?)?;
        Self::similarity(&embed, targets)
    }

    /// `decode(quantize(z))` mapped to [0, 1] and clamped with a straight-through gradient.
    fn render(&self, z: &Tensor) -> Result<Tensor> {
        let img = ((self.vqgan.decode(&self.vqgan.quantize(z)?)? + 1.0)? / 2.0)?;
        Ok((&img + (img.clamp(0f32, 1f32)? - &img)?.detach())?)
    }

    /// The starting latent: an encoded init image, or random codebook entries.
    fn initial_z(
        &self,
        inputs: &ImageInputs,
        width: usize,
        height: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Tensor> {
        let grid = self.vqgan.config().downscale();
        let (gw, gh) = (width / grid, height / grid);
        if let Some(init) = &inputs.init_image {
            let resized = image::imageops::resize(
                init,
                width as u32,
                height as u32,
                image::imageops::FilterType::CatmullRom,
            );
            let x = rgb_to_tensor(&resized, self.device())?.affine(2.0, -1.0)?;
            return self.vqgan.encode(&x);
        }
        let n = self.vqgan.config().n_embed as u32;
        let ids: Vec<u32> = (0..gw * gh).map(|_| rng.random_range(0..n)).collect();
        let ids = Tensor::from_vec(ids, (1, gh, gw), self.device())?;
        self.vqgan.lookup(&ids)
    }

    /// One optimisation step. The backward pass runs in two halves joined at the decoded image:
    /// CLIP's graph is freed before the decoder's backward starts, which lowers peak memory and
    /// lets each half be timed.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        z: &Var,
        z0: &Tensor,
        plan: &CutoutPlan,
        targets: &[Target],
        inputs: &ImageInputs,
        opts: &IllustrateOptions,
        adam: &mut Adam,
        z_min: &Tensor,
        z_max: &Tensor,
        stages: &mut StageTimes,
    ) -> Result<StepOutput> {
        let t = Instant::now();
        let image = self.render(z.as_tensor())?;
        release_scratch();
        stages.decode_forward += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let image_var = Var::from_tensor(&image.detach())?;
        let cut = plan.apply(image_var.as_tensor())?.clamp(-1f32, 2f32)?;
        let embeds = self.embed_images(&cut)?;
        let mut loss = Tensor::zeros((), candle_core::DType::F32, self.device())?;
        for target in targets {
            let dist = spherical_distance(&embeds, &target.embed)?.mean_all()?;
            loss = (loss + (dist * target.weight as f64)?)?;
        }
        let similarity = Self::similarity(&embeds.detach(), targets)?;
        let loss_value = loss.to_scalar::<f32>()?;
        stages.clip_forward += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let clip_grads = loss.backward()?;
        let image_grad = clip_grads
            .get(image_var.as_tensor())
            .cloned()
            .unwrap_or(image.zeros_like()?);
        drop(clip_grads);
        stages.clip_backward += t.elapsed().as_secs_f64();

        let t = Instant::now();
        // d(loss)/dz = backward of <image, d(loss)/d(image)> through the decoder.
        let mut surrogate = (&image * &image_grad)?.sum_all()?;
        let mut total_loss = loss_value;
        if inputs.init_image.is_some() && opts.init_weight > 0.0 {
            let pull = ((z.as_tensor() - z0)?.sqr()?.mean_all()? * (opts.init_weight / 2.0))?;
            total_loss += pull.to_scalar::<f32>()?;
            surrogate = (surrogate + pull)?;
        }
        let grads = surrogate.backward()?;
        release_scratch();
        stages.decoder_backward += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let grad = grads
            .get(z.as_tensor())
            .cloned()
            .unwrap_or(z.as_tensor().zeros_like()?);
        adam.step(z, &grad)?;
        z.set(
            &z.as_tensor()
                .broadcast_maximum(z_min)?
                .broadcast_minimum(z_max)?,
        )?;
        stages.optimizer += t.elapsed().as_secs_f64();
        Ok(StepOutput {
            image: image.detach(),
            loss: total_loss,
            similarity,
        })
    }

    /// Runs the optimisation. `on_step` is called after every step; a frame comes every
    /// `preview_every` steps and on the last. Setting `cancel` stops between steps.
    pub fn run(
        &self,
        prompt: &str,
        inputs: &ImageInputs,
        opts: &IllustrateOptions,
        cancel: &AtomicBool,
        on_step: impl FnMut(StepReport),
    ) -> Result<Illustration> {
        let targets = self.targets(prompt, inputs, opts)?;
        self.run_with_targets(targets, inputs, opts, cancel, on_step)
    }

    /// [`Self::run`] with targets already embedded (unit rows `[1, p]` and weights).
    pub fn run_with_targets(
        &self,
        targets: Vec<(Tensor, f32)>,
        inputs: &ImageInputs,
        opts: &IllustrateOptions,
        cancel: &AtomicBool,
        on_step: impl FnMut(StepReport),
    ) -> Result<Illustration> {
        match self.run_resumable(targets, inputs, opts, Resume::default(), cancel, on_step)? {
            Outcome::Done(done) => Ok(done),
            Outcome::Paused { .. } => Err(Error::Cancelled),
        }
    }
}

/// Frees the convolutions' per-thread scratch after each decoder pass. Within a pass it is
/// reused from layer to layer (no zeroing); kept through CLIP's stages, where the step's peak
/// is, it raised peak RSS at 128² with 32 cutouts from 1.94 to 1.97–1.98 GiB.
fn release_scratch() {
    crate::ml::kernels::winograd::release_scratch();
}
