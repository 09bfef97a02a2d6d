//! The math under the models: frozen ops that keep only what their input gradient needs, fused
//! blocks, Winograd and GEMM convolutions, row norms and fast `exp`. They depend on candle and
//! on each other only, never on a model or a task.

pub mod conv_gemm;
pub mod fast_math;
pub mod frozen;
pub mod frozen_linear;
pub mod frozen_mlp;
pub mod frozen_norm;
pub mod gemm_view;
pub mod layer_norm_rows;
pub mod nn;
pub mod norm_stats;
pub mod winograd;
pub mod winograd_tiles;
