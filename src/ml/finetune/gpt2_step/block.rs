//! One GPT-2 block's forward and backward pass over plain slices, for [`super::FusedStep`].
//!
//! The forward pass keeps what the backward pass reads: the block's input, both LayerNorm
//! outputs, the QKV rows, the attention's output, the stream after attention and the MLP's
//! pre-activation. The GELU's output is recomputed from the pre-activation (one cheap pass)
//! rather than kept. Every product goes through `gemm`, and every weight's gradient is written
//! straight into its buffer.

use crate::ml::kernels::attention::Attention;
use crate::ml::kernels::gelu::{gelu_backward_in_place, gelu_into};
use crate::ml::kernels::layer_norm_rows::RowNorm;
use crate::ml::kernels::trainable_linear::{conv1d_backward, conv1d_into};
use crate::ml::kernels::trainable_norm::weight_gradients;

/// A block's parameters, in the order [`PARAMS`] names them.
pub(super) const PARAMS: [&str; 12] = [
    "ln_1.weight",
    "ln_1.bias",
    "attn.c_attn.weight",
    "attn.c_attn.bias",
    "attn.c_proj.weight",
    "attn.c_proj.bias",
    "ln_2.weight",
    "ln_2.bias",
    "mlp.c_fc.weight",
    "mlp.c_fc.bias",
    "mlp.c_proj.weight",
    "mlp.c_proj.bias",
];
const LN1_W: usize = 0;
const LN1_B: usize = 1;
const ATTN_W: usize = 2;
const ATTN_B: usize = 3;
const PROJ_W: usize = 4;
const PROJ_B: usize = 5;
const LN2_W: usize = 6;
const LN2_B: usize = 7;
const FC_W: usize = 8;
const FC_B: usize = 9;
const MP_W: usize = 10;
const MP_B: usize = 11;

/// Sizes shared by every block of one step.
#[derive(Clone, Copy)]
pub(super) struct Shape {
    /// Rows: batch × tokens.
    pub n: usize,
    /// Tokens per sequence.
    pub t: usize,
    pub e: usize,
    /// The MLP's width (`n_inner`, 4e by default).
    pub inner: usize,
    pub heads: usize,
    pub eps: f64,
}

/// What one block's forward pass keeps for its backward pass.
#[derive(Default)]
pub(super) struct Saved {
    ln1: Vec<f32>,
    qkv: Vec<f32>,
    attn: Vec<f32>,
    x2: Vec<f32>,
    ln2: Vec<f32>,
    h: Vec<f32>,
}

/// Buffers the blocks share, reused from block to block and step to step.
#[derive(Default)]
pub(super) struct Scratch {
    wide: Vec<f32>,
    narrow: Vec<f32>,
    dqkv: Vec<f32>,
}

fn sized(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    v.resize(len, 0.0);
    v
}

/// [`conv1d_backward`] with the weight's gradient in its buffer and the bias's beside it.
fn linear_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    n: usize,
    grads: (&mut Vec<f32>, &mut Vec<f32>),
    dx: &mut [f32],
) {
    let dw = sized(grads.0, w.len());
    *grads.1 = conv1d_backward(x, w, dy, n, dw, dx);
}

fn norm<'a>(p: &[&'a [f32]], w: usize, b: usize, eps: f64) -> RowNorm<'a> {
    RowNorm {
        weight: p[w],
        bias: p[b],
        eps,
    }
}

/// The block from its input `x` to its output `out`, keeping what the backward pass needs.
pub(super) fn forward(
    s: Shape,
    p: &[&[f32]],
    x: &[f32],
    saved: &mut Saved,
    scratch: &mut Scratch,
    out: &mut [f32],
) -> crate::ml::Result<()> {
    let (n, e) = (s.n, s.e);
    let ln1 = sized(&mut saved.ln1, n * e);
    norm(p, LN1_W, LN1_B, s.eps).forward(x, ln1);
    let qkv = sized(&mut saved.qkv, n * 3 * e);
    conv1d_into(qkv, ln1, p[ATTN_W], p[ATTN_B], n, false);
    let attn = sized(&mut saved.attn, n * e);
    Attention {
        heads: s.heads,
        causal: true,
    }
    .forward_rows(qkv, e, s.t, attn)?;
    let x2 = sized(&mut saved.x2, n * e);
    x2.copy_from_slice(x);
    conv1d_into(x2, attn, p[PROJ_W], p[PROJ_B], n, true);
    let ln2 = sized(&mut saved.ln2, n * e);
    norm(p, LN2_W, LN2_B, s.eps).forward(x2, ln2);
    let h = sized(&mut saved.h, n * s.inner);
    conv1d_into(h, ln2, p[FC_W], p[FC_B], n, false);
    let g = sized(&mut scratch.wide, n * s.inner);
    gelu_into(h, g);
    out.copy_from_slice(x2);
    conv1d_into(out, g, p[MP_W], p[MP_B], n, true);
    Ok(())
}

/// Two neighbouring gradient buffers (a weight's and its bias's), both mutable.
fn pair(grads: &mut [Vec<f32>], w: usize) -> (&mut Vec<f32>, &mut Vec<f32>) {
    let (a, b) = grads[w..w + 2].split_at_mut(1);
    (&mut a[0], &mut b[0])
}

/// The block's backward pass: `dx` holds the gradient at the block's output on entry and at
/// its input `x` on return; the twelve parameter gradients are written into `grads`.
pub(super) fn backward(
    s: Shape,
    p: &[&[f32]],
    x: &[f32],
    saved: &Saved,
    scratch: &mut Scratch,
    grads: &mut [Vec<f32>],
    dx: &mut [f32],
) -> crate::ml::Result<()> {
    let (n, e) = (s.n, s.e);
    let Scratch { wide, narrow, dqkv } = scratch;
    // The MLP branch, out = x2 + gelu(h) W_mp + b_mp; gelu(h) is recomputed, not kept.
    let g = sized(wide, n * s.inner);
    gelu_into(&saved.h, g);
    // One buffer serves as dh `[n, 4e]`, then as dqkv `[n, 3e]`.
    let mut dh = std::mem::take(dqkv);
    dh.resize(n * s.inner, 0.0);
    linear_backward(g, p[MP_W], dx, n, pair(grads, MP_W), &mut dh);
    gelu_backward_in_place(&saved.h, &mut dh);
    let d_narrow = sized(narrow, n * e);
    linear_backward(&saved.ln2, p[FC_W], &dh, n, pair(grads, FC_W), d_narrow);
    norm(p, LN2_W, LN2_B, s.eps).backward_add(&saved.x2, d_narrow, dx);
    (grads[LN2_W], grads[LN2_B]) = weight_gradients(&saved.x2, d_narrow, e, s.eps);
    // The attention branch, x2 = x + attend(ln1 W_attn + b_attn) W_proj + b_proj; `dx` now
    // holds the gradient at x2.
    linear_backward(&saved.attn, p[PROJ_W], dx, n, pair(grads, PROJ_W), d_narrow);
    dh.truncate(n * 3 * e);
    Attention {
        heads: s.heads,
        causal: true,
    }
    .backward_rows(&saved.qkv, d_narrow, e, s.t, &mut dh)?;
    linear_backward(&saved.ln1, p[ATTN_W], &dh, n, pair(grads, ATTN_W), d_narrow);
    norm(p, LN1_W, LN1_B, s.eps).backward_add(x, d_narrow, dx);
    (grads[LN1_W], grads[LN1_B]) = weight_gradients(x, d_narrow, e, s.eps);
    *dqkv = dh;
    Ok(())
}
