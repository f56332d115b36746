// QUANTIZE and DEQUANTIZE, twin of `src/reference/quantize`: float→int8/uint8/int16 (one
// scale or one per channel), int→int requantization, int8/uint8/int16→float32 and
// float16→float32. Each invocation computes the elements of one output word.
//
// Float→int is integer-only (`affine_quantize_soft`, the correctly rounded quotient of
// `shaders/common/softdiv.wgsl`), so it matches the CPU bit for bit on every adapter.
// Int→float is one f32 product of exact values (`scale * f32(q - zp)`), correctly rounded
// in WGSL as on the CPU, where the reference's double product of the same values rounds
// once to the same f32 (an adapter that flushes subnormal results differs by < 2^-126).

#import grid
#import fixedpoint
#import softdiv
#import elemwise

override WG: u32 = 64u;
// Element bits (8, 16, 32) and signedness of the packed integer input / output.
override IN_BITS: u32 = 8u;
override IN_SIGNED: bool = true;
override OUT_BITS: u32 = 8u;

struct Params {
    len: u32,
    // Per-channel layout: element i uses channel (i / inner) % channels (1 channel per
    // tensor otherwise).
    inner: u32,
    channels: u32,
    in_zp: i32,
    out_zp: i32,
    multiplier: i32,
    shift: i32,
    // Output clamp range.
    lo: i32,
    hi: i32,
    // Requantize int8<->uint8 with the same scale: flip the top bit.
    bit_flip: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
// f32 bit patterns, one per channel.
@group(0) @binding(3) var<storage, read> scales: array<u32>;
@group(0) @binding(4) var<storage, read> zps: array<i32>;

fn out_word(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return flat_workgroup(wid, nwg) * WG + lid;
}

fn channel(i: u32) -> u32 {
    return (i / p.inner) % p.channels;
}

// float32 -> int8/uint8/int16 (OUT_BITS), per tensor or per channel.
@compute @workgroup_size(WG)
fn quantize_float(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let w = out_word(wid, nwg, lid);
    let per = 32u / OUT_BITS;
    if (w >= (p.len + per - 1u) / per) {
        return;
    }
    var word = 0u;
    for (var k = 0u; k < per; k++) {
        let i = w * per + k;
        if (i >= p.len) {
            break;
        }
        let c = channel(i);
        let v = affine_quantize_soft(x[i], scales[c], zps[c], p.lo, p.hi);
        word |= elem_place(v, i, OUT_BITS);
    }
    y[w] = word;
}

// int -> int (`reference_ops::Requantize`).
@compute @workgroup_size(WG)
fn requantize(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let w = out_word(wid, nwg, lid);
    let per = 32u / OUT_BITS;
    if (w >= (p.len + per - 1u) / per) {
        return;
    }
    var word = 0u;
    for (var k = 0u; k < per; k++) {
        let i = w * per + k;
        if (i >= p.len) {
            break;
        }
        let q = elem_of(x[elem_word(i, IN_BITS)], i, IN_BITS, IN_SIGNED);
        var v: i32;
        if (p.bit_flip != 0u) {
            v = q ^ 0x80;
        } else {
            let s = multiply_by_quantized_multiplier(q - p.in_zp, p.multiplier, p.shift);
            v = min(max(s + p.out_zp, p.lo), p.hi);
        }
        word |= elem_place(v, i, OUT_BITS);
    }
    y[w] = word;
}

// int8/uint8/int16 (IN_BITS) -> float32: scale[c] * f32(q - zp[c]).
@compute @workgroup_size(WG)
fn dequantize(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = out_word(wid, nwg, lid);
    if (i >= p.len) {
        return;
    }
    let q = elem_of(x[elem_word(i, IN_BITS)], i, IN_BITS, IN_SIGNED);
    let c = channel(i);
    y[i] = bitcast<u32>(bitcast<f32>(scales[c]) * f32(q - zps[c]));
}

// float16 bits -> float32 bits, exact (integer steps; twin of `f16_to_f32`).
fn f16_to_f32_bits(h: u32) -> u32 {
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

@compute @workgroup_size(WG)
fn dequantize_half(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = out_word(wid, nwg, lid);
    if (i >= p.len) {
        return;
    }
    let h = u32(elem_of(x[elem_word(i, 16u)], i, 16u, false));
    y[i] = f16_to_f32_bits(h);
}
