// CAST between float32, float16, int8, uint8, int16, int32, int64 and bool, twin of
// `src/reference/cast.rs` (LiteRT `kernels/cast.cc`), in integer steps only (WGSL float
// conversions may flush or round otherwise):
// - float -> integer: saturating, truncation toward zero, NaN gives the type's maximum;
// - integer -> integer: two's complement wrap-around (the low bits);
// - -> bool: value != 0 (NaN true); bool -> 0 / 1;
// - integer -> float32: round to nearest even; -> float16: to float32, then round to nearest
//   even with overflow to infinity.
// Integers travel as 64-bit two's complement vec2<u32>(low, high), floats as float32 bits.
// One invocation writes one output word (one int64 element: two words).

#import grid
#import softfloat

override WG: u32 = 64u;
// Element bits (8, 16, 32, 64) and kinds: 0 signed integer, 1 unsigned integer (uint8,
// bool inputs), 2 float32, 3 float16, 4 bool (outputs).
override IN_BITS: u32 = 32u;
override IN_KIND: u32 = 2u;
override OUT_BITS: u32 = 32u;
override OUT_KIND: u32 = 0u;

struct Params {
    len: u32,
    // Integer outputs of up to 32 bits: the type's range (from the host).
    min: i32,
    max: i32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

fn neg64(a: vec2<u32>) -> vec2<u32> {
    return sub64(vec2<u32>(0u, 0u), a);
}

// a < b as signed 64-bit values.
fn lt_s64(a: vec2<u32>, b: vec2<u32>) -> bool {
    let flip = vec2<u32>(0u, 0x80000000u);
    return lt64(a ^ flip, b ^ flip);
}

fn from_i32(v: i32) -> vec2<u32> {
    return vec2<u32>(u32(v), select(0u, 0xffffffffu, v < 0));
}

// float16 bits -> float32 bits, exact.
fn half_to_float_bits(h: u32) -> u32 {
    let sign = (h >> 15u) << 31u;
    let e = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if (e == 0u) {
        if (m == 0u) {
            return sign;
        }
        let shift = countLeadingZeros(m) - 21u;
        return sign | ((113u - shift) << 23u) | (((m << shift) & 0x3ffu) << 13u);
    }
    if (e == 0x1fu) {
        if (m == 0u) {
            return sign | 0x7f800000u;
        }
        return sign | 0x7fc00000u | (m << 13u);
    }
    return sign | ((e + 112u) << 23u) | (m << 13u);
}

// float32 bits -> float16 bits, round to nearest even, overflow to infinity, NaN quiet
// (twin of `f32_to_f16_ieee`).
fn float_to_half_bits(bits: u32) -> u32 {
    let sign = (bits >> 16u) & 0x8000u;
    let abs = bits & 0x7fffffffu;
    if (abs > 0x7f800000u) {
        return sign | 0x7e00u;
    }
    let e = i32(abs >> 23u);
    let man = abs & 0x7fffffu;
    let hexp = e - 127 + 15;
    if (hexp >= 0x1f) {
        return sign | 0x7c00u;
    }
    if (hexp <= 0) {
        if (hexp < -10) {
            return sign;
        }
        let full = man | 0x800000u;
        let shift = u32(14 - hexp);
        let half = full >> shift;
        let rem = full & ((1u << shift) - 1u);
        let halfway = 1u << (shift - 1u);
        let up = rem > halfway || (rem == halfway && (half & 1u) == 1u);
        return sign | (half + select(0u, 1u, up));
    }
    let half = (u32(hexp) << 10u) | (man >> 13u);
    let rem = man & 0x1fffu;
    let up = rem > 0x1000u || (rem == 0x1000u && (half & 1u) == 1u);
    return sign | (half + select(0u, 1u, up));
}

// int64 -> float32 bits, round to nearest even (static_cast<float>).
fn i64_to_f32(v: vec2<u32>) -> u32 {
    if (is_zero64(v)) {
        return 0u;
    }
    let neg = (v.y >> 31u) == 1u;
    let sign = select(0u, SF_SIGN, neg);
    let mag = select(v, neg64(v), neg);
    let lz = clz64(mag);
    if (lz == 0u) {
        // -2^63.
        return sign | 0x5f000000u;
    }
    // The leading bit to bit 62, then the high word with the rest jammed into bit 0: the
    // leading bit at bit 30, as round_pack32 takes it.
    let m = shl64(mag, lz - 1u);
    let sig = m.y | select(0u, 1u, m.x != 0u);
    return round_pack32(sign, 189 - i32(lz), sig);
}

// float32 bits -> int64, truncated toward zero, saturated; NaN -> the maximum.
fn f32_to_i64_sat(bits: u32) -> vec2<u32> {
    let max = vec2<u32>(0xffffffffu, 0x7fffffffu);
    if (is_nan32(bits)) {
        return max;
    }
    let neg = (bits >> 31u) == 1u;
    let e = (bits >> 23u) & 0xffu;
    if (e < 127u) {
        return vec2<u32>(0u, 0u);
    }
    let ex = e - 127u;
    if (ex >= 63u) {
        return select(max, vec2<u32>(0u, 0x80000000u), neg);
    }
    let sig = vec2<u32>((bits & 0x7fffffu) | 0x800000u, 0u);
    var mag: vec2<u32>;
    if (ex >= 23u) {
        mag = shl64(sig, ex - 23u);
    } else {
        mag = shr64(sig, 23u - ex);
    }
    return select(mag, neg64(mag), neg);
}

// Input element i: (is float, the integer as 64 bits, the float as float32 bits).
struct Value {
    is_float: bool,
    int: vec2<u32>,
    float: u32,
}

fn load(i: u32) -> Value {
    var v = Value(false, vec2<u32>(0u, 0u), 0u);
    if (IN_BITS == 64u) {
        v.int = vec2<u32>(x[2u * i], x[2u * i + 1u]);
        return v;
    }
    // (Kept within 32 bits so that the int64 pipeline's constants stay valid.)
    let ib = min(IN_BITS, 32u);
    let per = 32u / ib;
    let word = x[i / per];
    let off = (i % per) * ib;
    if (IN_KIND == 0u) {
        v.int = from_i32(extractBits(i32(word), off, ib));
    } else if (IN_KIND == 1u) {
        v.int = vec2<u32>(extractBits(word, off, ib), 0u);
    } else if (IN_KIND == 2u) {
        v.is_float = true;
        v.float = word;
    } else {
        v.is_float = true;
        v.float = half_to_float_bits(extractBits(word, off, 16u));
    }
    return v;
}

// The output bits of one element (the low OUT_BITS bits; both words for int64).
fn convert(v: Value) -> vec2<u32> {
    if (OUT_KIND == 4u) {
        var nonzero: bool;
        if (v.is_float) {
            nonzero = (v.float & 0x7fffffffu) != 0u;
        } else {
            nonzero = !is_zero64(v.int);
        }
        return vec2<u32>(select(0u, 1u, nonzero), 0u);
    }
    if (OUT_KIND == 2u || OUT_KIND == 3u) {
        var f = v.float;
        if (!v.is_float) {
            f = i64_to_f32(v.int);
        }
        if (OUT_KIND == 3u) {
            return vec2<u32>(float_to_half_bits(f), 0u);
        }
        return vec2<u32>(f, 0u);
    }
    if (!v.is_float) {
        return v.int;
    }
    var r = f32_to_i64_sat(v.float);
    if (OUT_BITS < 64u) {
        let lo = from_i32(p.min);
        let hi = from_i32(p.max);
        if (lt_s64(r, lo)) {
            r = lo;
        } else if (lt_s64(hi, r)) {
            r = hi;
        }
    }
    return r;
}

@compute @workgroup_size(WG)
fn cast_main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let w = flat_workgroup(wid, nwg) * WG + lid;
    if (OUT_BITS == 64u) {
        if (w >= p.len) {
            return;
        }
        let r = convert(load(w));
        y[2u * w] = r.x;
        y[2u * w + 1u] = r.y;
        return;
    }
    let ob = min(OUT_BITS, 32u);
    let per = 32u / ob;
    let first = w * per;
    if (first >= p.len) {
        return;
    }
    var word = 0u;
    for (var k = 0u; k < per; k++) {
        let i = first + k;
        if (i >= p.len) {
            break;
        }
        let r = convert(load(i));
        word = insertBits(word, r.x, k * ob, ob);
    }
    y[w] = word;
}
