// The int16 LOGISTIC/TANH (`sigmoid16`) and the int16 lookup-table ops EXP, LOG, GELU, RSQRT
// (`lut16`): line-for-line twins of `Sigmoid16::apply` (src/reference/activations/
// sigmoid16.rs: `Logistic`/`Tanh` of `reference/integer_ops/{logistic,tanh}.h`, the
// interpolation in `sigmoid_table_uint16`) and `int16_table_lookup` (src/reference/lut16.rs:
// `generic_int16_table_lookup` in a `LUTPopulateInt16` table of 513 entries). The tables are
// the reference's, uploaded as they are.
//
// int16 tensors live packed two to a word (element 2w+k in bits 16k..16k+16 of word w). One
// invocation computes the two elements of one output word.

#import grid

struct Params {
    len: u32,
    // sigmoid16: 1 for TANH.
    tanh: u32,
    // sigmoid16: the input multiplier and left shift.
    input_multiplier: i32,
    input_left_shift: i32,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
// sigmoid16: the 256 entries of `sigmoid_table_uint16`; lut16: the 513 int16 entries
// (sign-extended to i32 words).
@group(0) @binding(3) var<storage, read> table: array<u32>;

fn x16(i: u32) -> i32 {
    return extractBits(i32(x[i >> 1u]), (i & 1u) * 16u, 16u);
}

// `Sigmoid16::apply` (the result's low 16 bits are the int16 output).
fn sigmoid16(v_in: i32) -> i32 {
    var m = p.input_multiplier;
    var shift = p.input_left_shift;
    if (m == 0) {
        m = 3 << u32(shift);
        shift = 0;
    }
    var rnd = 0;
    if (shift > 0) {
        rnd = 1 << u32(shift - 1);
    }
    let v = (v_in * m + rnd) >> u32(shift);
    let a = select(u32(v), 0u - u32(v), v < 0);
    if (p.tanh == 1u) {
        let uh = a >> 8u;
        var result: i32;
        if (uh >= 255u) {
            result = 0xFFFF << 8u;
        } else {
            let ua = table[uh];
            let ub = table[uh + 1u];
            let ut = a & 0xFFu;
            result = i32((ua << 8u) + ut * (ub - ua));
        }
        if (v >= 0) {
            result = result - (1 << 23u) + (1 << 7u);
        } else {
            result = -result + (1 << 23u) + (1 << 7u) - 1;
        }
        return result >> 8u;
    }
    let uh = a >> 9u;
    var result: u32;
    if (uh >= 255u) {
        result = 0x7FFFu << 10u;
    } else {
        let ua = table[uh];
        let ub = table[uh + 1u];
        let ut = a & 0x1FFu;
        result = (ua << 9u) + ut * (ub - ua);
    }
    if (v >= 0) {
        result = result + (1u << 9u);
    } else {
        result = (1u << 25u) - result + (1u << 9u) - 1u;
    }
    return i32(result >> 10u);
}

// `int16_table_lookup`: the base at 256 + (value >> 7) plus the slope (wrapped to int16)
// times the low 7 bits, rounded.
fn lut16(value: i32) -> i32 {
    let index = u32(256 + (value >> 7u));
    let offset = value & 0x7f;
    let base = i32(table[index]);
    let slope = extractBits(i32(table[index + 1u]) - base, 0u, 16u);
    let delta = (slope * offset + 64) >> 7u;
    return base + delta;
}

fn pack16(lo: i32, hi: i32) -> u32 {
    return (u32(lo) & 0xffffu) | (u32(hi) << 16u);
}

@compute @workgroup_size(64)
fn sigmoid16_main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) li: u32) {
    let word = flat_workgroup(wid, nwg) * 64u + li;
    let i = word * 2u;
    if (i >= p.len) {
        return;
    }
    var hi = 0;
    if (i + 1u < p.len) {
        hi = sigmoid16(x16(i + 1u));
    }
    y[word] = pack16(sigmoid16(x16(i)), hi);
}

@compute @workgroup_size(64)
fn lut16_main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
    let word = flat_workgroup(wid, nwg) * 64u + li;
    let i = word * 2u;
    if (i >= p.len) {
        return;
    }
    var hi = 0;
    if (i + 1u < p.len) {
        hi = lut16(x16(i + 1u));
    }
    y[word] = pack16(lut16(x16(i)), hi);
}
