use super::*;
use candle_core::{DType, Device, Tensor};

/// Quadratic losses against random targets, so every step has a fresh, known gradient.
fn losses(vars: &[Var], step: usize) -> Result<Tensor> {
    let dev = Device::Cpu;
    let mut total = Tensor::zeros((), DType::F32, &dev)?;
    for (i, v) in vars.iter().enumerate() {
        let target = Tensor::randn(0f32, 3.0, v.shape(), &dev)?;
        // Weight the parts differently so the global norm is not shared evenly.
        let part = ((v.as_tensor() - &target)?.sqr()?.sum_all()? * (1.0 + (i + step) as f64))?;
        total = (total + part)?;
    }
    Ok(total)
}

fn values(vars: &[Var]) -> Vec<f32> {
    vars.iter()
        .flat_map(|v| {
            v.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        })
        .collect()
}

/// Odd shapes, a weight larger than one parallel chunk, and a weight no loss reaches.
fn vars() -> Result<Vec<Var>> {
    let dev = Device::Cpu;
    [vec![3usize, 5], vec![7], vec![CHUNK + 13], vec![2, 3, 11]]
        .into_iter()
        .map(|shape| Ok(Var::from_tensor(&Tensor::randn(0f32, 1.0, shape, &dev)?)?))
        .collect()
}

/// Our weights, candle's weights, and the two norms of every step.
type Runs = (Vec<f32>, Vec<f32>, Vec<(f64, f64)>);

fn run_both(max_norm: f64) -> Result<Runs> {
    let start = vars()?;
    let copy = |vs: &[Var]| -> Result<Vec<Var>> {
        vs.iter()
            .map(|v| Ok(Var::from_tensor(&v.as_tensor().copy()?)?))
            .collect()
    };
    let (ours, theirs) = (copy(&start)?, copy(&start)?);
    let trained = |vs: &[Var]| vs[..3].to_vec();
    let mut fused = Optimiser::Fused(FusedAdamW::new(
        ours.clone(),
        ParamsAdamW {
            lr: 0.05,
            weight_decay: 0.1,
            ..Default::default()
        },
    ));
    let mut composed = Optimiser::Composed(AdamW::new(
        theirs.clone(),
        ParamsAdamW {
            lr: 0.05,
            weight_decay: 0.1,
            ..Default::default()
        },
    )?);
    let mut norms = Vec::new();
    for step in 0..6 {
        let lr = 0.05 / (1 + step) as f64;
        fused.set_learning_rate(lr);
        composed.set_learning_rate(lr);
        // One set of random targets, one loss graph per side.
        let dev = Device::Cpu;
        let targets: Vec<Tensor> = ours
            .iter()
            .map(|v| Tensor::randn(0f32, 3.0, v.shape(), &dev))
            .collect::<candle_core::Result<_>>()?;
        let loss_of = |vs: &[Var]| -> Result<Tensor> {
            let mut total = Tensor::zeros((), DType::F32, &dev)?;
            for (i, (v, t)) in trained(vs).iter().zip(&targets).enumerate() {
                let part = ((v.as_tensor() - t)?.sqr()?.sum_all()? * (1.0 + (i + step) as f64))?;
                total = (total + part)?;
            }
            Ok(total)
        };
        let mut g1 = loss_of(&ours)?.backward()?;
        let mut g2 = loss_of(&theirs)?.backward()?;
        let n1 = fused.step(&mut g1, &ours, max_norm)?;
        let n2 = composed.step(&mut g2, &theirs, max_norm)?;
        norms.push((n1, n2));
    }
    Ok((values(&ours), values(&theirs), norms))
}

fn assert_close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
        .fold(0f32, f32::max);
    assert!(worst <= tol, "worst relative difference {worst}");
}

#[test]
fn fused_steps_match_candle_adamw_with_and_without_clipping() -> Result<()> {
    // A max norm far below the gradients' clips every step; 0 turns clipping off.
    for max_norm in [0.5, 0.0] {
        let (ours, theirs, norms) = run_both(max_norm)?;
        for (n1, n2) in &norms {
            assert!((n1 - n2).abs() <= 1e-4 * n2, "norms {n1} vs {n2}");
            assert!(*n1 > 0.5, "the test needs gradients the clip changes: {n1}");
        }
        assert_close(&ours, &theirs, 2e-5);
    }
    Ok(())
}

#[test]
fn a_weight_without_gradient_is_left_alone_and_gets_no_moments() -> Result<()> {
    let vs = vars()?;
    let before = vs[3].as_tensor().flatten_all()?.to_vec1::<f32>()?;
    let mut opt = FusedAdamW::new(vs.clone(), ParamsAdamW::default());
    let grads = losses(&vs[..3], 0)?.backward()?;
    opt.step(&grads, 1.0)?;
    assert_eq!(vs[3].as_tensor().flatten_all()?.to_vec1::<f32>()?, before);
    assert!(opt.moments[3].0.is_empty() && !opt.moments[2].0.is_empty());
    Ok(())
}

#[test]
fn clipping_follows_pytorch() {
    assert_eq!(clip_factor(0.5, 1.0), 1.0);
    assert_eq!(clip_factor(5.0, 0.0), 1.0);
    let f = clip_factor(4.0, 1.0);
    assert!((f - 1.0 / (4.0 + 1e-6)).abs() < 1e-15);
}
