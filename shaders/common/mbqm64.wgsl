// TFLite's int64 `MultiplyByQuantizedMultiplier` (`kernels/internal/common.cc`,
// double-rounding build), as REDUCE_PROD's int8 kernel uses it: twin of
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
    if ((p.y >> 31u) == 1u) {
        let s = shr64(vec2<u32>(~p.x, ~p.y), ts);
        return bitcast<i32>(~s.x);
    }
    return bitcast<i32>(shr64(p, ts).x);
}
