// NEG, RSQRT, SQRT, EXP, LOG and GELU, twin of `src/reference/elementwise`. One invocation
// computes the elements of one output word.
//
// `float_main`: float32, p.fkind picks the function (`UnaryFloatFn`): 0 NEG, 1 RSQRT,
// 2 SQRT, 3 EXP, 4 GELU, 5 GELU approximate, 6 LOG. NEG, SQRT and RSQRT give the CPU's bits
// (a correctly rounded soft square root and the soft float's `f32_div`), and GELU (Eigen's
// erfc and tanh, shaders/common/eigen_act.wgsl; the converter's GELU takes the CPU's `rcpps`,
// which the GPU cannot, so it is within the tolerance there); EXP uses the device's `exp`,
// LOG the device's `log`: within the conformance tolerance.
// `table_main`: int8/uint8. Every int8/uint8 path of the family is a function of the input
// value alone; the reference evaluates it on the type's 256 values at prepare
// (`QuantUnary::table`: NEG's wrap, RSQRT's fixed-point Newton-Raphson, SQRT's float
// steps, EXP's, LOG's and GELU's `LUTPopulate` tables) and this kernel looks results up. An entry
// of i32::MIN marks an input on which the reference refuses the run (RSQRT below the zero
// point, SQRT of a negative): the op's status flag is raised and the run fails alike.

#import grid
#import softfloat
#import elemwise
#import eigen_act

override WG: u32 = 64u;
override BITS: u32 = 8u;
override SIGNED: bool = true;

struct Params {
    len: u32,
    fkind: u32,
    // The input type's minimum (table index = x - qmin).
    qmin: i32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
// table_main: the output value of every input value (i32 bits; i32::MIN: refused).
@group(0) @binding(3) var<storage, read> table: array<u32>;
// table_main: the op's run-time failure flag (GpuOpCtx::status).
@group(0) @binding(4) var<storage, read_write> status: array<atomic<u32>>;

// Always 0 (`Params::pad`): shaders/common/unfused.wgsl.
fn fuse_guard() -> u32 {
    return p.pad;
}

const SQRT1_2: f32 = 0.70710678118654752;
const SQRT_2_OVER_PI: f32 = 0.79788456080286536;

// The correctly rounded square root of an f32 (as bits), so the CPU's bits: the significand
// scaled to 51–52 bits (an even power of two), its integer square root by the bitwise method
// (26 result bits, the remainder below 2^27), the remainder jammed into the lowest bit, and
// the soft float's rounding (`round_pack32`, value = sig · 2^(exp − 156)). NaN for NaN and
// negative inputs, ±0 and +inf as they are.
fn f32_sqrt(a: u32) -> u32 {
    if (is_nan32(a) || ((a & 0x80000000u) != 0u && !is_zero32(a))) {
        return 0xffc00000u;
    }
    if (is_zero32(a) || a == 0x7f800000u) {
        return a;
    }
    let n = norm32(a);
    let e = n.x;
    let m = u32(n.y);
    // value = m · 2^(e − 150); scale so that the exponent left over is even.
    let odd = ((e - 150) & 1) != 0;
    let k = select(28u, 27u, odd);
    let hi = m >> (32u - k);
    let lo = m << k;
    var rem = 0u;
    var root = 0u;
    for (var i = 0u; i < 26u; i++) {
        let s = 50u - 2u * i;
        var two: u32;
        if (s >= 32u) {
            two = (hi >> (s - 32u)) & 3u;
        } else {
            two = (lo >> s) & 3u;
        }
        rem = (rem << 2u) | two;
        let trial = (root << 2u) | 1u;
        if (rem >= trial) {
            rem -= trial;
            root = (root << 1u) | 1u;
        } else {
            root = root << 1u;
        }
    }
    let sig = (root << 5u) | select(0u, 1u, rem != 0u);
    let exp = select((e - 150) / 2 + 137, (e - 151) / 2 + 138, odd);
    return round_pack32(0u, exp, sig);
}

// `reference_ops::Gelu`'s Eigen expression: (0.5·x)·erfc(x·(−√½)) with Eigen's erfc, `1/x²`
// divided (shaders/common/eigen_act.wgsl); the reference's bits.
fn gelu(v: f32) -> f32 {
    return (0.5 * v) * eigen_erfc(v * -SQRT1_2);
}

// (0.5·x)·(1 + tanh(√(2/π)·(x + 0.044715·(x·x·x)))) with Eigen's fast tanh: the reference's
// bits.
fn gelu_approximate(v: f32) -> f32 {
    let cube = unfused(unfused(v * v) * v);
    let inner = unfused(0.044715 * cube) + v;
    return (0.5 * v) * (1.0 + eigen_tanh(unfused(SQRT_2_OVER_PI * inner)));
}

// LOG: the device's `log` on positive finite values (not the CPU's `logf` bits: within
// the float tolerance); the special values as `logf` gives them, by their bits (WGSL leaves
// `log` of zero, negatives, infinities and NaN to the implementation).
fn log_f32(v: f32) -> f32 {
    let b = bitcast<u32>(v);
    if ((b & 0x7fffffffu) > 0x7f800000u) {
        return v; // NaN
    }
    if ((b & 0x7fffffffu) == 0u) {
        return bitcast<f32>(0xff800000u); // ±0: -inf
    }
    if ((b & 0x80000000u) != 0u) {
        return bitcast<f32>(0x7fc00000u); // negative: NaN
    }
    if (b == 0x7f800000u) {
        return v; // +inf
    }
    return log(v);
}

fn float_fn(v: f32) -> f32 {
    switch p.fkind {
        case 0u: {
            return -v;
        }
        case 1u: {
            // 1.f / std::sqrt(x), both correctly rounded (WGSL's `/` may be 2.5 ulp off and
            // its `sqrt` is not required to be exact).
            return bitcast<f32>(f32_div(0x3f800000u, f32_sqrt(bitcast<u32>(v))));
        }
        case 2u: {
            return bitcast<f32>(f32_sqrt(bitcast<u32>(v)));
        }
        case 3u: {
            return exp(v);
        }
        case 4u: {
            return gelu(v);
        }
        case 6u: {
            return log_f32(v);
        }
        default: {
            return gelu_approximate(v);
        }
    }
}

fn load_x(i: u32) -> i32 {
    return elem_of(x[elem_word(i, BITS)], i, BITS, SIGNED);
}

@compute @workgroup_size(WG)
fn float_main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = flat_workgroup(wid, nwg) * WG + lid;
    if (i >= p.len) {
        return;
    }
    y[i] = bitcast<u32>(float_fn(bitcast<f32>(x[i])));
}

@compute @workgroup_size(WG)
fn table_main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let w = flat_workgroup(wid, nwg) * WG + lid;
    let per = 32u / BITS;
    if (w >= (p.len + per - 1u) / per) {
        return;
    }
    var word = 0u;
    for (var k = 0u; k < per; k++) {
        let i = w * per + k;
        if (i >= p.len) {
            break;
        }
        var v = i32(table[u32(load_x(i) - p.qmin)]);
        if (v == i32(-2147483647 - 1)) {
            atomicOr(&status[0], 1u);
            v = 0;
        }
        word |= elem_place(v, i, BITS);
    }
    y[w] = word;
}
