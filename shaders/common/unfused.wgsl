// `unfused(a * b)`: a product the compiler cannot fuse into a following addition.
//
// WGSL lets an implementation contract `acc + a * b` into a fused multiply-add (GPU-NOTES:
// "Reassociation and Fusion"; naga emits no `NoContraction`, and drivers for hardware GPUs
// fuse by default). The CPU kernels round every product before adding it. Passing the product
// through an integer OR with a value the compiler cannot know leaves it nothing to fuse: the
// importing shader defines `fuse_guard() -> u32`, a uniform that is always 0. Every
// accumulating float32 kernel sums `unfused` products, so that its bits are the CPU's.

fn unfused(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) | fuse_guard());
}

fn unfused4(x: vec4<f32>) -> vec4<f32> {
    return bitcast<vec4<f32>>(bitcast<vec4<u32>>(x) | vec4<u32>(fuse_guard()));
}
