// TFLite's int64 `MultiplyByQuantizedMultiplier` (`kernels/internal/common.cc`,
// double-rounding build), as REDUCE_PROD's int8 kernel and the 16x8 kernels use it: twin of
// `ProdRequant::mbqm64` in src/reference/reduce_generic.rs. The caller passes the product
// as two factors (`a` and `k` = the other factor times the multiplier reduced to 16 bits);
// 64-bit two's complement in u32 pairs (softfloat.wgsl's helpers).

#import softfloat

// TFLite's int64 MultiplyByQuantizedMultiplier on x = a·k: `(a·k + 2^(ts-1)) >> ts`
// (arithmetic), truncated to i32; |a·k| < 2^62, 1 <= ts <= 63.
fn mul_round_shift64(a: i32, k: i32, ts: u32) -> i32 {
    var p = mul32(u32(abs(a)), u32(abs(k)));
    if ((a < 0) != (k < 0)) {
        p = sub64(vec2<u32>(0u, 0u), p);
    }
    p = add64(p, shl64(vec2<u32>(1u, 0u), ts - 1u));
    return sar64_lo(p, ts);
}

// The low word of the arithmetic right shift of the 64-bit two's complement `p` by
// 1 <= n <= 63.
fn sar64_lo(p: vec2<u32>, n: u32) -> i32 {
    if ((p.y >> 31u) == 1u) {
        let s = shr64(vec2<u32>(~p.x, ~p.y), n);
        return bitcast<i32>(~s.x);
    }
    return bitcast<i32>(shr64(p, n).x);
}

// A sign-extended i32 as a 64-bit two's complement value.
fn i64_from_i32(v: i32) -> vec2<u32> {
    return vec2<u32>(bitcast<u32>(v), select(0u, 0xffffffffu, v < 0));
}

// TFLite's int64 MultiplyByQuantizedMultiplier on a whole 64-bit `x` (the 16x8 kernels):
// `(x·rm + 2^(ts-1)) >> ts` in wrapping 64-bit arithmetic, truncated to i32; `rm` the
// multiplier reduced to 16 bits (0..=0x7FFF), 1 <= ts <= 63. Twin of
// `multiply_by_quantized_multiplier_i64` in src/quant/fixedpoint.
fn mbqm_i64(x: vec2<u32>, rm: u32, ts: u32) -> i32 {
    let lo = mul32(x.x, rm);
    var p = vec2<u32>(lo.x, lo.y + x.y * rm);
    p = add64(p, shl64(vec2<u32>(1u, 0u), ts - 1u));
    return sar64_lo(p, ts);
}
