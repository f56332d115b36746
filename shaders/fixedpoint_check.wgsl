// Runs the shared fixed-point functions (shaders/common/fixedpoint.wgsl) over test vectors so
// that a GPU test can compare them with their Rust twins (src/quant/fixedpoint) bit for bit.
// cases[i] = (x, multiplier, shift, exponent); out[i] = (srdhm(x, multiplier),
// rounding_divide_by_pot(x, exponent), multiply_by_quantized_multiplier(x, multiplier, shift), 0).

#import fixedpoint

override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> cases: array<vec4<i32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<i32>>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= arrayLength(&cases)) {
        return;
    }
    let c = cases[i];
    out[i] = vec4<i32>(
        srdhm(c.x, c.y),
        rounding_divide_by_pot(c.x, c.w),
        multiply_by_quantized_multiplier(c.x, c.y, c.z),
        0,
    );
}
