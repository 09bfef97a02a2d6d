//! Which instructions bf16 products run on in this process, or, where none, why: AMX where
//! the CPU and system allow it, else AVX512-BF16's `vdpbf16ps` where it is fast, else none
//! (bf16 then falls back to f32 with the sentence [`unavailable_reason`] gives).

use std::sync::OnceLock;

use super::{amx, bf16_dot};

/// The instructions a bf16 product runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// AMX tiles (Xeon Sapphire Rapids and later).
    Amx,
    /// AVX512-BF16's `vdpbf16ps` (Xeon Cooper Lake, AMD Zen 4 and later).
    Dot,
}

impl Kernel {
    pub fn name(self) -> &'static str {
        match self {
            Self::Amx => "AMX",
            Self::Dot => "AVX512-BF16",
        }
    }
}

/// `vdpbf16ps` is chosen only where it multiplies at least this many times faster than f32:
/// a small gain would not pay for bf16's rounding.
const DOT_MIN_SPEEDUP: f64 = 1.5;

/// Which kernel bf16 products use in this process, or why none.
#[derive(Debug, Clone)]
struct Choice {
    kernel: Option<Kernel>,
    /// Why `kernel` is `None`, one sentence for the user.
    why_none: String,
}

/// What bf16 needs, said wherever the automatic choice finds nothing.
const NEEDS: &str = "bf16 needs a CPU with AMX (Intel Xeon, Sapphire Rapids or later) or a fast \
                     AVX512-BF16 (AMD Zen 4 or later), a system that allows it, and the fused \
                     CPU ops";

fn choice() -> &'static Choice {
    static CHOICE: OnceLock<Choice> = OnceLock::new();
    CHOICE.get_or_init(|| {
        let asked = std::env::var("STORYBOOK_BF16_KERNEL").unwrap_or_default();
        choose(
            asked.trim(),
            amx::available(),
            bf16_dot::available(),
            bf16_dot::speedup_over_f32,
        )
    })
}

/// The choice for the switch `asked` (empty: automatic) on a CPU with or without each kernel;
/// `dot_speedup` is only measured when the automatic choice needs it.
fn choose(asked: &str, amx: bool, dot: bool, dot_speedup: impl Fn() -> f64) -> Choice {
    let none = |why_none: String| Choice {
        kernel: None,
        why_none,
    };
    let some = |kernel| Choice {
        kernel: Some(kernel),
        why_none: String::new(),
    };
    match asked.to_ascii_lowercase().as_str() {
        "" | "auto" if amx => some(Kernel::Amx),
        "" | "auto" if dot => {
            let speedup = dot_speedup();
            if speedup >= DOT_MIN_SPEEDUP {
                some(Kernel::Dot)
            } else {
                none(format!(
                    "{NEEDS}: this CPU's AVX512-BF16 runs at {speedup:.1}x its f32 rate, below \
                     the {DOT_MIN_SPEEDUP}x that bf16 needs to be worth it"
                ))
            }
        }
        "" | "auto" => none(NEEDS.into()),
        "amx" if amx => some(Kernel::Amx),
        "avx512bf16" if dot => some(Kernel::Dot),
        "amx" | "avx512bf16" => none(format!(
            "STORYBOOK_BF16_KERNEL={asked} asks for a bf16 kernel this CPU or system does not run"
        )),
        "none" => none("STORYBOOK_BF16_KERNEL=none turns bf16 off".into()),
        _ => none(format!(
            "STORYBOOK_BF16_KERNEL={asked} is not a bf16 kernel: choose amx, avx512bf16, none \
             or auto"
        )),
    }
}

/// The kernel bf16 products use in this process: AMX where it runs, else `vdpbf16ps` where it
/// is [`DOT_MIN_SPEEDUP`] times faster than f32, else none (bf16 then falls back to f32).
/// `STORYBOOK_BF16_KERNEL` (`amx`, `avx512bf16`, `none`) forces one where the CPU has it, so
/// each path can be tried, tested and timed on a machine that has both.
pub fn kernel() -> Option<Kernel> {
    choice().kernel
}

/// Whether bf16 products can run in this process, on either kernel.
pub fn available() -> bool {
    kernel().is_some()
}

/// Why bf16 does not run here, one sentence, or `None` where it does.
pub fn unavailable_reason() -> Option<String> {
    let c = choice();
    c.kernel.is_none().then(|| c.why_none.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The automatic choice prefers AMX, takes `vdpbf16ps` only where it is fast, and a forced
    /// kernel runs only where the CPU has it; every refusal says why in words.
    #[test]
    fn the_kernel_choice_prefers_amx_and_a_fast_vdpbf16ps() {
        let never =
            || -> f64 { panic!("the speed of vdpbf16ps was measured when it did not matter") };
        let fast = || 2.0;
        let slow = || 0.5;
        assert_eq!(choose("", true, true, never).kernel, Some(Kernel::Amx));
        assert_eq!(choose("auto", false, true, fast).kernel, Some(Kernel::Dot));
        let half = choose("", false, true, slow);
        assert_eq!(half.kernel, None);
        assert!(half.why_none.starts_with(NEEDS), "{}", half.why_none);
        assert!(
            half.why_none.contains("0.5x its f32 rate"),
            "{}",
            half.why_none
        );
        let neither = choose("", false, false, never);
        assert_eq!((neither.kernel, neither.why_none.as_str()), (None, NEEDS));
        // Forced: the slow kernel too, so it can be tested and timed; never one the CPU lacks.
        assert_eq!(
            choose("avx512bf16", true, true, never).kernel,
            Some(Kernel::Dot)
        );
        assert_eq!(choose("AMX", true, true, never).kernel, Some(Kernel::Amx));
        let missing = choose("amx", false, true, never);
        assert_eq!(missing.kernel, None);
        assert!(
            missing.why_none.contains("does not run"),
            "{}",
            missing.why_none
        );
        assert!(choose("none", true, true, never)
            .why_none
            .contains("turns bf16 off"));
        let typo = choose("avx512", true, true, never);
        assert_eq!(typo.kernel, None);
        assert!(
            typo.why_none.contains("is not a bf16 kernel"),
            "{}",
            typo.why_none
        );
    }
}
