//! The shared WGSL fixed-point functions (`shaders/common/fixedpoint.wgsl`) equal their Rust
//! twins (`litequant::quant::fixedpoint`, themselves proven equal to the 64-bit formulas) bit
//! for bit on the GPU: every pair of edge values and a million seeded random cases.
//!
//! Skips without an adapter unless `LITEQUANT_REQUIRE_GPU=1`.

mod common;
pub use common::Rng;

use litequant::gpu::{self, GpuContext, PipelineKey};
use litequant::quant::fixedpoint::{
    multiply_by_quantized_multiplier, rounding_divide_by_pot, srdhm, QuantizedMultiplier,
};

const EDGES: [i32; 18] = [
    i32::MIN,
    i32::MIN + 1,
    -(1 << 30) - 1,
    -(1 << 30),
    -65537,
    -65536,
    -65535,
    -3,
    -2,
    -1,
    0,
    1,
    2,
    65535,
    65536,
    (1 << 30) - 1,
    1 << 30,
    i32::MAX,
];

/// Multipliers as QuantizeMultiplier makes them: 0 or in [2^30, 2^31).
const MULTIPLIERS: [i32; 6] = [
    0,
    1 << 30,
    (1 << 30) + 1,
    1_518_500_250,
    i32::MAX - 1,
    i32::MAX,
];

/// (x, multiplier, shift, exponent) test vectors: every edge x against every edge (for
/// srdhm's second operand too), every shift in [-31, 30] and exponent in [0, 31]; then
/// random cases.
fn cases(random: usize) -> Vec<[i32; 4]> {
    let mut v = Vec::new();
    for &x in &EDGES {
        for &b in EDGES.iter().chain(&MULTIPLIERS) {
            for shift in -31..=30 {
                v.push([x, b, shift, (shift + 31) & 31]);
            }
        }
    }
    let mut rng = Rng(0x5eed);
    for _ in 0..random {
        let r = rng.next();
        let x = match r % 3 {
            0 => rng.next() as i32,
            1 => {
                EDGES[(rng.next() % EDGES.len() as u64) as usize].wrapping_add((r >> 8) as i32 % 5)
            }
            _ => ((rng.next() % (1 << 20)) as i32) - (1 << 19),
        };
        let m = match (r >> 4) % 3 {
            0 => (1 << 30) + (rng.next() % (1 << 30)) as i32,
            1 => rng.next() as i32,
            _ => MULTIPLIERS[(rng.next() % MULTIPLIERS.len() as u64) as usize],
        };
        let shift = (rng.next() % 62) as i32 - 31;
        let exponent = (rng.next() % 32) as i32;
        v.push([x, m, shift, exponent]);
    }
    v
}

fn run(ctx: &GpuContext, wg: u32, cases: &[[i32; 4]]) -> litequant::Result<Vec<[i32; 4]>> {
    let key = PipelineKey::new("fixedpoint_check", "main").constant("WG", f64::from(wg));
    let flat: Vec<i32> = cases.iter().flatten().copied().collect();
    let groups = (cases.len() as u32).div_ceil(wg);
    // Two rows of workgroups, as split grids are laid out.
    let bytes = common::run_entry(
        ctx,
        &key,
        bytemuck::cast_slice(&flat),
        flat.len() * 4,
        [groups.div_ceil(2), 2, 1],
    )?;
    let words: Vec<i32> = bytemuck::pod_collect_to_vec(&bytes);
    Ok(words
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect())
}

#[test]
fn wgsl_fixedpoint_equals_the_rust_twin() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("wgsl_fixedpoint_equals_the_rust_twin")? else {
        return Ok(());
    };
    let cases = cases(1_000_000);
    let got = run(&ctx, 64, &cases)?;
    let mut bad = Vec::new();
    for (c, g) in cases.iter().zip(&got) {
        let [x, m, shift, e] = *c;
        let want = [
            srdhm(x, m),
            rounding_divide_by_pot(x, e),
            multiply_by_quantized_multiplier(
                x,
                QuantizedMultiplier {
                    multiplier: m,
                    shift,
                },
            ),
            0,
        ];
        if *g != want {
            bad.push(format!("case {c:?}: gpu {g:?}, rust {want:?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} cases differ, first: {}",
        bad.len(),
        cases.len(),
        bad.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
    );
    Ok(())
}
