//! The cache size behind Eigen's depth blocking in the converter's float GEMMs
//! ([`super::FloatOrder::Converter`]): Eigen cuts a product deeper than `kc` into blocks,
//! and `kc` follows the L1 data cache of the machine the converter ran on, which Eigen reads
//! through CPUID.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Eigen's depth blocking of a `rows × depth` by `depth × cols` float GEMM, single-threaded
/// (`evaluateProductBlockingSizesHeuristic` in `GeneralBlockPanelKernel.h`, with
/// `KcFactor` 1 and the AVX kernel's `mr` = 16, `nr` = 4): an `mr × kc` panel of the
/// left-hand side and a `kc × nr` panel of the right-hand side plus an `mr × nr` block of
/// results fit in L1, so `max_kc = ((l1 − 16·4·4) / (16·4 + 4·4))` rounded down to a multiple
/// of 8 (400 with a 32 KiB L1); a deeper product is cut into the fewest blocks that
/// allows, the blocks made as even as multiples of 8 permit. Problems whose every side is
/// under 48 are not blocked. The L1 size is the one Eigen reads from the CPU
/// ([`converter_l1d_cache`]).
pub(crate) fn eigen_kc(depth: usize, rows: usize, cols: usize) -> usize {
    kc_for(depth, rows, cols, converter_l1d_cache())
}

/// [`eigen_kc`] for an L1 data cache of `l1` bytes.
fn kc_for(depth: usize, rows: usize, cols: usize, l1: usize) -> usize {
    const MR: usize = 16;
    const NR: usize = 4;
    const PEELING: usize = 8;
    if depth.max(rows).max(cols) < 48 {
        return depth;
    }
    let k_div = MR * 4 + NR * 4;
    let k_sub = MR * NR * 4;
    let max_kc = ((l1.saturating_sub(k_sub) / k_div) & !(PEELING - 1)).max(1);
    if depth <= max_kc {
        depth
    } else if depth % max_kc == 0 {
        max_kc
    } else {
        max_kc - PEELING * ((max_kc - 1 - depth % max_kc) / (PEELING * (depth / max_kc + 1)))
    }
}

/// The L1 data cache size set with [`set_converter_l1d_cache`]; 0 when none is set.
static CONVERTER_L1D: AtomicUsize = AtomicUsize::new(0);

/// Sets the L1 data cache size (bytes) that [`super::FloatOrder::Converter`] assumes the converter
/// ran with, or `None` to go back to the default: the environment variable
/// `LITEQUANT_CONVERTER_L1D` (bytes) if set, else this CPU's as Eigen reads it.
///
/// Eigen, inside the converter, cuts float GEMMs deeper than `kc` (400 with a 32 KiB L1)
/// into blocks and sums block by block; `kc` follows the L1 size of the machine the
/// converter ran on. To reproduce a converter file made on another machine, set its L1
/// size here.
pub fn set_converter_l1d_cache(bytes: Option<usize>) {
    CONVERTER_L1D.store(bytes.unwrap_or(0), Ordering::Relaxed);
}

/// The L1 data cache size (bytes) the converter order assumes: the one set with
/// [`set_converter_l1d_cache`], else `LITEQUANT_CONVERTER_L1D`, else this CPU's as Eigen's
/// `queryCacheSizes` reads it through CPUID (Intel: leaf 4, the level-1 data or unified
/// cache's ways × partitions × line size × sets; AMD: leaf 0x8000_0005, ECX bits 31–24 in
/// KiB), else Eigen's x86 default of 32 KiB.
pub fn converter_l1d_cache() -> usize {
    match CONVERTER_L1D.load(Ordering::Relaxed) {
        0 => *HOST_L1D.get_or_init(|| {
            std::env::var("LITEQUANT_CONVERTER_L1D")
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&v| v > 0)
                .or_else(cpuid_l1d)
                .unwrap_or(32 * 1024)
        }),
        set => set,
    }
}

static HOST_L1D: OnceLock<usize> = OnceLock::new();

/// The L2 and L3 sizes set with [`set_converter_l2_l3_cache`]; 0 when none is set.
static CONVERTER_L2: AtomicUsize = AtomicUsize::new(0);
static CONVERTER_L3: AtomicUsize = AtomicUsize::new(0);
static HOST_L2_L3: OnceLock<(usize, usize)> = OnceLock::new();

/// Sets the L2 and L3 cache sizes (bytes) that [`super::FloatOrder::Converter`] assumes the
/// converter ran with, or `None` to go back to the default: the environment variables
/// `LITEQUANT_CONVERTER_L2` and `LITEQUANT_CONVERTER_L3` (bytes) if set, else this CPU's as
/// Eigen reads them.
///
/// When Eigen's cost model spreads a CONV_2D's tensor contraction over the calibrator's
/// threads, its blocking of rows and columns follows the L2 and L3 sizes (each thread's
/// share of L2 for the columns, of L3 for the rows), and with it the order of the sums.
pub fn set_converter_l2_l3_cache(bytes: Option<(usize, usize)>) {
    let (l2, l3) = bytes.unwrap_or((0, 0));
    CONVERTER_L2.store(l2, Ordering::Relaxed);
    CONVERTER_L3.store(l3, Ordering::Relaxed);
}

/// The L2 and L3 cache sizes (bytes) the converter order assumes: those set with
/// [`set_converter_l2_l3_cache`], else `LITEQUANT_CONVERTER_L2` / `LITEQUANT_CONVERTER_L3`,
/// else this CPU's as Eigen's `queryCacheSizes` reads them (Intel: leaf 4's level-2 and
/// level-3 caches; AMD: leaf 0x8000_0006, ECX bits 31–16 in KiB for L2 and
/// `(EDX & 0x0FFF_C000) >> 18` units of 512 KiB for L3 — Eigen's mask, which drops EDX's top
/// four bits), else Eigen's x86 defaults of 256 KiB and 2 MiB.
pub fn converter_l2_l3_cache() -> (usize, usize) {
    let (l2, l3) = (
        CONVERTER_L2.load(Ordering::Relaxed),
        CONVERTER_L3.load(Ordering::Relaxed),
    );
    if l2 > 0 && l3 > 0 {
        return (l2, l3);
    }
    *HOST_L2_L3.get_or_init(|| {
        let env = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&v| v > 0)
        };
        let (cpu_l2, cpu_l3) = cpuid_l2_l3();
        (
            env("LITEQUANT_CONVERTER_L2")
                .or(cpu_l2)
                .unwrap_or(256 * 1024),
            env("LITEQUANT_CONVERTER_L3")
                .or(cpu_l3)
                .unwrap_or(2 * 1024 * 1024),
        )
    })
}

/// Whether CPUID leaf 0 names AMD ("AuthenticAMD", or "AMDisbetter!"), for which Eigen reads
/// the cache sizes from the extended leaves.
#[cfg(target_arch = "x86_64")]
fn is_amd(vendor: &std::arch::x86_64::CpuidResult) -> bool {
    matches!(
        (vendor.ebx, vendor.edx, vendor.ecx),
        (0x6874_7541, 0x6974_6e65, 0x444d_4163) | (0x6944_4d41, 0x7465_6273, 0x2172_6574)
    )
}

/// Eigen's `queryCacheSizes` for the L2 and L3 caches (`None` where it finds none).
#[cfg(target_arch = "x86_64")]
#[allow(unused_unsafe)]
fn cpuid_l2_l3() -> (Option<usize>, Option<usize>) {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    let some = |v: usize| (v > 0).then_some(v);
    // SAFETY (Rust before 1.89): CPUID is available on every x86-64 processor.
    let vendor = unsafe { __cpuid(0) };
    let amd = is_amd(&vendor);
    if amd {
        // SAFETY: as above; leaves past the maximum return zeros, checked first.
        let max_ext = unsafe { __cpuid(0x8000_0000) }.eax;
        if max_ext < 0x8000_0006 {
            return (None, None);
        }
        let r = unsafe { __cpuid(0x8000_0006) };
        let l2 = (r.ecx >> 16) as usize * 1024;
        let l3 = ((r.edx & 0x0fff_c000) >> 18) as usize * 512 * 1024;
        return (some(l2), some(l3));
    }
    if vendor.eax < 4 {
        return (None, None);
    }
    let (mut l2, mut l3) = (0, 0);
    for id in 0..16 {
        // SAFETY: as above; leaf 4 is supported (max standard leaf >= 4).
        let r = unsafe { __cpuid_count(4, id) };
        let kind = r.eax & 0x0f;
        if kind == 0 {
            break;
        }
        if kind == 1 || kind == 3 {
            let ways = ((r.ebx >> 22) & 0x3ff) as usize + 1;
            let partitions = ((r.ebx >> 12) & 0x3ff) as usize + 1;
            let line = (r.ebx & 0xfff) as usize + 1;
            let sets = r.ecx as usize + 1;
            match (r.eax & 0xe0) >> 5 {
                2 => l2 = ways * partitions * line * sets,
                3 => l3 = ways * partitions * line * sets,
                _ => {}
            }
        }
    }
    (some(l2), some(l3))
}

#[cfg(not(target_arch = "x86_64"))]
fn cpuid_l2_l3() -> (Option<usize>, Option<usize>) {
    (None, None)
}

/// Eigen's `queryCacheSizes` for the L1 data cache (`None` where it finds none).
#[cfg(target_arch = "x86_64")]
#[allow(unused_unsafe)] // CPUID's intrinsics became safe after the crate's minimum Rust
fn cpuid_l1d() -> Option<usize> {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // SAFETY (Rust before 1.89): CPUID is available on every x86-64 processor.
    let vendor = unsafe { __cpuid(0) };
    let amd = is_amd(&vendor);
    if amd {
        // SAFETY: as above; leaves past the maximum return zeros, checked first.
        let max_ext = unsafe { __cpuid(0x8000_0000) }.eax;
        if max_ext < 0x8000_0006 {
            return None;
        }
        let l1 = (unsafe { __cpuid(0x8000_0005) }.ecx >> 24) as usize * 1024;
        return (l1 > 0).then_some(l1);
    }
    if vendor.eax < 4 {
        return None;
    }
    for id in 0..16 {
        // SAFETY: as above; leaf 4 is supported (max standard leaf >= 4).
        let r = unsafe { __cpuid_count(4, id) };
        let kind = r.eax & 0x0f;
        if kind == 0 {
            break;
        }
        if (kind == 1 || kind == 3) && (r.eax & 0xe0) >> 5 == 1 {
            let ways = ((r.ebx >> 22) & 0x3ff) as usize + 1;
            let partitions = ((r.ebx >> 12) & 0x3ff) as usize + 1;
            let line = (r.ebx & 0xfff) as usize + 1;
            let sets = r.ecx as usize + 1;
            return Some(ways * partitions * line * sets);
        }
    }
    None
}

#[cfg(not(target_arch = "x86_64"))]
fn cpuid_l1d() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_blocks_as_eigen_cuts_them() {
        let kc = |depth, l1| kc_for(depth, 24, 25, l1);
        // 32 KiB: max_kc = (32768 - 256) / 80 = 406, down to a multiple of 8: 400.
        assert_eq!(
            [kc(400, 32768), kc(408, 32768), kc(504, 32768)],
            [400, 208, 256]
        );
        assert_eq!(
            [kc(820, 32768), kc(800, 32768), kc(2000, 32768)],
            [280, 400, 400]
        );
        // 48 KiB: max_kc 608.
        assert_eq!([kc(600, 49152), kc(700, 49152)], [600, 352]);
        // Small problems are never blocked, and kc stays positive on a tiny cache.
        assert_eq!(kc_for(40, 40, 40, 1024), 40);
        assert_eq!(kc_for(100, 40, 40, 100), 1);
    }
}
