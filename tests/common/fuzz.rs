//! A time-bounded fuzz driver on proptest, and byte mutations of a seed corpus.
//!
//! Each target runs for `STORYBOOK_FUZZ_SECONDS` seconds (default 1; CI gives more), in chunks of
//! cases, from the seed `STORYBOOK_FUZZ_SEED` (default fixed, so a plain `cargo test` sees the
//! same inputs every time). proptest catches a panic, shrinks the input and reports it, so a
//! failure names the smallest input found. The count of inputs is printed on stderr.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Seconds each target runs.
pub fn budget() -> Duration {
    let secs = std::env::var("STORYBOOK_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(1.0);
    Duration::from_secs_f64(secs)
}

fn seed() -> u64 {
    std::env::var("STORYBOOK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5709_b00c)
}

/// Runs `test` on inputs drawn from `strategy` until the time budget is spent (at least one
/// chunk of 64 inputs), failing the test with the shrunk input if any input fails or panics.
/// Returns how many inputs ran.
pub fn fuzz<S: Strategy>(
    name: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> u64 {
    const CHUNK: u32 = 64;
    let seed = seed();
    // Each chunk's ChaCha key: the seed and the chunk number, spread by splitmix64.
    let key = |chunk: u64| {
        let mut state = seed ^ chunk.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut bytes = [0u8; 32];
        for word in bytes.chunks_mut(8) {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            word.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        bytes
    };
    let config = Config {
        cases: CHUNK,
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let count = std::cell::Cell::new(0u64);
    let counted = |value: S::Value| {
        count.set(count.get() + 1);
        test(value)
    };
    let started = Instant::now();
    for chunk in 0u64.. {
        // A fresh runner per chunk (a runner stops after `cases` successes), each with its own
        // key, so chunks go on to new inputs instead of repeating the first ones.
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &key(chunk));
        let mut runner = TestRunner::new_with_rng(config.clone(), rng);
        if let Err(e) = runner.run(&strategy, counted) {
            panic!(
                "fuzz target {name} (seed {seed}) failed after {} inputs: {e}",
                count.get()
            );
        }
        if started.elapsed() >= budget() {
            break;
        }
    }
    let total = count.get();
    eprintln!(
        "fuzz {name}: {total} inputs in {:.1} s, no panic (seed {seed})",
        started.elapsed().as_secs_f64()
    );
    total
}

/// One edit of a byte string; positions are taken modulo its length when applied.
#[derive(Debug, Clone)]
pub enum Mutation {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    /// Copies `len` bytes from one place over another (repeats structure, e.g. JSON fragments).
    Splice(usize, usize, usize),
    /// Writes a boundary number (0, 1, max, a sign bit) as 8 little-endian bytes.
    Integer(usize, u64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let boundary = prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(u32::MAX as u64),
        Just(i64::MAX as u64),
        Just(1 << 31),
        any::<u64>(),
    ];
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Set(p, b)),
        2 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        2 => (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), any::<usize>(), 1usize..64)
            .prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
        1 => (any::<usize>(), boundary).prop_map(|(p, v)| Mutation::Integer(p, v)),
    ]
}

pub fn apply(mut data: Vec<u8>, edits: &[Mutation]) -> Vec<u8> {
    for m in edits {
        let len = data.len();
        let at = |p: usize| if len == 0 { 0 } else { p % len };
        match m {
            Mutation::Set(p, b) if len > 0 => data[at(*p)] = *b,
            Mutation::Set(..) => data.push(0),
            Mutation::Insert(p, bytes) => {
                let p = if len == 0 { 0 } else { p % (len + 1) };
                data.splice(p..p, bytes.iter().copied());
            }
            Mutation::Delete(p, n) => {
                let p = at(*p);
                data.drain(p..(p + n).min(len));
            }
            Mutation::Truncate(n) => data.truncate(if len == 0 { 0 } else { n % len }),
            Mutation::Splice(from, to, n) if len > 0 => {
                let (from, to) = (at(*from), at(*to));
                let n = (*n).min(len - from).min(len - to);
                let chunk = data[from..from + n].to_vec();
                data[to..to + n].copy_from_slice(&chunk);
            }
            Mutation::Splice(..) => {}
            Mutation::Integer(p, v) => {
                let p = at(*p);
                for (i, b) in v.to_le_bytes().into_iter().enumerate() {
                    if p + i < data.len() {
                        data[p + i] = b;
                    }
                }
            }
        }
    }
    data
}

/// Byte strings made from one of `seeds` with up to eight edits, plus (one time in eight) plain
/// random bytes.
pub fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    assert!(!seeds.is_empty(), "a seed corpus is needed");
    let n = seeds.len();
    prop_oneof![
        7 => (0..n, proptest::collection::vec(mutation(), 0..8))
            .prop_map(move |(i, edits)| apply(seeds[i].clone(), &edits)),
        1 => proptest::collection::vec(any::<u8>(), 0..256),
    ]
}

/// Text made from `seeds` by byte edits, read back as UTF-8 where it still is (lossily where not).
pub fn mutated_text(seeds: Vec<String>) -> impl Strategy<Value = String> {
    mutated(seeds.into_iter().map(String::into_bytes).collect())
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}
