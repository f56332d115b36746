// Smoke test of the GPU path (no numerics of litequant's own): out[i] = a[i] * 2 + 1.
// i32 arithmetic wraps on overflow (two's complement), as the CPU check's wrapping_mul/add.
// One invocation per element; the last workgroup is partial, so the bound check matters.

// Workgroup size, pipeline-overridable so tests can pick odd sizes.
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> a: array<i32>;
@group(0) @binding(1) var<storage, read_write> out: array<i32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&out)) {
        return;
    }
    out[i] = a[i] * 2 + 1;
}
