//! The GPU's elementwise kernels (QUANTIZE, DEQUANTIZE, the binary ops, the activations)
//! against the reference engine on single-op models built in memory: random shapes (lengths
//! that are not multiples of 4), broadcasting, zero points at the type's edges, scales from
//! tiny to huge. Integer outputs must be equal bit for bit; float outputs within the
//! conformance tolerance. Also the WGSL soft division against native f32 division.
//!
//! Skips without an adapter unless `LITEQUANT_REQUIRE_GPU=1`.

mod common;
mod elementwise;
