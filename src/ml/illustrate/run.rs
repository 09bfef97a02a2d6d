//! A resumable run: the optimisation loop, its saved state and progressive refinement.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::adam::Adam;
use super::cutouts::{CutoutPlan, CutoutSettings};
use super::pixels::tensor_to_rgb;
use super::saved::RunState;
use super::time_left::TimeLeft;
use super::{
    fit_size, IllustrateOptions, Illustration, Illustrator, ImageInputs, StageTimes, StepReport,
    Target,
};
use crate::ml::{Error, Result};

/// How a run may be paused and continued.
#[derive(Debug, Clone, Copy, Default)]
pub struct Resume<'a> {
    /// A state an earlier run with the same options saved: the run goes on from its step.
    pub from: Option<&'a [u8]>,
    /// Hand the run's state to `on_step` ([`StepReport::state`]) when this long has passed
    /// since the last time, so a crash loses at most about this much work.
    pub save_every: Option<Duration>,
    /// What is drawn, in the caller's words (a prompt, digests of its images); saved with
    /// the state, and a state saved under another key is refused.
    pub key: &'a str,
}

/// How a resumable run ended.
pub enum Outcome {
    Done(Illustration),
    /// Stopped by the cancel flag after `step` steps; `state` continues it exactly.
    Paused {
        step: usize,
        state: Vec<u8>,
    },
}

impl Illustrator<'_> {
    /// [`Self::run_with_targets`] that can continue a saved state, hands its state out every
    /// `resume.save_every`, and on cancel returns the state it stopped at. A resumed run draws
    /// exactly the pixels an uninterrupted one would.
    pub fn run_resumable(
        &self,
        targets: Vec<(Tensor, f32)>,
        inputs: &ImageInputs,
        opts: &IllustrateOptions,
        resume: Resume,
        cancel: &AtomicBool,
        mut on_step: impl FnMut(StepReport),
    ) -> Result<Outcome> {
        self.validate(opts)?;
        let grid = self.vqgan.config().downscale();
        let (width, height, warning) = fit_size(opts.width, opts.height, grid)?;
        let targets: Vec<Target> = targets
            .into_iter()
            .map(|(embed, weight)| Target { embed, weight })
            .collect();
        let refine = progressive_plan(opts, inputs, width, height, grid);
        let saved = match resume.from {
            Some(bytes) => Some(RunState::from_bytes(bytes, self.device())?),
            None => None,
        };
        if let Some(state) = saved.as_ref().filter(|s| s.key != resume.key) {
            return Err(Error::Input(format!(
                "the saved state (step {}) belongs to another picture (“{}”, not “{}”); \
                 start this one again",
                state.step, state.key, resume.key
            )));
        }
        if let Some(state) = saved.as_ref().filter(|s| !s.fits(opts)) {
            let ran = state.options.precision;
            if ran != opts.precision
                && state.fits(&IllustrateOptions {
                    precision: ran,
                    ..opts.clone()
                })
            {
                let how = match crate::ml::kernels::bf16_gemm::unavailable_reason() {
                    Some(why) if ran == super::Precision::Bf16 => {
                        format!("{why}: continue it where bf16 runs")
                    }
                    _ => format!("continue it in {ran}"),
                };
                return Err(Error::Input(format!(
                    "the saved state (step {}) was drawn in {ran} and this run is in {}; {how}, \
                     or start the picture again",
                    state.step, opts.precision
                )));
            }
            return Err(Error::Input(format!(
                "the saved state (step {}) belongs to other settings than these; start the \
                 picture again",
                state.step
            )));
        }
        let (mut z, mut adam, mut rng, initial_similarity, first_step, z0);
        match saved {
            Some(state) => {
                z = Var::from_tensor(&state.z)?;
                adam = Adam {
                    lr: opts.lr,
                    m: state.m,
                    v: state.v,
                    t: state.adam_t,
                };
                rng = state.rng;
                initial_similarity = state.initial_similarity;
                first_step = state.step + 1;
                // The init image's latent is recomputed (no randomness goes into it); without
                // one, z0 is never read.
                z0 = match inputs.init_image {
                    Some(_) => self.initial_z(inputs, width, height, &mut rng.clone())?,
                    None => state.z,
                };
            }
            None => {
                rng = ChaCha8Rng::seed_from_u64(opts.seed);
                let (w, h) = refine.map_or((width, height), |r| r.half);
                z0 = self.initial_z(inputs, w, h, &mut rng)?;
                z = Var::from_tensor(&z0)?;
                adam = Adam::new(&z, opts.lr)?;
                // Detached: no gradient flows here, so the decoder keeps nothing for one.
                initial_similarity =
                    self.whole_similarity(&self.render(&z.as_tensor().detach())?, &targets)?;
                first_step = 1;
            }
        }
        let (_, _, gh, gw) = z.as_tensor().dims4()?;
        let (mut cur_w, mut cur_h) = (gw * grid, gh * grid);
        // Per-channel codebook range; z is clamped into it after every step.
        let z_min = self.vqgan.codebook.min(0)?.reshape((1, (), 1, 1))?;
        let z_max = self.vqgan.codebook.max(0)?.reshape((1, (), 1, 1))?;
        let settings = CutoutSettings {
            cutn: opts.cutn,
            cut_pow: opts.cut_pow,
            size: self.clip.config().vision_config.image_size,
            noise: opts.noise,
            jitter: opts.jitter,
        };
        let state_at = |step: usize, z: &Var, adam: &Adam, rng: &ChaCha8Rng| -> Result<Vec<u8>> {
            RunState {
                options: opts.clone(),
                step,
                z: z.as_tensor().clone(),
                m: adam.m.clone(),
                v: adam.v.clone(),
                adam_t: adam.t,
                rng: rng.clone(),
                initial_similarity,
                key: resume.key.to_string(),
            }
            .to_bytes()
        };
        let started = Instant::now();
        let mut last_saved = Instant::now();
        let mut done = first_step - 1;
        let mut stages = StageTimes::default();
        let mut time_left = TimeLeft::new(
            opts.iterations,
            refine.map(|r| r.switch_at),
            refine.map_or(1.0, |r| {
                (width * height) as f64 / (r.half.0 * r.half.1) as f64
            }),
        );
        // Each step's time runs from the end of the one before, so the caller's work between
        // steps (previews, saving) is counted too.
        let mut tick = Instant::now();
        for step in first_step..=opts.iterations {
            if cancel.load(Ordering::Relaxed) {
                let state = state_at(done, &z, &adam, &rng)?;
                return Ok(Outcome::Paused { step: done, state });
            }
            if refine.is_some_and(|r| step == r.switch_at) {
                // Each latent cell becomes four; Adam starts afresh for the new shape.
                let (gh, gw) = (height / grid, width / grid);
                z = Var::from_tensor(&z.as_tensor().upsample_nearest2d(gh, gw)?.detach())?;
                adam = Adam::new(&z, opts.lr)?;
                (cur_w, cur_h) = (width, height);
            }
            let plan = CutoutPlan::draw(&settings, cur_w, cur_h, &mut rng, self.device())?;
            let scaled_before = stages.scaled_with_area();
            let out = self.step(
                &z,
                &z0,
                &plan,
                &targets,
                inputs,
                opts,
                &mut adam,
                &z_min,
                &z_max,
                &mut stages,
            )?;
            done = step;
            let want_frame = step == opts.iterations
                || (opts.preview_every > 0 && step % opts.preview_every == 0);
            let frame = if want_frame {
                Some(tensor_to_rgb(&out.image)?)
            } else {
                None
            };
            let state = match resume.save_every {
                Some(every) if last_saved.elapsed() >= every && step < opts.iterations => {
                    last_saved = Instant::now();
                    Some(state_at(step, &z, &adam, &rng)?)
                }
                _ => None,
            };
            time_left.record(
                step,
                tick.elapsed().as_secs_f64(),
                stages.scaled_with_area() - scaled_before,
            );
            tick = Instant::now();
            on_step(StepReport {
                step,
                iterations: opts.iterations,
                loss: out.loss,
                similarity: out.similarity,
                frame: frame.as_ref(),
                state: state.as_deref(),
                seconds_left: time_left.seconds_left(step),
            });
        }
        let ran = done + 1 - first_step;
        let seconds = started.elapsed().as_secs_f64();
        // Detached, as the first render: the decoder's saved activations would otherwise stay
        // alive beside CLIP's forward pass for the final similarity.
        let final_image = self.render(&z.as_tensor().detach())?;
        Ok(Outcome::Done(Illustration {
            image: tensor_to_rgb(&final_image)?,
            width,
            height,
            iterations: done,
            initial_similarity,
            final_similarity: self.whole_similarity(&final_image, &targets)?,
            seconds_per_iteration: if ran > 0 { seconds / ran as f64 } else { 0.0 },
            stages: stages.averaged(ran),
            warnings: warning.into_iter().collect(),
        }))
    }
}

/// The step a saved state continues from, if it is a usable state for a run with `opts`.
pub fn saved_step(bytes: &[u8], opts: &IllustrateOptions) -> Option<usize> {
    let state = RunState::from_bytes(bytes, &Device::Cpu).ok()?;
    state.fits(opts).then_some(state.step)
}

#[derive(Debug, Clone, Copy)]
struct Refinement {
    half: (usize, usize),
    /// The first step run at full size.
    switch_at: usize,
}

/// Where progressive refinement switches to full size, when it applies at all.
fn progressive_plan(
    opts: &IllustrateOptions,
    inputs: &ImageInputs,
    width: usize,
    height: usize,
    grid: usize,
) -> Option<Refinement> {
    let (gw, gh) = (width / grid, height / grid);
    if !opts.progressive || inputs.init_image.is_some() || gw < 2 || gh < 2 || opts.iterations < 3 {
        return None;
    }
    Some(Refinement {
        half: (gw.div_ceil(2) * grid, gh.div_ceil(2) * grid),
        switch_at: opts.iterations * 2 / 3 + 1,
    })
}
