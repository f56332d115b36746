//! The int64 `MultiplyByQuantizedMultiplier` of int8 REDUCE_PROD on the device
//! (`shaders/common/mbqm64.wgsl`) against its 64-bit definition: products of both signs up
//! to 2^61, every total shift from 1 to 63, ties.

use litequant::gpu;

use super::*;

const MBQM64_TEST: &str = r#"
#import mbqm64
@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> k: array<u32>;
@group(0) @binding(2) var<storage, read> ts: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    if (i >= arrayLength(&a)) {
        return;
    }
    out[i] = bitcast<u32>(mul_round_shift64(bitcast<i32>(a[i]), bitcast<i32>(k[i]), ts[i]));
}
"#;

#[test]
fn wgsl_int64_multiplier_equals_its_definition() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("wgsl_int64_multiplier_equals_its_definition")? else {
        return Ok(());
    };
    let mut rng = Rng(0x64);
    let (mut a, mut k, mut ts) = (Vec::new(), Vec::new(), Vec::new());
    let edges = [
        0i32,
        1,
        -1,
        2,
        -2,
        127,
        -128,
        255,
        -255,
        1 << 15,
        i32::MAX,
        i32::MIN + 1,
        i32::MIN,
    ];
    for &x in &edges {
        for &y in &[
            1i32,
            -1,
            3,
            -3,
            0x7FFF,
            -0x7FFF,
            255 * 0x7FFF,
            -255 * 0x7FFF,
        ] {
            for s in 1..64u32 {
                a.push(x);
                k.push(y);
                ts.push(s);
            }
        }
    }
    while a.len() < 60_000 {
        a.push(rng.next() as i32);
        // |k| < 2^30 keeps |a·k| below 2^61.
        k.push((rng.next() as i32) >> 2);
        ts.push(1 + (rng.next() as u32) % 63);
    }
    let words = |v: &[i32]| v.iter().map(|&x| x as u32).collect::<Vec<u32>>();
    let got = run_wgsl(&ctx, MBQM64_TEST, &[&words(&a), &words(&k), &ts], a.len());
    let mut bad = Vec::new();
    let mut negative_high = 0;
    for i in 0..a.len() {
        let p = i64::from(a[i]) * i64::from(k[i]) + (1i64 << (ts[i] - 1));
        let want = (p >> ts[i]) as i32;
        negative_high += usize::from(p < 0 && ts[i] > 32);
        if got[i] as i32 != want {
            bad.push(format!(
                "{} * {} >> {}: gpu {}, want {want}",
                a[i], k[i], ts[i], got[i] as i32
            ));
        }
    }
    assert!(negative_high > 1000);
    assert!(
        bad.is_empty(),
        "{} of {} differ:\n{}",
        bad.len(),
        a.len(),
        bad[..bad.len().min(20)].join("\n")
    );
    Ok(())
}
