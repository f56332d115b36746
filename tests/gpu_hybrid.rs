//! The WGSL soft-float functions (`shaders/common/softfloat{,64}.wgsl`, through the
//! `softfloat_selftest` entry of `shaders/hybrid.wgsl`) against native f32/f64 arithmetic on
//! the adapter from the environment: every edge value against every edge value, and random
//! operands (uniform bit patterns, short significands for exact results and ties, values near
//! each other). The Rust twin is proven against the same native operations in
//! `src/quant/fixedpoint/softfloat/tests.rs`; the row quantization built on them is tested
//! against the reference engine in `src/gpu/kernels/hybrid_tests.rs`.

mod common;
pub use common::Rng;

use litequant::gpu::{self, GpuContext, PipelineKey};

const STRIDE: usize = 20;

fn edges32() -> Vec<f32> {
    let mut v = vec![
        0.0,
        f32::from_bits(1),
        f32::from_bits(0x007f_ffff),
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::INFINITY,
        f32::NAN,
        1.0,
        1.0 + f32::EPSILON,
        1.0 - f32::EPSILON / 2.0,
        0.5,
        0.49999997,
        1.5,
        2.5,
        127.0,
        255.0,
        2147483648.0,
        2147483520.0,
        3.0,
        1e-20,
        1e20,
        f32::from_bits(0x0040_0000),
    ];
    let n = v.len();
    for i in 0..n {
        v.push(-v[i]);
    }
    v
}

fn random32(rng: &mut Rng) -> u32 {
    let r = rng.next();
    let bits = r as u32;
    match (r >> 32) % 4 {
        0 => bits,
        1 => (bits & 0x8000_0000) | (((bits >> 23) % 40 + 107) << 23) | (bits & 0x7f_f000),
        2 => bits & 0x80ff_ffff,
        _ => (bits & 0x8000_0000) | (((bits >> 23) % 4 + 125) << 23) | (bits & 0x7f_ffff),
    }
}

fn random64(rng: &mut Rng) -> u64 {
    let r = rng.next();
    match rng.next() % 4 {
        0 => r,
        1 => (r & 0x800f_ffff_fff0_0000) | ((((r >> 52) & 0x7ff) % 64 + 992) << 52),
        2 => f64::from(f32::from_bits(random32(rng))).to_bits(),
        _ => (r & 0x800f_ffff_ffff_ffff) | ((((r >> 52) & 0x7ff) % 8 + 1019) << 52),
    }
}

/// Runs the selftest entry over `(a, b)` operand pairs (64-bit patterns; binary32 operations
/// take the low words).
fn run(ctx: &GpuContext, pairs: &[(u64, u64)]) -> litequant::Result<Vec<u32>> {
    let words: Vec<u32> = pairs
        .iter()
        .flat_map(|&(a, b)| [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32])
        .collect();
    let bytes = common::run_entry(
        ctx,
        &PipelineKey::new("hybrid", "softfloat_selftest"),
        bytemuck::cast_slice(&words),
        pairs.len() * STRIDE * 4,
        [(pairs.len() as u32).div_ceil(64), 1, 1],
    )?;
    Ok(bytemuck::pod_collect_to_vec(&bytes))
}

fn same32(got: u32, want: f32) -> bool {
    got == want.to_bits() || (want.is_nan() && f32::from_bits(got).is_nan())
}

fn same64(lo: u32, hi: u32, want: f64) -> bool {
    let got = (u64::from(hi) << 32) | u64::from(lo);
    got == want.to_bits() || (want.is_nan() && f64::from_bits(got).is_nan())
}

/// The mismatches of one operand pair's results against native arithmetic.
fn check(a: u64, b: u64, r: &[u32]) -> Vec<String> {
    let (x, y) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
    let (dx, dy) = (f64::from_bits(a), f64::from_bits(b));
    let mut bad = Vec::new();
    let mut expect = |ok: bool, what: &str| {
        if !ok {
            bad.push(format!("{what}: a {a:#018x} b {b:#018x}"));
        }
    };
    expect(same32(r[0], x * y), "f32 mul");
    expect(same32(r[1], x / y), "f32 div");
    expect(same32(r[2], x + y), "f32 add");
    expect(r[3] == u32::from(x < y), "f32 lt");
    if !(x == 0.0 && y == 0.0) {
        expect(same32(r[4], x.min(y)), "f32 min");
        expect(same32(r[5], x.max(y)), "f32 max");
    }
    expect(r[6] as i32 == x.round() as i32, "f32 round");
    expect(r[7] == ((a as u32 as i32) as f32).to_bits(), "i32 to f32");
    expect(same64(r[8], r[9], f64::from(x)), "f32 to f64");
    expect(same64(r[10], r[11], dx + dy), "f64 add");
    expect(same64(r[12], r[13], dx - dy), "f64 sub");
    expect(same64(r[14], r[15], dx / dy), "f64 div");
    expect(
        r[16] == u32::from(dx < dy) | (u32::from(dx <= dy) << 1),
        "f64 lt/le",
    );
    expect(same32(r[17], dx as f32), "f64 to f32");
    expect(r[18] as i32 == dx.round() as i32, "f64 round");
    expect(r[19] as i32 == x as i32, "f32 trunc");
    bad
}

#[test]
fn wgsl_softfloat_equals_native_arithmetic() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("wgsl_softfloat_equals_native_arithmetic")? else {
        return Ok(());
    };
    let mut pairs = Vec::new();
    // Edges: binary32 pairs (placed in the low words; the high words make binary64 values),
    // and binary64 edges from the binary32 ones and the ties of round.
    let e32 = edges32();
    let mut e64: Vec<f64> = e32.iter().map(|&v| f64::from(v)).collect();
    e64.extend([
        2147483647.5,
        2147483646.5,
        -2147483648.5,
        0.49999999999999994,
        1e-310,
        1e300,
    ]);
    for (i, &x) in e32.iter().enumerate() {
        for (j, &y) in e32.iter().enumerate() {
            let hx = e64[(i + j) % e64.len()].to_bits() & !0xffff_ffff;
            let hy = e64[(i * 7 + j) % e64.len()].to_bits() & !0xffff_ffff;
            pairs.push((hx | u64::from(x.to_bits()), hy | u64::from(y.to_bits())));
        }
    }
    for &x in &e64 {
        for &y in &e64 {
            pairs.push((x.to_bits(), y.to_bits()));
        }
    }
    let mut rng = Rng(0x50f7);
    for _ in 0..200_000 {
        let (a32, b32) = (random32(&mut rng), random32(&mut rng));
        let (a64, b64) = (random64(&mut rng), random64(&mut rng));
        pairs.push((
            (a64 & !0xffff_ffff) | u64::from(a32),
            (b64 & !0xffff_ffff) | u64::from(b32),
        ));
        pairs.push((a64, b64));
    }
    let out = run(&ctx, &pairs)?;
    let mut bad = Vec::new();
    for (i, &(a, b)) in pairs.iter().enumerate() {
        bad.extend(check(a, b, &out[i * STRIDE..][..STRIDE]));
    }
    assert!(
        bad.is_empty(),
        "{} mismatches of {} pairs, first: {:?}",
        bad.len(),
        pairs.len(),
        &bad[..bad.len().min(10)]
    );
    Ok(())
}
