//! How long a run has left, from the seconds per step measured in this run.
//!
//! A plain average over the steps so far is wrong twice over: the first steps pay for warm-up,
//! and with progressive refinement the first two thirds run at half size, where the VQGAN part
//! of a step (decoding, its backward pass, Adam) costs a quarter of what it will at full size
//! while CLIP's part (its cutouts are always 224²) stays the same. So the estimate keeps the
//! recent steps of the current phase only, and until the full-size phase has been measured it
//! predicts it by scaling the VQGAN part of the measured steps by the area.

use std::collections::VecDeque;

/// Steps of the current phase the rate is taken over: recent enough to follow a machine that
/// slows down, enough to smooth a preview frame or a checkpoint now and then.
const WINDOW: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: f64,
    scaled: f64,
}

/// The time-left estimate of one run.
#[derive(Debug, Clone)]
pub struct TimeLeft {
    iterations: usize,
    /// The first full-size step, when the run starts at half size.
    switch_at: Option<usize>,
    /// Latent cells of a full-size step over a half-size one.
    area_ratio: f64,
    in_full_phase: bool,
    /// The current phase's first step, which pays for warm-up (allocations, new shapes): used
    /// only until a second step has been measured.
    warmup: Option<Sample>,
    recent: VecDeque<Sample>,
    /// The full-size rate the half-size steps predicted, kept across the switch: the first
    /// full-size step also pays for the upsampling and new shapes, so alone it overstates.
    predicted_full: Option<f64>,
}

impl TimeLeft {
    /// For a run of `iterations` steps that switches to full size at `switch_at` (if it
    /// starts at half size), with `area_ratio` times the latent cells there.
    pub fn new(iterations: usize, switch_at: Option<usize>, area_ratio: f64) -> Self {
        Self {
            iterations,
            switch_at,
            area_ratio: area_ratio.max(1.0),
            in_full_phase: switch_at.is_none(),
            warmup: None,
            recent: VecDeque::with_capacity(WINDOW),
            predicted_full: None,
        }
    }

    /// Records that step `step` (1-based) took `wall` seconds, `scaled` of them in the parts
    /// that grow with the picture (VQGAN's decoding and backward pass, the optimiser).
    pub fn record(&mut self, step: usize, wall: f64, scaled: f64) {
        let full = self.switch_at.is_none_or(|s| step >= s);
        if full != self.in_full_phase {
            self.predicted_full = self
                .rates()
                .map(|(wall, scaled)| self.full_rate(wall, scaled));
            self.in_full_phase = full;
            self.warmup = None;
            self.recent.clear();
        }
        let wall = wall.max(0.0);
        let sample = Sample {
            wall,
            scaled: scaled.clamp(0.0, wall),
        };
        if self.warmup.is_none() {
            self.warmup = Some(sample);
            return;
        }
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(sample);
    }

    /// Seconds left after step `step`, or `None` before any step has been measured.
    pub fn seconds_left(&self, step: usize) -> Option<f64> {
        let (mut wall, scaled) = self.rates()?;
        let left = self.iterations.saturating_sub(step);
        match self.switch_at {
            Some(s) if !self.in_full_phase => {
                let half_left = s.saturating_sub(step + 1).min(left);
                let full_left = left - half_left;
                let full_rate = self.full_rate(wall, scaled);
                Some(half_left as f64 * wall + full_left as f64 * full_rate)
            }
            _ => {
                if self.recent.is_empty() {
                    if let Some(predicted) = self.predicted_full {
                        wall = wall.min(predicted);
                    }
                }
                Some(left as f64 * wall)
            }
        }
    }

    /// Mean seconds per step of the current phase, and the part that scales with the area:
    /// its measured steps after the warm-up, or the warm-up step while it is the only one.
    fn rates(&self) -> Option<(f64, f64)> {
        match (self.recent.len(), self.warmup) {
            (0, None) => None,
            (0, Some(w)) => Some((w.wall, w.scaled)),
            (n, _) => Some((
                self.recent.iter().map(|s| s.wall).sum::<f64>() / n as f64,
                self.recent.iter().map(|s| s.scaled).sum::<f64>() / n as f64,
            )),
        }
    }

    /// A full-size step's seconds predicted from a half-size step's.
    fn full_rate(&self, wall: f64, scaled: f64) -> f64 {
        wall + scaled * (self.area_ratio - 1.0)
    }
}

#[cfg(test)]
#[path = "time_left_tests.rs"]
mod tests;
