//! Learning-rate schedules: linear warmup, then linear or cosine decay to zero.

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    Linear,
    Cosine,
}

/// Learning rate at `step` (0-based) of `total` steps.
pub fn learning_rate(base: f64, step: usize, total: usize, warmup: usize, decay: Decay) -> f64 {
    if step < warmup {
        return base * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / span).clamp(0.0, 1.0);
    match decay {
        Decay::Linear => base * (1.0 - progress),
        Decay::Cosine => base * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_decay() {
        assert!((learning_rate(1.0, 0, 100, 10, Decay::Linear) - 0.1).abs() < 1e-12);
        assert!((learning_rate(1.0, 9, 100, 10, Decay::Linear) - 1.0).abs() < 1e-12);
        assert!((learning_rate(1.0, 55, 100, 10, Decay::Linear) - 0.5).abs() < 1e-12);
        assert!((learning_rate(1.0, 55, 100, 10, Decay::Cosine) - 0.5).abs() < 1e-12);
        assert!(learning_rate(1.0, 99, 100, 10, Decay::Cosine) < 0.01);
    }
}
