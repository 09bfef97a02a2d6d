//! Next-token cross-entropy as one fused op on the CPU: the mean over rows of
//! `logsumexp(logits) - logits[target]`, whose backward writes `softmax - one_hot` directly.
//!
//! Why: candle_nn's `cross_entropy` is `log_softmax` then `gather`, composed of primitive ops. For
//! GPT-2 every one of those ops makes a `[rows, 50257]` tensor (the max's broadcast, the
//! difference, its exp, the log-softmax, the gather's scatter, their gradients), and the forward
//! ones stay alive until the backward pass ends. At batch 4 × 128 tokens each is 103 MB, and
//! fine-tuning even the 2-layer test model peaked at 1.7 GB. Fused, only the logits and their
//! gradient are vocabulary-sized.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Mean cross-entropy of `logits` `[rows, vocab]` (f32 or f64) against `targets` `[rows]` (u32).
/// Off the CPU it falls back to candle_nn's composed version, which every device supports.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    if !logits.device().is_cpu() {
        return candle_nn::loss::cross_entropy(logits, targets);
    }
    let targets = targets.to_dtype(DType::U32)?.contiguous()?;
    logits.contiguous()?.apply_op2(&targets, CrossEntropy)
}

struct CrossEntropy;

/// `softmax - one_hot`, times `scale`; the backward of [`CrossEntropy`], never differentiated.
struct CrossEntropyGrad {
    scale: f64,
}

/// The row width, where the logits lie in their storage, and the targets, all checked.
fn views<'a>(
    s1: &CpuStorage,
    l1: &Layout,
    s2: &'a CpuStorage,
    l2: &Layout,
) -> Result<(usize, (usize, usize), &'a [u32])> {
    let (rows, vocab) = l1.shape().dims2()?;
    let Some((a, b)) = l2.contiguous_offsets() else {
        candle_core::bail!("cross-entropy needs contiguous targets")
    };
    let CpuStorage::U32(t) = s2 else {
        candle_core::bail!("cross-entropy targets must be u32 token ids")
    };
    let targets = &t[a..b];
    if targets.len() != rows || vocab == 0 {
        candle_core::bail!(
            "cross-entropy got {} targets for {rows} rows of {vocab} logits",
            targets.len()
        )
    }
    if let Some(bad) = targets.iter().find(|&&t| t as usize >= vocab) {
        candle_core::bail!("token id {bad} is outside the vocabulary of {vocab}")
    }
    let Some(span) = l1.contiguous_offsets() else {
        candle_core::bail!("cross-entropy needs contiguous logits")
    };
    if !matches!(s1, CpuStorage::F32(_) | CpuStorage::F64(_)) {
        candle_core::bail!("cross-entropy needs f32 or f64 logits")
    }
    Ok((vocab, span, targets))
}

/// The float types the op takes. f32, the training type, uses the polynomial `exp` and eight
/// accumulator lanes so the loops vectorise; f64 (for the gradient tests) uses the library's.
trait Logit: Copy + Send + Sync + 'static {
    const ZERO: Self;
    fn to_f64(self) -> f64;
    fn from_f64(x: f64) -> Self;
    /// `e^(x - max)` for every `x` of `row`, written to `out` when given, and their sum.
    fn exp_sum(row: &[Self], max: Self, out: Option<&mut [Self]>) -> f64;
    fn max(row: &[Self]) -> Self;
}

const LANES: usize = 8;

impl Logit for f32 {
    const ZERO: Self = 0.0;
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn exp_sum(row: &[f32], max: f32, out: Option<&mut [f32]>) -> f64 {
        let mut lanes = [0f64; LANES];
        let mut add = |i: usize, x: f32| {
            let e = crate::ml::fast_math::exp(x - max);
            lanes[i % LANES] += e as f64;
            e
        };
        match out {
            Some(out) => {
                for (i, (o, &x)) in out.iter_mut().zip(row).enumerate() {
                    *o = add(i, x);
                }
            }
            None => {
                for (i, &x) in row.iter().enumerate() {
                    add(i, x);
                }
            }
        }
        lanes.iter().sum()
    }
    fn max(row: &[f32]) -> f32 {
        let mut lanes = [f32::NEG_INFINITY; LANES];
        let chunks = row.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for (m, &x) in lanes.iter_mut().zip(c) {
                *m = m.max(x);
            }
        }
        lanes
            .into_iter()
            .chain(rest.iter().copied())
            .fold(f32::NEG_INFINITY, f32::max)
    }
}

impl Logit for f64 {
    const ZERO: Self = 0.0;
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(x: f64) -> Self {
        x
    }
    fn exp_sum(row: &[f64], max: f64, out: Option<&mut [f64]>) -> f64 {
        match out {
            Some(out) => {
                let mut sum = 0.0;
                for (o, &x) in out.iter_mut().zip(row) {
                    *o = (x - max).exp();
                    sum += *o;
                }
                sum
            }
            None => row.iter().map(|&x| (x - max).exp()).sum(),
        }
    }
    fn max(row: &[f64]) -> f64 {
        row.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

/// `log Σ e^x` of one row: its max plus the log of the shifted sum, so nothing overflows.
/// A NaN anywhere in the row makes the sum NaN, so a diverged model shows as a NaN loss.
fn log_sum_exp<T: Logit>(row: &[T]) -> f64 {
    let max = T::max(row);
    max.to_f64() + T::exp_sum(row, max, None).ln()
}

fn mean_loss<T: Logit>(logits: &[T], vocab: usize, targets: &[u32]) -> f64 {
    let total: f64 = logits
        .par_chunks(vocab)
        .zip(targets.par_iter())
        .map(|(row, &t)| log_sum_exp(row) - row[t as usize].to_f64())
        .sum();
    total / targets.len() as f64
}

/// `scale · (softmax(row) - one_hot(target))` for every row.
fn gradient<T: Logit>(logits: &[T], vocab: usize, targets: &[u32], scale: f64) -> Vec<T> {
    let mut out = vec![T::ZERO; logits.len()];
    out.par_chunks_mut(vocab)
        .zip(logits.par_chunks(vocab).zip(targets.par_iter()))
        .for_each(|(g, (row, &t))| {
            // One pass of exp: write the shifted exponentials, then normalise them in place.
            let max = T::max(row);
            let k = scale / T::exp_sum(row, max, Some(g));
            for gi in g.iter_mut() {
                *gi = T::from_f64(gi.to_f64() * k);
            }
            let own = g[t as usize].to_f64();
            g[t as usize] = T::from_f64(own - scale);
        });
    out
}

impl CustomOp2 for CrossEntropy {
    fn name(&self) -> &'static str {
        "cross-entropy"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (vocab, (a, b), targets) = views(s1, l1, s2, l2)?;
        let out = match s1 {
            CpuStorage::F32(v) => CpuStorage::F32(vec![mean_loss(&v[a..b], vocab, targets) as f32]),
            CpuStorage::F64(v) => CpuStorage::F64(vec![mean_loss(&v[a..b], vocab, targets)]),
            _ => candle_core::bail!("cross-entropy needs f32 or f64 logits"),
        };
        Ok((out, Shape::from(())))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let rows = logits.dim(0)?;
        let upstream = grad_res.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        let grad = logits.apply_op2_no_bwd(
            targets,
            &CrossEntropyGrad {
                scale: upstream / rows as f64,
            },
        )?;
        Ok((Some(grad), None))
    }
}

impl CustomOp2 for CrossEntropyGrad {
    fn name(&self) -> &'static str {
        "cross-entropy-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (vocab, (a, b), targets) = views(s1, l1, s2, l2)?;
        let out = match s1 {
            CpuStorage::F32(v) => CpuStorage::F32(gradient(&v[a..b], vocab, targets, self.scale)),
            CpuStorage::F64(v) => CpuStorage::F64(gradient(&v[a..b], vocab, targets, self.scale)),
            _ => candle_core::bail!("cross-entropy needs f32 or f64 logits"),
        };
        Ok((out, l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn logits_f64() -> (Vec<f64>, Vec<u32>) {
        // Three rows of seven, with large and negative values so the max shift matters.
        let x: Vec<f64> = (0..21)
            .map(|i| ((i * 37 % 11) as f64 - 5.0) * 0.9 + if i == 4 { 40.0 } else { 0.0 })
            .collect();
        (x, vec![2, 6, 0])
    }

    fn tensors(x: &[f64], t: &[u32]) -> (Var, Tensor) {
        let dev = Device::Cpu;
        (
            Var::from_tensor(&Tensor::from_slice(x, (3, 7), &dev).unwrap()).unwrap(),
            Tensor::new(t, &dev).unwrap(),
        )
    }

    #[test]
    fn forward_equals_candle_nn_cross_entropy() {
        let (x, t) = logits_f64();
        let (x, t) = tensors(&x, &t);
        let ours = cross_entropy(x.as_tensor(), &t).unwrap();
        let reference = candle_nn::loss::cross_entropy(x.as_tensor(), &t).unwrap();
        let (a, b) = (
            ours.to_scalar::<f64>().unwrap(),
            reference.to_scalar::<f64>().unwrap(),
        );
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        assert!(a > 0.0);
    }

    #[test]
    fn gradient_matches_finite_differences_and_candle_nn() {
        let (x0, t) = logits_f64();
        let (x, tt) = tensors(&x0, &t);
        // A scale other than one checks that the upstream gradient is applied.
        let loss = (cross_entropy(x.as_tensor(), &tt).unwrap() * 2.5).unwrap();
        let ours = loss.backward().unwrap();
        let ours = ours.get(x.as_tensor()).unwrap().flatten_all().unwrap();
        let ours = ours.to_vec1::<f64>().unwrap();

        let reference = (candle_nn::loss::cross_entropy(x.as_tensor(), &tt).unwrap() * 2.5)
            .unwrap()
            .backward()
            .unwrap();
        let reference = reference.get(x.as_tensor()).unwrap().flatten_all().unwrap();
        let reference = reference.to_vec1::<f64>().unwrap();

        let f = |v: &[f64]| {
            let (x, tt) = tensors(v, &t);
            2.5 * cross_entropy(x.as_tensor(), &tt)
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        let h = 1e-6;
        let mut worst = 0f64;
        for i in 0..x0.len() {
            let (mut up, mut down) = (x0.clone(), x0.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (f(&up) - f(&down)) / (2.0 * h);
            worst = worst.max((ours[i] - fd).abs());
            assert!((ours[i] - reference[i]).abs() < 1e-12, "element {i}");
        }
        assert!(worst < 1e-7, "max |grad - fd| = {worst}");
        assert!(ours.iter().any(|g| g.abs() > 0.1));
    }

    #[test]
    fn f32_matches_f64_and_bad_targets_are_errors() {
        let (x, t) = logits_f64();
        let dev = Device::Cpu;
        let x32 = Tensor::from_slice(&x, (3, 7), &dev)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        let a = cross_entropy(&x32, &Tensor::new(t.as_slice(), &dev).unwrap())
            .unwrap()
            .to_scalar::<f32>()
            .unwrap() as f64;
        let (x64, t64) = tensors(&x, &t);
        let b = cross_entropy(x64.as_tensor(), &t64)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        let out_of_range = Tensor::new(&[0u32, 7, 1], &dev).unwrap();
        let err = cross_entropy(&x32, &out_of_range).unwrap_err().to_string();
        assert!(err.contains("outside the vocabulary"), "{err}");
        let too_few = Tensor::new(&[0u32, 1], &dev).unwrap();
        assert!(cross_entropy(&x32, &too_few).is_err());
    }

    #[test]
    fn non_contiguous_logits_give_the_same_loss() {
        let (x, t) = logits_f64();
        let dev = Device::Cpu;
        let xt = Tensor::from_slice(&x, (7, 3), &dev).unwrap().t().unwrap();
        let contiguous = xt.contiguous().unwrap();
        let t = Tensor::new(t.as_slice(), &dev).unwrap();
        let a = cross_entropy(&xt, &t).unwrap().to_scalar::<f64>().unwrap();
        let b = cross_entropy(&contiguous, &t)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn gpt2_gradients_equal_those_of_candle_nn_cross_entropy() {
        use crate::ml::finetune::Trainable;
        use crate::ml::gpt2::Config;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gpt2-tiny");
        let cfg = Config::from_file(&dir.join("config.json")).unwrap();
        let model = Trainable::load(&dir.join("model.safetensors"), &cfg, 0, &Device::Cpu).unwrap();
        let ids: Vec<u32> = (0..2 * 17).map(|i| (i * 7919 % 50257) as u32).collect();
        let blocks = Tensor::from_vec(ids, (2, 17), &Device::Cpu).unwrap();
        let fused = crate::ml::finetune::lm_loss(&model.model, &blocks).unwrap();
        let inputs = blocks.narrow(1, 0, 16).unwrap();
        let targets = blocks.narrow(1, 1, 16).unwrap().flatten_all().unwrap();
        let logits = model
            .model
            .forward(&inputs, &mut model.model.new_cache())
            .unwrap()
            .reshape((32, cfg.vocab_size))
            .unwrap();
        let composed = candle_nn::loss::cross_entropy(&logits, &targets).unwrap();
        let (a, b) = (
            fused.to_scalar::<f32>().unwrap(),
            composed.to_scalar::<f32>().unwrap(),
        );
        assert!((a - b).abs() < 1e-5, "loss {a} vs {b}");
        let (ga, gb) = (fused.backward().unwrap(), composed.backward().unwrap());
        for var in &model.trainable {
            let (x, y) = (
                ga.get(var.as_tensor()).unwrap(),
                gb.get(var.as_tensor()).unwrap(),
            );
            let scale = y
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            let diff = (x - y).unwrap().abs().unwrap().max_all().unwrap();
            let diff = diff.to_scalar::<f32>().unwrap();
            assert!(scale > 0.0 && diff <= 1e-4 * scale, "{diff} of {scale}");
        }
    }
}
