//! taming's `Encoder` and `Decoder` (`taming/modules/diffusionmodules/model.py`), sized from the
//! checkpoint's ddconfig. Field and key names follow the checkpoint: `down.{i}.block.{j}`, …

use std::collections::BTreeMap;

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use crate::ml::kernels::frozen_norm::FrozenGroupNorm as GroupNorm;

use super::blocks::{
    conv, conv_keys, load_norm, norm_keys, norm_swish, AttnBlock, Conv, Downsample, ResnetBlock,
    Upsample,
};
use super::DdConfig;

#[derive(Debug, Clone)]
struct Level {
    blocks: Vec<ResnetBlock>,
    attns: Vec<AttnBlock>,
    resample: Option<Resample>,
}

#[derive(Debug, Clone)]
enum Resample {
    Down(Downsample),
    Up(Upsample),
}

impl Level {
    fn forward(&self, mut h: Tensor) -> Result<Tensor> {
        for (i, block) in self.blocks.iter().enumerate() {
            h = block.forward(&h)?;
            if let Some(attn) = self.attns.get(i) {
                h = attn.forward(&h)?;
            }
        }
        match &self.resample {
            Some(Resample::Down(d)) => d.forward(&h),
            Some(Resample::Up(u)) => u.forward(&h),
            None => Ok(h),
        }
    }
}

#[derive(Debug, Clone)]
struct Mid {
    block_1: ResnetBlock,
    attn_1: AttnBlock,
    block_2: ResnetBlock,
}

impl Mid {
    fn load(vb: VarBuilder, c: usize) -> Result<Self> {
        Ok(Self {
            block_1: ResnetBlock::load(vb.pp("block_1"), c, c)?,
            attn_1: AttnBlock::load(vb.pp("attn_1"), c)?,
            block_2: ResnetBlock::load(vb.pp("block_2"), c, c)?,
        })
    }

    fn keys(keys: &mut BTreeMap<String, Vec<usize>>, p: &str, c: usize) {
        ResnetBlock::keys(keys, &format!("{p}.block_1"), c, c);
        AttnBlock::keys(keys, &format!("{p}.attn_1"), c);
        ResnetBlock::keys(keys, &format!("{p}.block_2"), c, c);
    }

    fn forward(&self, h: &Tensor) -> Result<Tensor> {
        self.block_2
            .forward(&self.attn_1.forward(&self.block_1.forward(h)?)?)
    }
}

/// Channel plan of one level: (input channels of its first block, output channels).
fn encoder_plan(cfg: &DdConfig) -> Vec<(usize, usize)> {
    let mut in_mult = vec![1];
    in_mult.extend(&cfg.ch_mult);
    (0..cfg.ch_mult.len())
        .map(|i| (cfg.ch * in_mult[i], cfg.ch * cfg.ch_mult[i]))
        .collect()
}

#[derive(Debug, Clone)]
pub struct Encoder {
    conv_in: Conv,
    down: Vec<Level>,
    mid: Mid,
    norm_out: GroupNorm,
    conv_out: Conv,
}

impl Encoder {
    pub fn load(vb: VarBuilder, cfg: &DdConfig) -> Result<Self> {
        let conv_in = conv(vb.pp("conv_in"), cfg.in_channels, cfg.ch, 3, 1)?;
        let mut res = cfg.resolution;
        let levels = cfg.ch_mult.len();
        let mut down = Vec::with_capacity(levels);
        let mut block_in = cfg.ch;
        for (i, (first_in, block_out)) in encoder_plan(cfg).into_iter().enumerate() {
            let lvb = vb.pp("down").pp(i);
            block_in = first_in;
            let mut blocks = Vec::new();
            let mut attns = Vec::new();
            for j in 0..cfg.num_res_blocks {
                blocks.push(ResnetBlock::load(
                    lvb.pp("block").pp(j),
                    block_in,
                    block_out,
                )?);
                block_in = block_out;
                if cfg.attn_resolutions.contains(&res) {
                    attns.push(AttnBlock::load(lvb.pp("attn").pp(j), block_in)?);
                }
            }
            let resample = if i + 1 != levels {
                res /= 2;
                Some(Resample::Down(Downsample::load(
                    lvb.pp("downsample"),
                    block_in,
                )?))
            } else {
                None
            };
            down.push(Level {
                blocks,
                attns,
                resample,
            });
        }
        let out_ch = if cfg.double_z {
            2 * cfg.z_channels
        } else {
            cfg.z_channels
        };
        Ok(Self {
            conv_in,
            down,
            mid: Mid::load(vb.pp("mid"), block_in)?,
            norm_out: load_norm(vb.pp("norm_out"), block_in)?,
            conv_out: conv(vb.pp("conv_out"), block_in, out_ch, 3, 1)?,
        })
    }

    pub fn keys(keys: &mut BTreeMap<String, Vec<usize>>, cfg: &DdConfig) {
        conv_keys(keys, "encoder.conv_in", cfg.in_channels, cfg.ch, 3);
        let mut res = cfg.resolution;
        let levels = cfg.ch_mult.len();
        let mut block_in = cfg.ch;
        for (i, (first_in, block_out)) in encoder_plan(cfg).into_iter().enumerate() {
            block_in = first_in;
            for j in 0..cfg.num_res_blocks {
                ResnetBlock::keys(
                    keys,
                    &format!("encoder.down.{i}.block.{j}"),
                    block_in,
                    block_out,
                );
                block_in = block_out;
                if cfg.attn_resolutions.contains(&res) {
                    AttnBlock::keys(keys, &format!("encoder.down.{i}.attn.{j}"), block_in);
                }
            }
            if i + 1 != levels {
                res /= 2;
                conv_keys(
                    keys,
                    &format!("encoder.down.{i}.downsample.conv"),
                    block_in,
                    block_in,
                    3,
                );
            }
        }
        Mid::keys(keys, "encoder.mid", block_in);
        norm_keys(keys, "encoder.norm_out", block_in);
        let out_ch = if cfg.double_z {
            2 * cfg.z_channels
        } else {
            cfg.z_channels
        };
        conv_keys(keys, "encoder.conv_out", block_in, out_ch, 3);
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = self.conv_in.forward(x)?;
        for level in &self.down {
            h = level.forward(h)?;
        }
        let h = self.mid.forward(&h)?;
        self.conv_out.forward(&norm_swish(&self.norm_out, &h)?)
    }
}

#[derive(Debug, Clone)]
pub struct Decoder {
    conv_in: Conv,
    mid: Mid,
    /// Levels in execution order (deepest first); `up.{i}` in the checkpoint.
    up: Vec<Level>,
    norm_out: GroupNorm,
    conv_out: Conv,
}

impl Decoder {
    pub fn load(vb: VarBuilder, cfg: &DdConfig) -> Result<Self> {
        let levels = cfg.ch_mult.len();
        let mut block_in = cfg.ch * cfg.ch_mult[levels - 1];
        let mut res = cfg.resolution >> (levels - 1);
        let conv_in = conv(vb.pp("conv_in"), cfg.z_channels, block_in, 3, 1)?;
        let mid = Mid::load(vb.pp("mid"), block_in)?;
        let mut up = Vec::with_capacity(levels);
        for i in (0..levels).rev() {
            let lvb = vb.pp("up").pp(i);
            let block_out = cfg.ch * cfg.ch_mult[i];
            let mut blocks = Vec::new();
            let mut attns = Vec::new();
            for j in 0..=cfg.num_res_blocks {
                blocks.push(ResnetBlock::load(
                    lvb.pp("block").pp(j),
                    block_in,
                    block_out,
                )?);
                block_in = block_out;
                if cfg.attn_resolutions.contains(&res) {
                    attns.push(AttnBlock::load(lvb.pp("attn").pp(j), block_in)?);
                }
            }
            let resample = if i != 0 {
                res *= 2;
                Some(Resample::Up(Upsample::load(lvb.pp("upsample"), block_in)?))
            } else {
                None
            };
            up.push(Level {
                blocks,
                attns,
                resample,
            });
        }
        Ok(Self {
            conv_in,
            mid,
            up,
            norm_out: load_norm(vb.pp("norm_out"), block_in)?,
            conv_out: conv(vb.pp("conv_out"), block_in, cfg.out_ch, 3, 1)?,
        })
    }

    /// Runs the 3×3 convolutions' products in bf16 from now on (see
    /// `FrozenConv2d::switch_to_bf16`), all but `conv_out`: three output channels would fill
    /// a tenth of each bf16 block, and the picture's own pixels come out of it. `false` where
    /// bf16 does not run; a `false` midway leaves some layers switched, so the caller must
    /// not use the decoder as an f32 one.
    pub fn switch_to_bf16(&mut self) -> Result<bool> {
        let mut all = self.conv_in.switch_to_bf16()?
            && self.mid.block_1.switch_to_bf16()?
            && self.mid.block_2.switch_to_bf16()?;
        for level in &mut self.up {
            for block in &mut level.blocks {
                all = all && block.switch_to_bf16()?;
            }
            if let Some(Resample::Up(u)) = &mut level.resample {
                all = all && u.switch_to_bf16()?;
            }
        }
        Ok(all)
    }

    pub fn keys(keys: &mut BTreeMap<String, Vec<usize>>, cfg: &DdConfig) {
        let levels = cfg.ch_mult.len();
        let mut block_in = cfg.ch * cfg.ch_mult[levels - 1];
        let mut res = cfg.resolution >> (levels - 1);
        conv_keys(keys, "decoder.conv_in", cfg.z_channels, block_in, 3);
        Mid::keys(keys, "decoder.mid", block_in);
        for i in (0..levels).rev() {
            let block_out = cfg.ch * cfg.ch_mult[i];
            for j in 0..=cfg.num_res_blocks {
                ResnetBlock::keys(
                    keys,
                    &format!("decoder.up.{i}.block.{j}"),
                    block_in,
                    block_out,
                );
                block_in = block_out;
                if cfg.attn_resolutions.contains(&res) {
                    AttnBlock::keys(keys, &format!("decoder.up.{i}.attn.{j}"), block_in);
                }
            }
            if i != 0 {
                res *= 2;
                conv_keys(
                    keys,
                    &format!("decoder.up.{i}.upsample.conv"),
                    block_in,
                    block_in,
                    3,
                );
            }
        }
        norm_keys(keys, "decoder.norm_out", block_in);
        conv_keys(keys, "decoder.conv_out", block_in, cfg.out_ch, 3);
    }

    pub fn forward(&self, z: &Tensor) -> Result<Tensor> {
        let mut h = self.mid.forward(&self.conv_in.forward(z)?)?;
        for level in &self.up {
            h = level.forward(h)?;
        }
        self.conv_out.forward(&norm_swish(&self.norm_out, &h)?)
    }
}
