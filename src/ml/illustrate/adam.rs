//! Adam on the latent, with its state in the open so a paused run can save and restore it.
//!
//! The arithmetic is candle-nn's `AdamW` (weight decay 0), op for op in the same order, so a
//! run's numbers are those it had with `AdamW`; candle keeps the moments private, which is why
//! this exists.

use candle_core::{Tensor, Var};

use crate::ml::Result;

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

pub struct Adam {
    pub lr: f64,
    /// First and second moments, shaped like z.
    pub m: Tensor,
    pub v: Tensor,
    /// Steps taken, for the bias correction.
    pub t: usize,
}

impl Adam {
    pub fn new(z: &Var, lr: f64) -> Result<Self> {
        Ok(Self {
            lr,
            m: z.as_tensor().zeros_like()?,
            v: z.as_tensor().zeros_like()?,
            t: 0,
        })
    }

    /// One update of `z` with gradient `g`.
    pub fn step(&mut self, z: &Var, g: &Tensor) -> Result<()> {
        self.t += 1;
        let scale_m = 1f64 / (1f64 - BETA1.powi(self.t as i32));
        let scale_v = 1f64 / (1f64 - BETA2.powi(self.t as i32));
        let next_m = ((&self.m * BETA1)? + (g * (1.0 - BETA1))?)?;
        let next_v = ((&self.v * BETA2)? + (g.sqr()? * (1.0 - BETA2))?)?;
        let m_hat = (&next_m * scale_m)?;
        let v_hat = (&next_v * scale_v)?;
        let theta = (z.as_tensor() * 1f64)?;
        let adjusted = (m_hat / (v_hat.sqrt()? + EPS)?)?;
        z.set(&(theta - (adjusted * self.lr)?)?)?;
        self.m = next_m;
        self.v = next_v;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::{AdamW, Optimizer, ParamsAdamW};

    /// Bit for bit what candle's AdamW gives over a few steps, at an odd shape.
    #[test]
    fn matches_candle_adamw_bit_for_bit() -> Result<()> {
        let dev = Device::Cpu;
        let start = Tensor::randn(0f32, 1.0, (1, 3, 5, 7), &dev)?;
        let (ours, theirs) = (Var::from_tensor(&start)?, Var::from_tensor(&start)?);
        let mut adam = Adam::new(&ours, 0.1)?;
        let params = ParamsAdamW {
            lr: 0.1,
            weight_decay: 0.0,
            ..Default::default()
        };
        let mut reference = AdamW::new(vec![theirs.clone()], params)?;
        for i in 0..5 {
            let target = Tensor::randn(0f32, 1.0, (1, 3, 5, 7), &dev)?;
            let loss = (theirs.as_tensor() - &target)?.sqr()?.sum_all()?;
            let grads = loss.backward()?;
            let g = grads.get(theirs.as_tensor()).unwrap().clone();
            reference.step(&grads)?;
            adam.step(&ours, &g)?;
            let (a, b) = (
                ours.as_tensor().flatten_all()?.to_vec1::<f32>()?,
                theirs.as_tensor().flatten_all()?.to_vec1::<f32>()?,
            );
            let same = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "step {i}: {a:?} != {b:?}");
        }
        Ok(())
    }
}
