// Dispatch grids larger than the per-dimension workgroup limit are split over x and y by the
// host (`GpuOpCtx::grid`); kernels recover the flat workgroup index with this.
fn flat_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y;
}
