//! A paused illustration's state as bytes: everything the next step depends on (z, Adam's
//! moments and step count, the random generator's position) plus the options it ran with, so
//! a resumed run continues exactly where the paused one stopped and draws the same pixels.
//!
//! Layout: the magic `SBILL1\n`, a little-endian u32 length, a JSON header of that length,
//! then z, m and v as little-endian f32 in z's shape.

use candle_core::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::IllustrateOptions;
use crate::ml::{Error, Result};

const MAGIC: &[u8] = b"SBILL1\n";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    options: IllustrateOptions,
    /// Steps done.
    step: usize,
    adam_t: usize,
    shape: Vec<usize>,
    rng_seed: Vec<u8>,
    rng_stream: u64,
    /// `u128` as text: JSON numbers lose precision past 2^53.
    rng_word_pos: String,
    initial_similarity: f32,
    /// What the run draws, in the caller's words (the prompt, and its images' digests): a
    /// state is never continued for another picture.
    #[serde(default)]
    key: String,
}

/// The state of a run between two steps.
pub struct RunState {
    pub options: IllustrateOptions,
    pub step: usize,
    pub z: Tensor,
    pub m: Tensor,
    pub v: Tensor,
    pub adam_t: usize,
    pub rng: ChaCha8Rng,
    pub initial_similarity: f32,
    pub key: String,
}

fn floats(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

impl RunState {
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = Header {
            options: self.options.clone(),
            step: self.step,
            adam_t: self.adam_t,
            shape: self.z.dims().to_vec(),
            rng_seed: self.rng.get_seed().to_vec(),
            rng_stream: self.rng.get_stream(),
            rng_word_pos: self.rng.get_word_pos().to_string(),
            initial_similarity: self.initial_similarity,
            key: self.key.clone(),
        };
        let json = serde_json::to_vec(&header)
            .map_err(|e| Error::Input(format!("the illustration state cannot be saved: {e}")))?;
        let mut out = Vec::with_capacity(MAGIC.len() + 4 + json.len() + 12 * self.z.elem_count());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        for t in [&self.z, &self.m, &self.v] {
            out.extend(floats(t)?.iter().flat_map(|x| x.to_le_bytes()));
        }
        Ok(out)
    }

    /// Reads a saved state; damaged or foreign bytes are an error sentence, never a panic.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self> {
        let bad =
            |why: &str| Error::Input(format!("the saved illustration state is unusable ({why})"));
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("not a saved state"))?;
        let (len, rest) = rest.split_at_checked(4).ok_or_else(|| bad("cut short"))?;
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let (json, rest) = rest.split_at_checked(len).ok_or_else(|| bad("cut short"))?;
        let h: Header = serde_json::from_slice(json).map_err(|e| bad(&e.to_string()))?;
        let n = h
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(0);
        if h.shape.len() != 4 || n == 0 || n.checked_mul(12) != Some(rest.len()) {
            return Err(bad("its numbers do not fit its shape"));
        }
        let seed: [u8; 32] = h
            .rng_seed
            .as_slice()
            .try_into()
            .map_err(|_| bad("bad seed"))?;
        let word_pos: u128 = h
            .rng_word_pos
            .parse()
            .map_err(|_| bad("bad generator position"))?;
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::from_seed(seed);
        rng.set_stream(h.rng_stream);
        rng.set_word_pos(word_pos);
        let tensor = |i: usize| -> Result<Tensor> {
            let v: Vec<f32> = rest[i * 4 * n..(i + 1) * 4 * n]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Ok(Tensor::from_vec(v, h.shape.as_slice(), device)?)
        };
        Ok(Self {
            options: h.options,
            step: h.step,
            z: tensor(0)?,
            m: tensor(1)?,
            v: tensor(2)?,
            adam_t: h.adam_t,
            rng,
            initial_similarity: h.initial_similarity,
            key: h.key,
        })
    }

    /// Whether this state belongs to a run with `opts` (the preview cadence may differ).
    pub fn fits(&self, opts: &IllustrateOptions) -> bool {
        let mut mine = self.options.clone();
        mine.preview_every = opts.preview_every;
        &mine == opts && self.step <= opts.iterations
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn a_state_survives_bytes_and_garbage_is_refused() -> Result<()> {
        let dev = Device::Cpu;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let _: u64 = rng.random();
        let z = Tensor::arange(0f32, 2.0 * 3.0 * 5.0, &dev)?.reshape((1, 2, 3, 5))?;
        let state = RunState {
            options: IllustrateOptions::default(),
            step: 17,
            m: (&z * 0.5)?,
            v: (&z * 0.25)?,
            z,
            adam_t: 17,
            rng: rng.clone(),
            initial_similarity: 0.25,
            key: "a fox".into(),
        };
        let bytes = state.to_bytes()?;
        let mut back = RunState::from_bytes(&bytes, &dev)?;
        assert_eq!(back.step, 17);
        assert_eq!(floats(&back.v)?, floats(&state.v)?);
        assert_eq!(back.rng.random::<u64>(), rng.random::<u64>());
        assert!(back.fits(&IllustrateOptions::default()));
        for cut in [0, 5, 12, bytes.len() - 1] {
            assert!(
                RunState::from_bytes(&bytes[..cut], &dev).is_err(),
                "cut at {cut}"
            );
        }
        let mut flipped = bytes.clone();
        flipped[MAGIC.len() + 6] ^= 0xff;
        assert!(RunState::from_bytes(&flipped, &dev).is_err());
        Ok(())
    }
}
