//! `shaders/common/gemmlowp.wgsl` against its Rust twin (`litequant::quant::fixedpoint`),
//! bit for bit, over edge and random values (through `shaders/gemmlowp_test.wgsl`).

use litequant::gpu::{GpuContext, PipelineKey};
use litequant::quant::fixedpoint as fp;

use super::{engine, Rng};

/// Uniform values, values near the i32 edges, and small values.
fn value(rng: &mut Rng) -> i32 {
    match rng.next() % 3 {
        0 => rng.next() as i32,
        1 => rng
            .pick(&[i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX - 1, i32::MAX])
            .wrapping_add(rng.range(-2, 2) as i32),
        _ => rng.range(-32768, 32767) as i32,
    }
}

/// The Rust twin of case `(id, a, b, c)`, as the shader returns it.
fn twin(c: [i32; 4]) -> [i32; 2] {
    let [id, a, b, k] = c;
    match id {
        0 => [
            fp::multiply_by_quantized_multiplier_greater_than_one(a, b, k),
            0,
        ],
        1 => [fp::saturating_rounding_multiply_by_pot(a, b), 0],
        2 => [fp::rounding_half_sum(a, b), 0],
        3 => [
            fp::exp_on_interval_between_negative_one_quarter_and_0_excl(a),
            0,
        ],
        4 => [fp::exp_on_negative_values(a, b), 0],
        5 => [fp::one_over_one_plus_x_for_x_in_0_1(a), 0],
        6 => {
            let (r, n) = fp::get_reciprocal(a, b);
            [r, n]
        }
        _ => unreachable!(),
    }
}

fn cases() -> Vec<[i32; 4]> {
    let mut rng = Rng(77);
    let mut v = Vec::new();
    let edges = [
        i32::MIN,
        i32::MIN + 1,
        -(1 << 30),
        -3,
        -2,
        -1,
        0,
        1,
        2,
        3,
        1 << 30,
        i32::MAX - 1,
        i32::MAX,
    ];
    for &a in &edges {
        for &b in &edges {
            v.push([2, a, b, 0]);
        }
        for shift in 0..=31 {
            v.push([0, a, i32::MAX, shift]);
            v.push([0, a, 1 << 30, shift]);
        }
        for e in -31..=31 {
            v.push([1, a, e, 0]);
        }
    }
    for _ in 0..3000 {
        let (a, b) = (value(&mut rng), value(&mut rng));
        v.push([
            0,
            a,
            value(&mut rng).wrapping_abs().max(1 << 30),
            rng.range(0, 31) as i32,
        ]);
        v.push([1, a, rng.range(-31, 31) as i32, 0]);
        v.push([2, a, b, 0]);
        // exp on [-1/4, 0): a in [-2^29, 0).
        v.push([3, -(rng.range(1, 1 << 29) as i32), 0, 0]);
        // exp on negative values, every integer-bit count.
        let ib = rng.range(0, 29) as i32;
        let neg = if a == i32::MIN { a } else { -a.abs() };
        v.push([4, neg, ib, 0]);
        // 1 / (1 + x) on [0, 1).
        v.push([5, (rng.next() as u32 >> 1) as i32, 0, 0]);
        // Reciprocals of positive sums with 0..=31 integer digits.
        v.push([
            6,
            (rng.next() as u32 >> rng.range(1, 31)).max(1) as i32,
            rng.range(0, 31) as i32,
            0,
        ]);
    }
    for ib in 0..=29 {
        for a in [
            0,
            -1,
            i32::MIN,
            -(1 << 26),
            -(1 << 24) - 1,
            -(1 << (31 - ib.max(1))),
        ] {
            v.push([4, a, ib, 0]);
        }
    }
    for a in [0, 1, i32::MAX, i32::MAX - 1, 1 << 30] {
        v.push([5, a, 0, 0]);
    }
    // 0 and negative raw values too (a shift by 32 shifts by 0, as in the Rust twin).
    for a in [
        0,
        -5,
        i32::MIN,
        1,
        2,
        1 << 19,
        1 << 30,
        i32::MAX,
        (1 << 19) * 300,
    ] {
        v.push([6, a, 12, 0]);
    }
    v
}

fn run(ctx: &GpuContext, cases: &[[i32; 4]]) -> Vec<[i32; 2]> {
    let bytes = crate::common::run_entry(
        ctx,
        &PipelineKey::new("gemmlowp_test", "main"),
        bytemuck::cast_slice(cases),
        cases.len() * 8,
        [(cases.len() as u32).div_ceil(64), 1, 1],
    )
    .expect("gemmlowp_test runs");
    bytes
        .chunks_exact(8)
        .map(|c| {
            [
                i32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                i32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            ]
        })
        .collect()
}

#[test]
fn gemmlowp_wgsl_matches_the_rust_twin_bit_for_bit() {
    let Some(engine) = engine("gemmlowp_wgsl_matches_the_rust_twin_bit_for_bit") else {
        return;
    };
    let cases = cases();
    let got = run(engine.context(), &cases);
    let mut bad = Vec::new();
    for (c, g) in cases.iter().zip(&got) {
        let want = twin(*c);
        if *g != want {
            bad.push(format!("{c:?}: gpu {g:?}, rust {want:?}"));
        }
    }
    let mut per_id = [0usize; 7];
    for c in &cases {
        per_id[c[0] as usize] += 1;
    }
    assert!(per_id.iter().all(|&n| n >= 500), "{per_id:?}");
    assert!(
        bad.is_empty(),
        "{} of {} cases differ:\n{}",
        bad.len(),
        cases.len(),
        bad[..bad.len().min(20)].join("\n")
    );
}
