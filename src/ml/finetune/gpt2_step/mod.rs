//! A whole GPT-2 training step (forward, loss, backward) driven by our own code over plain
//! slices, with every gradient written into a buffer kept from step to step.
//!
//! Why not candle's autograd, even over our fused ops: its `backward` makes each gradient as a
//! zero-filled tensor plus a sum (`or_insert`, then `add`), allocates every intermediate
//! gradient afresh, and runs the glue (residual sums, the embedding's scatter, reshapes) as
//! candle ops on its own spinning thread pool. Here the residual stream's gradient is one
//! buffer updated in place, the LayerNorm backward passes add into it, each weight's gradient
//! is written once by its product, and the activations live in buffers reused every step.
//!
//! The step covers the GPT-2 that `transformers` trains: GELU (tanh), scaled attention, the
//! head tied to `wte`, f32 on the CPU. [`FusedStep::new`] returns `None` for anything else and
//! training then goes through autograd.

mod block;

use std::collections::HashMap;

use candle_core::{Storage, TensorId, Var};

use crate::ml::finetune::adamw::Gradients;
use crate::ml::finetune::head_loss::logits_to_gradient;
use crate::ml::finetune::Trainable;
use crate::ml::kernels::frozen_linear::f32_span;
use crate::ml::kernels::gemm_view::{matmul, parallel, View, ViewMut};
use crate::ml::kernels::layer_norm_rows::RowNorm;
use crate::ml::kernels::trainable_norm::weight_gradients;
use crate::ml::{Error, Result};
use block::{Saved, Scratch, Shape, PARAMS};

pub struct FusedStep {
    shape: Shape,
    vocab: usize,
    positions: usize,
    layers: usize,
    /// Every parameter, in [`Self::names`]' order: `wte`, `wpe`, each block's twelve, `ln_f`.
    vars: Vec<Var>,
    grads: Vec<Vec<f32>>,
    index: HashMap<TensorId, usize>,
    /// The residual stream entering each block, and leaving the last.
    stream: Vec<Vec<f32>>,
    saved: Vec<Saved>,
    scratch: Scratch,
    ln_f: Vec<f32>,
    head: Vec<f32>,
    dx: Vec<f32>,
}

fn names(layers: usize) -> Vec<String> {
    let mut names = vec!["wte.weight".to_string(), "wpe.weight".to_string()];
    for i in 0..layers {
        names.extend(PARAMS.iter().map(|p| format!("h.{i}.{p}")));
    }
    names.extend(["ln_f.weight".to_string(), "ln_f.bias".to_string()]);
    names
}

/// The f32 values of a contiguous CPU tensor's storage guard.
fn values<'a, G: std::ops::Deref<Target = Storage>>(
    guard: &'a (G, &candle_core::Layout),
) -> Result<&'a [f32]> {
    let (storage, layout) = guard;
    let Storage::Cpu(storage) = &**storage else {
        return Err(Error::Input(
            "the fused training step needs its weights on the CPU".into(),
        ));
    };
    Ok(f32_span(storage, layout, "the fused training step")?)
}

impl FusedStep {
    /// The step for `model`, or `None` when it is not a GPT-2 this step covers.
    pub fn new(model: &Trainable) -> Result<Option<Self>> {
        let cfg = model.model.config();
        let standard = model.model.head_weight().is_some()
            && cfg.tie_word_embeddings
            && cfg.scale_attn_weights
            && matches!(
                cfg.activation_function.as_str(),
                "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast"
            )
            && model.model.device().is_cpu()
            && !crate::ml::kernels::composed_forced();
        if !standard {
            return Ok(None);
        }
        let all = model.all_variables()?;
        let mut vars = Vec::new();
        for name in names(cfg.n_layer) {
            match all.get(&name) {
                Some(v) if v.dtype() == candle_core::DType::F32 => vars.push(v.clone()),
                _ => return Ok(None),
            }
        }
        let index = vars
            .iter()
            .enumerate()
            .map(|(i, v)| (v.as_tensor().id(), i))
            .collect();
        Ok(Some(Self {
            shape: Shape {
                n: 0,
                t: 0,
                e: cfg.n_embd,
                inner: cfg.inner_dim(),
                heads: cfg.n_head,
                eps: cfg.layer_norm_epsilon,
            },
            vocab: cfg.vocab_size,
            positions: cfg.n_positions,
            layers: cfg.n_layer,
            grads: vec![Vec::new(); vars.len()],
            vars,
            index,
            stream: (0..=cfg.n_layer).map(|_| Vec::new()).collect(),
            saved: (0..cfg.n_layer).map(|_| Saved::default()).collect(),
            scratch: Scratch::default(),
            ln_f: Vec::new(),
            head: Vec::new(),
            dx: Vec::new(),
        }))
    }

    /// The mean next-token loss of `blocks` (each `t + 1` tokens), leaving every parameter's
    /// gradient in this step's buffers.
    pub fn run(&mut self, blocks: &[&Vec<u32>]) -> Result<f64> {
        let t = blocks.first().map_or(0, |b| b.len().saturating_sub(1));
        if t == 0 || blocks.iter().any(|b| b.len() != t + 1) {
            return Err(Error::Input(
                "every block needs the same length of at least 2 tokens".into(),
            ));
        }
        if t > self.positions {
            return Err(Error::Input(format!(
                "a block of {t} tokens is longer than this model reads ({})",
                self.positions
            )));
        }
        let inputs: Vec<u32> = blocks.iter().flat_map(|b| b[..t].iter().copied()).collect();
        let targets: Vec<u32> = blocks.iter().flat_map(|b| b[1..].iter().copied()).collect();
        if let Some(bad) = inputs
            .iter()
            .chain(&targets)
            .find(|&&id| id as usize >= self.vocab)
        {
            return Err(Error::Input(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.vocab
            )));
        }
        self.shape.n = inputs.len();
        self.shape.t = t;
        // Cheap handles: the guards borrow these, not `self`, whose buffers the pass writes.
        let vars = self.vars.clone();
        let guards: Vec<_> = vars
            .iter()
            .map(|v| v.as_tensor().storage_and_layout())
            .collect();
        let params: Vec<&[f32]> = guards.iter().map(values).collect::<Result<_>>()?;
        let loss = self.forward_and_backward(&params, &inputs, &targets)?;
        Ok(loss)
    }

    fn forward_and_backward(
        &mut self,
        p: &[&[f32]],
        inputs: &[u32],
        targets: &[u32],
    ) -> Result<f64> {
        let s = self.shape;
        let (n, e, vocab) = (s.n, s.e, self.vocab);
        let (wte, wpe) = (p[0], p[1]);
        let block_params = |i: usize| &p[2 + 12 * i..2 + 12 * (i + 1)];
        let k = 2 + 12 * self.layers;
        let lnf = RowNorm {
            weight: p[k],
            bias: p[k + 1],
            eps: s.eps,
        };
        // Embedding: each row is its token's row of wte plus its position's row of wpe.
        let x0 = &mut self.stream[0];
        x0.resize(n * e, 0.0);
        for (r, (row, &id)) in x0.chunks_exact_mut(e).zip(inputs).enumerate() {
            let (tok, pos) = (id as usize * e, (r % s.t) * e);
            let rows = wte[tok..tok + e].iter().zip(&wpe[pos..pos + e]);
            row.iter_mut().zip(rows).for_each(|(x, (a, b))| *x = a + b);
        }
        for i in 0..self.layers {
            let (before, after) = self.stream.split_at_mut(i + 1);
            let out = &mut after[0];
            out.resize(n * e, 0.0);
            let (saved, scratch) = (&mut self.saved[i], &mut self.scratch);
            block::forward(s, block_params(i), &before[i], saved, scratch, out)?;
        }
        let last = &self.stream[self.layers];
        self.ln_f.resize(n * e, 0.0);
        lnf.forward(last, &mut self.ln_f);
        // G = (softmax − one_hot) / n, the loss's gradient at the logits, in place of them.
        let loss = logits_to_gradient(&self.ln_f, wte, e, targets, 1.0 / n as f64, &mut self.head);

        // The head: dwte = Gᵀ ln_f (the embedding's rows are added below), d ln_f = G wte.
        let g = View::rows(&self.head, n, vocab, vocab);
        self.grads[0].resize(vocab * e, 0.0);
        let dwte = ViewMut::rows(&mut self.grads[0], vocab, e, e);
        matmul(
            dwte,
            g.t(),
            View::rows(&self.ln_f, n, e, e),
            false,
            parallel(),
        );
        let mut dlnf = vec![0f32; n * e];
        let wte_view = View::rows(wte, vocab, e, e);
        matmul(
            ViewMut::rows(&mut dlnf, n, e, e),
            g,
            wte_view,
            false,
            parallel(),
        );
        self.dx.clear();
        self.dx.resize(n * e, 0.0);
        lnf.backward_add(last, &dlnf, &mut self.dx);
        (self.grads[k], self.grads[k + 1]) = weight_gradients(last, &dlnf, e, s.eps);
        for i in (0..self.layers).rev() {
            let grads = &mut self.grads[2 + 12 * i..2 + 12 * (i + 1)];
            let (x, saved) = (&self.stream[i], &self.saved[i]);
            block::backward(
                s,
                block_params(i),
                x,
                saved,
                &mut self.scratch,
                grads,
                &mut self.dx,
            )?;
        }
        // The embedding: each row's gradient goes to its token's row and its position's row.
        let (dwte, rest) = self.grads.split_at_mut(1);
        let (dwte, dwpe) = (&mut dwte[0], &mut rest[0]);
        dwpe.clear();
        dwpe.resize(self.positions * e, 0.0);
        for (r, (row, &id)) in self.dx.chunks_exact(e).zip(inputs).enumerate() {
            let (tok, pos) = (id as usize * e, (r % s.t) * e);
            dwte[tok..tok + e]
                .iter_mut()
                .zip(row)
                .for_each(|(g, d)| *g += d);
            dwpe[pos..pos + e]
                .iter_mut()
                .zip(row)
                .for_each(|(g, d)| *g += d);
        }
        Ok(loss)
    }

    /// The gradient this step left for `var`, if `var` is one of the model's parameters.
    pub fn gradient(&self, var: &Var) -> Option<&[f32]> {
        self.index
            .get(&var.as_tensor().id())
            .map(|&i| self.grads[i].as_slice())
    }
}

impl Gradients for FusedStep {
    fn with_gradient(
        &self,
        var: &Var,
        f: &mut dyn FnMut(&[f32]) -> candle_core::Result<()>,
    ) -> candle_core::Result<bool> {
        match self.gradient(var) {
            Some(g) => f(g).map(|()| true),
            None => Ok(false),
        }
    }
}
