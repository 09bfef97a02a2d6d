//! A dry run of a checkpoint's pickle before candle's reader builds it, bounding what it would
//! build: how deeply objects nest and how many nodes the memo's copies add up to.
//!
//! candle's reader builds the objects the opcodes describe, recursively dropped and printed,
//! and copies a memoised object on every get. So a pickle of a million nested lists overflows
//! the stack (an abort no `catch_unwind` can stop), and one that doubles a list through the memo
//! thirty times asks for a billion nodes. Each object is modelled here by its depth and node
//! count only, with the stack effect each opcode has in candle 0.11's reader (which, unlike
//! Python, reads `d` as an empty dict and lets a MARK be popped as a value). The dry run stops
//! only where candle's reader stops with an error, leaving that refusal to candle.

/// Deeper than any checkpoint (a state_dict entry nests under ten levels).
pub const MAX_DEPTH: u32 = 512;
/// Nodes built in all, counting every memo copy; a large checkpoint builds tens of thousands.
pub const MAX_NODES: u64 = 1 << 24;

#[derive(Clone, Copy)]
struct Shape {
    depth: u32,
    nodes: u64,
}

const LEAF: Shape = Shape { depth: 1, nodes: 1 };

struct Machine {
    /// Each object, and whether it is a MARK.
    stack: Vec<(Shape, bool)>,
    memo: std::collections::HashMap<u32, Shape>,
    built: u64,
}

/// The reason to refuse, when the dry run finds the pickle would build too much.
type Verdict = std::result::Result<(), String>;

impl Machine {
    fn add(&mut self, shape: Shape) -> Verdict {
        self.built = self.built.saturating_add(shape.nodes);
        if shape.depth > MAX_DEPTH {
            return Err(format!(
                "its pickle nests objects more than {MAX_DEPTH} deep"
            ));
        }
        if self.built > MAX_NODES {
            return Err(format!(
                "its pickle would build more than {MAX_NODES} objects"
            ));
        }
        Ok(())
    }

    fn push(&mut self, shape: Shape) -> Verdict {
        self.add(shape)?;
        self.stack.push((shape, false));
        Ok(())
    }

    /// The top object, a MARK included (candle pops one like any value).
    fn pop(&mut self) -> Option<Shape> {
        self.stack.pop().map(|(shape, _)| shape)
    }

    fn pop_to_mark(&mut self) -> Option<Vec<Shape>> {
        let mark = self.stack.iter().rposition(|&(_, is_mark)| is_mark)?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Some(items.into_iter().map(|(shape, _)| shape).collect())
    }

    /// A container holding `items`, pushed (or merged into the container on top).
    fn holding(items: &[Shape]) -> Shape {
        Shape {
            depth: 1 + items.iter().map(|s| s.depth).max().unwrap_or(0),
            nodes: 1 + items.iter().map(|s| s.nodes).sum::<u64>(),
        }
    }

    /// Items added to the container on top (candle refuses if it is not a list or dict; the
    /// dry run goes on regardless, which can only overestimate).
    fn merge_into_last(&mut self, items: &[Shape]) -> Option<Verdict> {
        let (last, _) = *self.stack.last()?;
        let inner = Self::holding(items);
        let merged = Shape {
            depth: last.depth.max(inner.depth),
            nodes: last.nodes + inner.nodes - 1,
        };
        *self.stack.last_mut()? = (merged, false);
        Some(self.add(Shape {
            depth: merged.depth,
            nodes: 0,
        }))
    }
}

/// Reads `n` bytes after `at`, or `None` at the end of the data.
fn take<'a>(bytes: &'a [u8], at: &mut usize, n: usize) -> Option<&'a [u8]> {
    let end = at.checked_add(n).filter(|&e| e <= bytes.len())?;
    let out = &bytes[*at..end];
    *at = end;
    Some(out)
}

fn u32_at(bytes: &[u8], at: &mut usize) -> Option<u32> {
    Some(u32::from_le_bytes(take(bytes, at, 4)?.try_into().ok()?))
}

/// `Err` with a reason when the pickle would nest too deeply or build too much; `Ok` otherwise
/// (including pickles candle will refuse for its own reasons).
pub fn check(bytes: &[u8]) -> Verdict {
    let mut m = Machine {
        stack: Vec::new(),
        memo: std::collections::HashMap::new(),
        built: 0,
    };
    match run(&mut m, bytes) {
        Some(verdict) => verdict,
        None => Ok(()),
    }
}

/// The dry run; `None` where candle would stop with an error of its own.
fn run(m: &mut Machine, bytes: &[u8]) -> Option<Verdict> {
    let mut at = 0;
    loop {
        let op = *take(bytes, &mut at, 1)?.first()?;
        let verdict = match op {
            0x80 => take(bytes, &mut at, 1).map(|_| Ok(()))?,
            b'c' => {
                for _ in 0..2 {
                    let line = bytes.get(at..)?.iter().position(|&b| b == b'\n')?;
                    at += line + 1;
                }
                m.push(LEAF)
            }
            b'K' | b'M' | b'J' | b'G' => {
                let n = match op {
                    b'K' => 1,
                    b'M' => 2,
                    b'J' => 4,
                    _ => 8,
                };
                take(bytes, &mut at, n)?;
                m.push(LEAF)
            }
            0x8a => {
                let n = *take(bytes, &mut at, 1)?.first()? as usize;
                // candle shifts each byte into an i64: a longer integer overflows the shift,
                // which panics in a debug build and silently wraps in a release one.
                if n > 8 {
                    return Some(Err(format!(
                        "its pickle is malformed: a {n}-byte integer, where a checkpoint's \
                         are at most 8 bytes"
                    )));
                }
                take(bytes, &mut at, n)?;
                m.push(LEAF)
            }
            b'X' => {
                // candle allocates the claimed length before reading it: a claim past the end
                // of the data is refused here, not allocated.
                let n = u32_at(bytes, &mut at)? as usize;
                if take(bytes, &mut at, n).is_none() {
                    return Some(Err("its pickle is cut short inside a string".into()));
                }
                m.push(LEAF)
            }
            // candle reads `d` (DICT) as EMPTY_DICT.
            b'N' | 0x88 | 0x89 | b')' | b']' | b'}' | b'd' => m.push(LEAF),
            b'(' => {
                m.stack.push((LEAF, true));
                m.add(LEAF)
            }
            b't' => {
                let items = m.pop_to_mark()?;
                m.push(Machine::holding(&items))
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let items = (0..n).map(|_| m.pop()).collect::<Option<Vec<_>>>()?;
                m.push(Machine::holding(&items))
            }
            b'R' | b'b' | 0x81 => {
                let items = [m.pop()?, m.pop()?];
                m.push(Machine::holding(&items))
            }
            b'Q' => {
                let id = m.pop()?;
                m.push(Machine::holding(&[id]))
            }
            b'a' => {
                let item = m.pop()?;
                m.merge_into_last(&[item])?
            }
            b's' => {
                let items = [m.pop()?, m.pop()?];
                m.merge_into_last(&items)?
            }
            b'e' | b'u' => {
                let items = m.pop_to_mark()?;
                m.merge_into_last(&items)?
            }
            b'h' | b'j' => {
                let id = if op == b'h' {
                    *take(bytes, &mut at, 1)?.first()? as u32
                } else {
                    u32_at(bytes, &mut at)?
                };
                let shape = *m.memo.get(&id)?;
                m.push(shape)
            }
            b'q' | b'r' => {
                let id = if op == b'q' {
                    *take(bytes, &mut at, 1)?.first()? as u32
                } else {
                    u32_at(bytes, &mut at)?
                };
                let (shape, _) = *m.stack.last()?;
                m.memo.insert(id, shape);
                m.add(shape)
            }
            b'.' => return Some(Ok(())),
            _ => return None,
        };
        if verdict.is_err() {
            return Some(verdict);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_before_candle_builds_it() {
        let n = 100_000;
        let mut p = vec![0x80, 2];
        p.extend(std::iter::repeat_n(b']', n));
        p.extend(std::iter::repeat_n(b'a', n - 1));
        p.push(b'.');
        let err = check(&p).unwrap_err();
        assert!(err.contains("nests"), "{err}");
        // A shallow list of the same size is fine.
        let mut flat = vec![0x80, 2, b']'];
        for _ in 0..1000 {
            flat.extend([b'N', b'a']);
        }
        flat.push(b'.');
        assert_eq!(check(&flat), Ok(()));
    }

    #[test]
    fn doubling_through_the_memo_is_refused() {
        // L = []; then 40 times: L = [L, L] by memo gets.
        let mut p = vec![0x80, 2, b']', b'q', 0];
        for _ in 0..40 {
            p.extend([b'(', b'h', 0, b'h', 0, b't', b'q', 0]);
        }
        p.push(b'.');
        let err = check(&p).unwrap_err();
        assert!(err.contains("objects"), "{err}");
    }

    #[test]
    fn a_string_longer_than_the_data_is_refused() {
        let mut p = vec![0x80, 2, b'X'];
        p.extend(u32::MAX.to_le_bytes());
        p.extend(b"abc.");
        assert!(check(&p).unwrap_err().contains("cut short"));
    }

    #[test]
    fn the_tiny_vqgan_checkpoint_passes() {
        use std::io::Read;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/vqgan-tiny/model.ckpt");
        let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        let mut pickle = Vec::new();
        zip.by_name("model/data.pkl")
            .unwrap()
            .read_to_end(&mut pickle)
            .unwrap();
        assert_eq!(check(&pickle), Ok(()));
    }
}
