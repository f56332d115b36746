// Test kernel of shaders/common/gemmlowp.wgsl: each case (function id, a, b, c) is run through
// the named function; tests/gpu_ops.rs compares the results with the Rust twins bit for bit.
// Ids: 0 multiply_by_quantized_multiplier_greater_than_one(a, b, c),
// 1 saturating_rounding_multiply_by_pot(a, b), 2 rounding_half_sum(a, b),
// 3 exp_on_interval_between_negative_one_quarter_and_0_excl(a),
// 4 exp_on_negative_values(a, b), 5 one_over_one_plus_x_for_x_in_0_1(a),
// 6 get_reciprocal(a, b) (both results).

#import gemmlowp

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> cases: array<vec4<i32>>;
@group(0) @binding(1) var<storage, read_write> results: array<vec2<i32>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&cases)) {
        return;
    }
    let c = cases[i];
    var r = vec2<i32>(0, 0);
    switch c.x {
        case 0: {
            r.x = multiply_by_quantized_multiplier_greater_than_one(c.y, c.z, c.w);
        }
        case 1: {
            r.x = saturating_rounding_multiply_by_pot(c.y, c.z);
        }
        case 2: {
            r.x = rounding_half_sum(c.y, c.z);
        }
        case 3: {
            r.x = exp_on_interval_between_negative_one_quarter_and_0_excl(c.y);
        }
        case 4: {
            r.x = exp_on_negative_values(c.y, c.z);
        }
        case 5: {
            r.x = one_over_one_plus_x_for_x_in_0_1(c.y);
        }
        case 6: {
            r = get_reciprocal(c.y, c.z);
        }
        default: {
            r = vec2<i32>(-1, -1);
        }
    }
    results[i] = r;
}
