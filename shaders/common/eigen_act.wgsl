// The converter calibrator's float LOGISTIC and TANH (TensorFlow 2.21's wheel: Eigen's
// `scalar_logistic_op<float>` packet form and fast-math `ptanh_float`, AVX without FMA),
// twins of `logistic` and `tanh` in src/reference/eigen_math.rs. Every product goes through
// `unfused` so that each multiply-add rounds twice, as on the CPU; the divisions are
// correctly rounded (`f32_div`, shaders/common/softfloat.wgsl). A GPU that flushes
// subnormal results gives 0 where the CPU's LOGISTIC is subnormal (inputs below about -87).
//
// The importing shader imports `softfloat` and defines `fuse_guard()` (shaders/common/unfused.wgsl).

#import eigen_exp

fn eigen_is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn eigen_div(a: f32, b: f32) -> f32 {
    return bitcast<f32>(f32_div(bitcast<u32>(a), bitcast<u32>(b)));
}

// `scalar_logistic_op<float>::packetOp`: x capped at 16.6355324 and halved; exp(x/2) as
// 2^m·p(r); squared; e / (1 + e); 0 below -104.
fn eigen_logistic(v: f32) -> f32 {
    if (eigen_is_nan(v)) {
        return v;
    }
    if (v < -104.0) {
        return 0.0;
    }
    let hi = bitcast<f32>(0x41851592u);
    var x = v;
    if (hi < x) {
        x = hi;
    }
    x = x * 0.5;
    let m = floor(unfused(x * bitcast<f32>(0x3fb8aa3bu)) + 0.5);
    var r = unfused(m * bitcast<f32>(0xbf318000u)) + x;
    r = unfused(m * bitcast<f32>(0x395e8083u)) + r;
    let r2 = unfused(r * r);
    let p_even = unfused(r2 * bitcast<f32>(0x3d2b9df0u)) + bitcast<f32>(0x3efffee0u);
    let p_odd = unfused(r2 * bitcast<f32>(0x3c088e52u)) + bitcast<f32>(0x3e2aab38u);
    var q = unfused(r * p_odd) + p_even;
    q = unfused(r2 * q) + (r + 1.0);
    // 2^m is a normal float here (-76 <= m <= 13): the product is exact.
    let e0 = unfused(q * eigen_pow2(i32(m)));
    let e = unfused(e0 * e0);
    return eigen_div(e, 1.0 + e);
}

// Fast-math `ptanh_float` without FMA: x clamped to ±7.90738964, (x³·P(x²) + x) / Q(x²).
fn eigen_tanh(v: f32) -> f32 {
    if (eigen_is_nan(v)) {
        return v;
    }
    let c = bitcast<f32>(0x40fd0956u);
    var x = v;
    if (c < x) {
        x = c;
    }
    if (x < -c) {
        x = -c;
    }
    let x2 = unfused(x * x);
    let x3 = unfused(x2 * x);
    var pn = bitcast<f32>(0x326f951eu);
    pn = unfused(pn * x2) + bitcast<f32>(0x37b063dcu);
    pn = unfused(pn * x2) + bitcast<f32>(0x3b66bc7fu);
    pn = unfused(pn * x2) + bitcast<f32>(0x3e093cf6u);
    var qd = bitcast<f32>(0x35572c00u);
    qd = unfused(qd * x2) + bitcast<f32>(0x39ae6d96u);
    qd = unfused(qd * x2) + bitcast<f32>(0x3cd4c460u);
    qd = unfused(qd * x2) + bitcast<f32>(0x3eef4922u);
    qd = unfused(qd * x2) + 1.0;
    return eigen_div(unfused(x3 * pn) + x, qd);
}

// `generic_fast_erfc<float>` with a correctly rounded `1/x²` (LiteRT's build; the converter's
// takes the CPU's `rcpps`, which a GPU cannot reproduce): twin of `erfc(x, Recip::Divide)`.
// x² − fl(x²) exactly by Dekker's product (every step unfused). Below
// exp(-87) the CPU's subnormals may be flushed here (GELU inputs below about -13).
fn eigen_erfc(x_in: f32) -> f32 {
    var x = x_in;
    if (!eigen_is_nan(x)) {
        x = clamp(x, -11.0, 11.0);
    }
    let x2 = unfused(x * x);
    var small = bitcast<f32>(0x3a1345eau);
    small = unfused(small * x2) + bitcast<f32>(0xbba10415u);
    small = unfused(small * x2) + bitcast<f32>(0x3cdac9b8u);
    small = unfused(small * x2) + bitcast<f32>(0xbde703beu);
    small = unfused(small * x2) + bitcast<f32>(0x3ec09330u);
    small = unfused(small * x2) + bitcast<f32>(0xbf906ebau);
    small = unfused(x * small) + 1.0;
    if (!(1.0 < x2)) {
        return small;
    }
    // x = x_hi + x_lo with 12 significant bits each (a truncating split: Veltkamp's
    // rounding split `(x − 4097x) + 4097x` is what a compiler may fold to x).
    let x_hi = bitcast<f32>(bitcast<u32>(x) & 0xfffff000u);
    let x_lo = x - x_hi;
    var x2_lo = unfused(x_hi * x_hi) - x2;
    x2_lo = unfused(x_hi * x_lo) + x2_lo;
    x2_lo = unfused(x_lo * x_hi) + x2_lo;
    x2_lo = unfused(x_lo * x_lo) + x2_lo;
    let e = eigen_pexp(-x2);
    let z = e - unfused(e * x2_lo);
    let q2 = eigen_div(1.0, x2);
    var num = bitcast<f32>(0x3dd10feeu);
    num = unfused(num * q2) + bitcast<f32>(0x3edbc0fau);
    num = unfused(num * q2) + bitcast<f32>(0x3ea5c7e8u);
    num = unfused(num * q2) + bitcast<f32>(0x3d5d11b8u);
    var den = bitcast<f32>(0x3c8d5364u);
    den = unfused(den * q2) + bitcast<f32>(0x3ec861ddu);
    den = unfused(den * q2) + 1.0;
    den = unfused(den * q2) + bitcast<f32>(0x3f1f29dbu);
    den = unfused(den * q2) + bitcast<f32>(0x3dc3eae4u);
    let r = eigen_div(num, unfused(x * den));
    return unfused(z * r) + select(0.0, 2.0, x < 0.0);
}
