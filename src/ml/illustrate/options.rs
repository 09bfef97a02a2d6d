//! The settings of one illustration, what a run reports, and the size rules.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::precision::Precision;
use crate::ml::{Error, Result};

/// The largest side we accept: beyond it the decoder's activations exceed a laptop's memory.
pub const MAX_SIDE: usize = 2048;

/// Every setting of one illustration; stored with each page so it can be reproduced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IllustrateOptions {
    pub width: usize,
    pub height: usize,
    pub iterations: usize,
    pub cutn: usize,
    pub cut_pow: f64,
    pub lr: f64,
    pub seed: u64,
    /// Pull towards the init image's latent (MSE on z); 0 lets the image wander freely.
    pub init_weight: f64,
    /// A preview frame every this many steps (0: none).
    pub preview_every: usize,
    pub style_prefix: String,
    pub style_suffix: String,
    /// Largest per-cutout noise factor.
    pub noise: f32,
    /// Largest colour jitter (contrast, brightness, saturation).
    pub jitter: f32,
    /// Progressive refinement: the first two thirds of the steps run at half the size, then z is
    /// upsampled 2× and refined at full size. Faster for the same step count; the picture
    /// differs from a full-size run with the same seed. Ignored with an init image.
    pub progressive: bool,
    /// What CLIP's image tower and the decoder's F(2×2) layers compute their products in. A saved page keeps the precision it
    /// really ran in: bf16 asked where no bf16 kernel runs, and is saved, as f32.
    pub precision: Precision,
}

impl Default for IllustrateOptions {
    fn default() -> Self {
        Self {
            width: 256,
            height: 256,
            iterations: 200,
            cutn: 32,
            cut_pow: 1.0,
            lr: 0.1,
            seed: 0,
            init_weight: 0.0,
            preview_every: 10,
            style_prefix: String::new(),
            style_suffix: String::new(),
            noise: 0.1,
            jitter: 0.05,
            progressive: false,
            precision: Precision::F32,
        }
    }
}

/// Rounds a requested size to the model's grid, refusing sizes no one could mean.
pub fn fit_size(
    width: usize,
    height: usize,
    grid: usize,
) -> Result<(usize, usize, Option<String>)> {
    if width == 0 || height == 0 {
        return Err(Error::Input(format!(
            "an image of {width}x{height} has no pixels; ask for at least {grid}x{grid}"
        )));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(Error::Input(format!(
            "{width}x{height} is too large; each side can be at most {MAX_SIDE} pixels"
        )));
    }
    let round = |v: usize| ((v + grid / 2) / grid).max(1) * grid;
    let (w, h) = (round(width), round(height));
    let warning = (w != width || h != height)
        .then(|| format!("the size {width}x{height} was rounded to {w}x{h}, a multiple of {grid}"));
    Ok((w, h, warning))
}

/// Images that steer the run.
#[derive(Default)]
pub struct ImageInputs {
    pub init_image: Option<RgbImage>,
    /// Images whose CLIP embedding is a target, with weights.
    pub image_prompts: Vec<(RgbImage, f32)>,
}

/// What the per-step callback sees.
pub struct StepReport<'a> {
    /// 1-based.
    pub step: usize,
    pub iterations: usize,
    pub loss: f32,
    /// Mean cosine similarity of this step's cutouts to the positive prompts.
    pub similarity: f32,
    pub frame: Option<&'a RgbImage>,
    /// The run's state after this step, when a resumable run saves one ([`super::Resume`]).
    pub state: Option<&'a [u8]>,
    /// Seconds the run has left, from this run's measured steps ([`super::time_left`]).
    pub seconds_left: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Illustration {
    pub image: RgbImage,
    pub width: usize,
    pub height: usize,
    pub iterations: usize,
    pub initial_similarity: f32,
    pub final_similarity: f32,
    pub seconds_per_iteration: f64,
    /// Mean seconds per step spent in each stage.
    pub stages: StageTimes,
    pub warnings: Vec<String>,
}

/// Where a step's time goes; the backward pass is split at the decoded image to measure it.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageTimes {
    pub decode_forward: f64,
    pub clip_forward: f64,
    pub clip_backward: f64,
    pub decoder_backward: f64,
    pub optimizer: f64,
}

impl StageTimes {
    /// The stages that grow with the picture's area: VQGAN's decoding both ways and Adam over
    /// the latents. CLIP's always see 224² cutouts.
    pub fn scaled_with_area(&self) -> f64 {
        self.decode_forward + self.decoder_backward + self.optimizer
    }

    pub(super) fn averaged(self, steps: usize) -> Self {
        let n = steps.max(1) as f64;
        Self {
            decode_forward: self.decode_forward / n,
            clip_forward: self.clip_forward / n,
            clip_backward: self.clip_backward / n,
            decoder_backward: self.decoder_backward / n,
            optimizer: self.optimizer / n,
        }
    }
}
