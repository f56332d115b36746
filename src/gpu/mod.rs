//! wgpu context and GPU kernels.
