//! Intel AMX for bf16 products: whether this CPU and kernel allow it, and the one tile loop
//! that [`super::bf16_gemm`] drives.
//!
//! AMX (Sapphire Rapids and later Xeons) multiplies 16×32 bf16 tiles into 16×16 f32 tiles, about
//! four times the f32 rate of AVX-512's fused multiply-adds on the same core. Linux hands out
//! the 8 KiB tile state only to a process that asks (`arch_prctl(ARCH_REQ_XCOMP_PERM)`), so
//! [`available`] asks once and says no where the CPU, the kernel or a hypervisor refuses. Rust
//! has no stable AMX intrinsics, hence the inline assembly.

use std::sync::OnceLock;

/// Rows of a tile, and f32 columns of an accumulator tile.
pub const TILE: usize = 16;
/// bf16 values along the reduction in one A tile row (64 bytes).
pub const TILE_K: usize = 32;

/// Whether AMX bf16 products can run in this process (asked once). Which bf16 kernel runs, and
/// the switch that leaves AMX out, are [`super::bf16_gemm::kernel`]'s.
pub fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(detect)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn detect() -> bool {
    // CPUID leaf 7: EDX bit 22 is AMX-BF16, bit 24 AMX-TILE.
    let leaf = std::arch::x86_64::__cpuid_count(7, 0);
    if leaf.edx & (1 << 22) == 0 || leaf.edx & (1 << 24) == 0 {
        return false;
    }
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: a plain system call with integer arguments; it only grants a permission.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn detect() -> bool {
    false
}

/// Palette 1 with all eight tiles at 16 rows of 64 bytes.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
static CONFIG: TileConfig = {
    let mut c = [0u8; 64];
    c[0] = 1;
    let mut t = 0;
    while t < 8 {
        c[16 + 2 * t] = 64;
        c[48 + t] = TILE as u8;
        t += 1;
    }
    TileConfig(c)
};

/// Runs `f` with the tiles configured on this thread, and releases them after (on a panic
/// too), so a thread that is done with AMX does not carry its state through every context
/// switch. Not to be nested: the inner call's release would end the outer one's tiles.
///
/// # Panics
/// When [`available`] is false: the caller must check first.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub fn with_tiles<T>(f: impl FnOnce(&Tiles) -> T) -> T {
    assert!(available(), "AMX used without checking amx::available()");
    // SAFETY: AMX is present and permitted (checked above); the config is 64-byte aligned.
    unsafe {
        std::arch::asm!("ldtilecfg [{}]", in(reg) CONFIG.0.as_ptr(), options(nostack, readonly));
    }
    let tiles = Tiles(std::marker::PhantomData);
    f(&tiles)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
impl Drop for Tiles {
    fn drop(&mut self) {
        // SAFETY: a `Tiles` exists only while its thread's tiles are configured.
        unsafe {
            std::arch::asm!("tilerelease", options(nostack, nomem));
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
pub fn with_tiles<T>(_f: impl FnOnce(&Tiles) -> T) -> T {
    panic!("AMX used without checking amx::available()")
}

/// Proof that the tiles are configured on this thread; it cannot leave the thread (a raw
/// pointer makes it neither `Send` nor `Sync`), and dropping it releases them.
pub struct Tiles(std::marker::PhantomData<*const ()>);

/// Where one 32×32 block of `C = A·B` reads its operands.
pub struct Block {
    /// A's first row for this block; its other 31 rows follow at `a_stride` bytes each.
    pub a: *const u16,
    /// Bytes between A's rows.
    pub a_stride: usize,
    /// The first k-tile of B's two 16-column panels; each panel's k-tiles are consecutive.
    pub b0: *const u16,
    pub b1: *const u16,
    /// k-tiles to accumulate.
    pub k_tiles: usize,
}

impl Tiles {
    /// `c = A·B` over 32 rows and 32 columns, written as four 16×16 f32 tiles in a 32×32
    /// row-major block.
    ///
    /// # Safety
    /// `a` must be readable for 32 rows of `k_tiles * 64` bytes at `a_stride`, `b0` and `b1`
    /// for `k_tiles * 1024` bytes each.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    pub unsafe fn block(&self, blk: &Block, c: &mut [f32; 32 * 32]) {
        if blk.k_tiles == 0 {
            c.fill(0.0);
            return;
        }
        let a1 = blk.a.cast::<u8>().add(TILE * blk.a_stride);
        std::arch::asm!(
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            "2:",
            "tileloadd tmm4, [{a0} + {sa}*1]",
            "tileloadd tmm6, [{b0} + {sb}*1]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tileloadd tmm7, [{b1} + {sb}*1]",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tileloadd tmm5, [{a1} + {sa}*1]",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            "add {a0}, 64",
            "add {a1}, 64",
            "add {b0}, 1024",
            "add {b1}, 1024",
            "dec {n}",
            "jnz 2b",
            "tilestored [{c0} + {sc}*1], tmm0",
            "tilestored [{c1} + {sc}*1], tmm1",
            "tilestored [{c2} + {sc}*1], tmm2",
            "tilestored [{c3} + {sc}*1], tmm3",
            a0 = inout(reg) blk.a => _,
            a1 = inout(reg) a1 => _,
            b0 = inout(reg) blk.b0 => _,
            b1 = inout(reg) blk.b1 => _,
            n = inout(reg) blk.k_tiles => _,
            sa = in(reg) blk.a_stride,
            sb = in(reg) 64usize,
            sc = in(reg) 32 * 4usize,
            c0 = in(reg) c.as_mut_ptr(),
            c1 = in(reg) c.as_mut_ptr().add(TILE),
            c2 = in(reg) c.as_mut_ptr().add(TILE * 32),
            c3 = in(reg) c.as_mut_ptr().add(TILE * 32 + TILE),
            options(nostack),
        );
    }

    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    pub unsafe fn block(&self, _blk: &Block, _c: &mut [f32; 32 * 32]) {
        unreachable!("no AMX on this target")
    }
}
