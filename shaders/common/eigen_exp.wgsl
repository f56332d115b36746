// Eigen's vectorised `exp` of a float32 (`pexp_float` as shipped in TensorFlow 2.21's wheel,
// AVX without fused multiply-add): twin of `eigen_pexp` in src/reference/float_order.rs, what
// the converter's float SOFTMAX computes. Every product goes through `unfused`, so that each
// multiply-add rounds twice as on the CPU; the final `y·2^m` is two exact power-of-two
// scalings, the second rounding once (a GPU that flushes subnormal results gives 0 where the
// CPU gives a subnormal: inputs below about -87.3).
//
// The importing shader defines `fuse_guard()` for `unfused` (shaders/common/unfused.wgsl).

#import unfused

// 2^k as a float for -126 <= k <= 127.
fn eigen_pow2(k: i32) -> f32 {
    return bitcast<f32>(u32(k + 127) << 23u);
}

fn eigen_pexp(x_in: f32) -> f32 {
    let bits = bitcast<u32>(x_in);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return x_in; // NaN
    }
    if (x_in < bitcast<f32>(0xc2d00000u)) {
        return 0.0; // below -104
    }
    var x = x_in;
    let hi = bitcast<f32>(0x42b1722du); // 88.723
    if (x > hi) {
        x = hi;
    }
    // m = floor(x·log2(e) + 0.5); r = x - m·ln 2 in two parts.
    let m = floor(unfused(x * bitcast<f32>(0x3fb8aa3bu)) + 0.5);
    var r = unfused(m * bitcast<f32>(0xbf318000u)) + x;
    r = unfused(m * bitcast<f32>(0x395e8083u)) + r;
    let r2 = unfused(r * r);
    var p_even = unfused(r2 * bitcast<f32>(0x3ab42872u)) + bitcast<f32>(0x3d2aadccu);
    let p_odd = unfused(r2 * bitcast<f32>(0x3c091de6u)) + bitcast<f32>(0x3e2aaa47u);
    p_even = unfused(r2 * p_even) + bitcast<f32>(0x3efffffcu);
    let p_low = r + 1.0;
    var y = unfused(r * p_odd) + p_even;
    y = unfused(r2 * y) + p_low;
    // y·2^m (-150 <= m <= 128): exact in the first factor, rounded once in the second.
    let k = i32(m);
    let k1 = k / 2;
    let s = unfused(unfused(y * eigen_pow2(k1)) * eigen_pow2(k - k1));
    if (s < x_in) {
        return x_in;
    }
    return s;
}
