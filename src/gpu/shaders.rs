//! Every WGSL shader of the crate, the `#import` step, and the compute pipeline cache.
//!
//! Shaders are `shaders/<name>.wgsl`, one file per kernel family, listed in [`SHADERS`];
//! code shared between them is `shaders/common/<name>.wgsl`, listed in [`COMMON`] and pulled
//! in by a line `#import <name>` (each common file at most once per shader, nested imports
//! allowed, cycles rejected). A CPU-only test parses and validates every expanded shader
//! with naga.

use std::collections::HashMap;
use std::sync::Mutex;

use super::loops::loops_end;
use crate::{Error, Result};

/// Every shader: (name, WGSL source before `#import` expansion).
pub const SHADERS: &[(&str, &str)] = &[
    // Smoke test of the GPU path: out[i] = a[i] * 2 + 1 (wrapping i32).
    ("smoke", include_str!("../../shaders/smoke.wgsl")),
    // The shared fixed-point functions over test vectors (tests/gpu_fixedpoint.rs).
    (
        "fixedpoint_check",
        include_str!("../../shaders/fixedpoint_check.wgsl"),
    ),
    // QUANTIZE, DEQUANTIZE (twin of src/reference/quantize).
    ("quantize", include_str!("../../shaders/quantize.wgsl")),
    // ADD, SUB, MUL, MAXIMUM, MINIMUM (twin of src/reference/binary).
    ("binary", include_str!("../../shaders/binary.wgsl")),
    // RELU, RELU6, LEAKY_RELU, PRELU, HARD_SWISH, LOGISTIC, TANH (src/reference/activations).
    (
        "activations",
        include_str!("../../shaders/activations.wgsl"),
    ),
    // AVERAGE_POOL_2D, MAX_POOL_2D.
    ("pooling", include_str!("../../shaders/pooling.wgsl")),
    // MEAN.
    ("reduce", include_str!("../../shaders/reduce.wgsl")),
    // RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR.
    ("resize", include_str!("../../shaders/resize.wgsl")),
    // TRANSPOSE, SLICE, STRIDED_SLICE, PAD, PADV2, CONCATENATION, SPLIT, SPLIT_V, UNPACK,
    // PACK, GATHER.
    ("shape_ops", include_str!("../../shaders/shape_ops.wgsl")),
    // SOFTMAX (float32; int8/uint8 with gemmlowp's fixed-point exp).
    ("softmax", include_str!("../../shaders/softmax.wgsl")),
    // Tests of shaders/common/gemmlowp.wgsl against its Rust twin.
    (
        "gemmlowp_test",
        include_str!("../../shaders/gemmlowp_test.wgsl"),
    ),
    // CONV_2D (implicit GEMM, int8 dot4 / float) and DEPTHWISE_CONV_2D.
    // CONV_2D (implicit GEMM, int8 dot4 / float / hybrid) and the int8 packing pass.
    ("conv", include_str!("../../shaders/conv.wgsl")),
    // DEPTHWISE_CONV_2D (int8 / float / hybrid).
    ("depthwise", include_str!("../../shaders/depthwise.wgsl")),
    // Hybrid kernels' run-time input quantization (exact, on soft float).
    ("hybrid", include_str!("../../shaders/hybrid.wgsl")),
    // FULLY_CONNECTED and BATCH_MATMUL: tiled int8 (dot4I8Packed) / hybrid / float products.
    (
        "fully_connected",
        include_str!("../../shaders/fully_connected.wgsl"),
    ),
    // Calibration statistics: min/max/counts reductions, histograms, the per-sample merge.
    ("stats", include_str!("../../shaders/stats.wgsl")),
    // NEG, RSQRT, SQRT, EXP, GELU (twin of src/reference/elementwise).
    (
        "elementwise",
        include_str!("../../shaders/elementwise.wgsl"),
    ),
    // CAST between float32, float16, int8, uint8, int16, int32, int64, bool (integer steps).
    ("cast", include_str!("../../shaders/cast.wgsl")),
    // The 16x8 CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV (int64 accumulation in u32
    // pairs; twins of src/reference/conv/int16.rs and the int16 kernels beside it).
    ("conv16", include_str!("../../shaders/conv16.wgsl")),
    // The 16x8 FULLY_CONNECTED (int64 accumulation and double rescale in u32 words; twin
    // of src/reference/fully_connected/fc16.rs).
    ("fc16", include_str!("../../shaders/fc16.wgsl")),
    // int16 LOGISTIC, TANH (sigmoid_table_uint16 interpolation) and EXP, LOG, GELU
    // (LUTPopulateInt16 tables): twins of src/reference/activations/sigmoid16.rs and
    // src/reference/lut16.rs.
    ("unary16", include_str!("../../shaders/unary16.wgsl")),
    // int16 SOFTMAX (SoftmaxInt16's tables): twin of src/reference/softmax16.rs.
    ("softmax16", include_str!("../../shaders/softmax16.wgsl")),
    // The int16 BATCH_MATMUL (int64 accumulation in u32 pairs; twin of
    // src/reference/fully_connected/bmm/int16.rs).
    ("bmm16", include_str!("../../shaders/bmm16.wgsl")),
    // TRANSPOSE_CONV (int8 / float32 in both orders / hybrid).
    (
        "transpose_conv",
        include_str!("../../shaders/transpose_conv.wgsl"),
    ),
];

/// Shared WGSL: (name, source), imported with `#import <name>`.
pub const COMMON: &[(&str, &str)] = &[
    // TFLite's integer primitives: twin of src/quant/fixedpoint (32-bit limbs).
    (
        "fixedpoint",
        include_str!("../../shaders/common/fixedpoint.wgsl"),
    ),
    // BUILTIN_REF's double rescale of quantized FULLY_CONNECTED (int32 and int64
    // accumulators): twin of src/quant/fixedpoint/double_rescale{,64}.rs.
    (
        "double_rescale",
        include_str!("../../shaders/common/double_rescale.wgsl"),
    ),
    // Packed 8-bit tensors: byte loads, word packing.
    ("bytes", include_str!("../../shaders/common/bytes.wgsl")),
    // Flat workgroup index of grids split over the dimension limit.
    ("grid", include_str!("../../shaders/common/grid.wgsl")),
    // Exact f32 division and QUANTIZE's rounding: twin of src/quant/fixedpoint/softdiv.rs.
    ("softdiv", include_str!("../../shaders/common/softdiv.wgsl")),
    // Element access of packed 8/16/32-bit tensors for the elementwise kernels.
    (
        "elemwise",
        include_str!("../../shaders/common/elemwise.wgsl"),
    ),
    // 16-bit fixed point (HARD_SWISH) in i32: twin of the i16 functions of
    // src/quant/fixedpoint/gemmlowp.rs.
    (
        "fixedpoint16",
        include_str!("../../shaders/common/fixedpoint16.wgsl"),
    ),
    // gemmlowp's fixed-point functions: twin of src/quant/fixedpoint/gemmlowp.rs.
    (
        "gemmlowp",
        include_str!("../../shaders/common/gemmlowp.wgsl"),
    ),
    // The convolution shaders' shared bindings and integer epilogue.
    ("conv_io", include_str!("../../shaders/common/conv_io.wgsl")),
    // IEEE binary32 arithmetic and 64-bit helpers in u32 operations: twin of
    // src/quant/fixedpoint/softfloat/mod.rs.
    (
        "softfloat",
        include_str!("../../shaders/common/softfloat.wgsl"),
    ),
    // Float activation clamps with the reference's NaN behaviour.
    ("fclamp", include_str!("../../shaders/common/fclamp.wgsl")),
    // Products the compiler cannot fuse into a multiply-add (every float accumulation).
    ("unfused", include_str!("../../shaders/common/unfused.wgsl")),
    // The converter's float summation orders (Eigen's GEMV/GEMM): twin of
    // src/reference/float_order.rs.
    (
        "eigen_order",
        include_str!("../../shaders/common/eigen_order.wgsl"),
    ),
    // TFLite's int64 MultiplyByQuantizedMultiplier (int8 REDUCE_PROD, the 16x8 kernels):
    // twin of `ProdRequant::mbqm64` in src/reference/reduce_generic.rs and of
    // `multiply_by_quantized_multiplier_i64` in src/quant/fixedpoint.
    ("mbqm64", include_str!("../../shaders/common/mbqm64.wgsl")),
    // Eigen's vectorised exp (the converter's float SOFTMAX): twin of `eigen_pexp` in
    // src/reference/float_order.rs.
    (
        "eigen_exp",
        include_str!("../../shaders/common/eigen_exp.wgsl"),
    ),
    // The converter's float LOGISTIC and TANH (Eigen's packet forms): twin of
    // src/reference/eigen_math.rs.
    (
        "eigen_act",
        include_str!("../../shaders/common/eigen_act.wgsl"),
    ),
    // IEEE binary64 arithmetic on vec2<u32>: twin of
    // src/quant/fixedpoint/softfloat/binary64.rs.
    (
        "softfloat64",
        include_str!("../../shaders/common/softfloat64.wgsl"),
    ),
];

/// The raw source of shader `name`, before `#import` expansion.
pub fn raw(name: &str) -> Option<&'static str> {
    SHADERS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The WGSL of shader `name`, with its `#import`s expanded from [`COMMON`].
pub fn source(name: &str) -> Result<String> {
    let src = raw(name).ok_or_else(|| {
        let known: Vec<&str> = SHADERS.iter().map(|(n, _)| *n).collect();
        Error::Gpu(format!("no shader named {name:?} (known: {known:?})"))
    })?;
    expand(name, src, COMMON)
}

/// Expand `#import <name>` lines of `src` (the shader `name`, for messages) from `common`.
pub fn expand(name: &str, src: &str, common: &[(&str, &str)]) -> Result<String> {
    let mut out = String::with_capacity(src.len());
    let mut done = Vec::new();
    let mut stack = vec![name.to_string()];
    expand_into(&mut out, name, src, common, &mut done, &mut stack)?;
    Ok(out)
}

fn expand_into(
    out: &mut String,
    name: &str,
    src: &str,
    common: &[(&str, &str)],
    done: &mut Vec<String>,
    stack: &mut Vec<String>,
) -> Result<()> {
    for (lineno, line) in src.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("#import") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let what = rest.trim();
        let what = what.strip_suffix(".wgsl").unwrap_or(what);
        let at = format!("shader {name:?} line {}", lineno + 1);
        if what.is_empty() || !rest.starts_with(char::is_whitespace) {
            return Err(Error::Gpu(format!(
                "{at}: malformed import {line:?}, expected `#import <name>`"
            )));
        }
        if stack.iter().any(|s| s == what) {
            return Err(Error::Gpu(format!(
                "{at}: import cycle {} -> {what}",
                stack.join(" -> ")
            )));
        }
        if done.iter().any(|d| d == what) {
            continue;
        }
        let Some((_, inc)) = common.iter().find(|(n, _)| *n == what) else {
            let known: Vec<&str> = common.iter().map(|(n, _)| *n).collect();
            return Err(Error::Gpu(format!(
                "{at}: unknown import {what:?} (known: {known:?})"
            )));
        };
        stack.push(what.to_string());
        out.push_str(&format!("// ---- begin shaders/common/{what}.wgsl\n"));
        expand_into(out, what, inc, common, done, stack)?;
        out.push_str(&format!("// ---- end shaders/common/{what}.wgsl\n"));
        stack.pop();
        done.push(what.to_string());
    }
    Ok(())
}

/// What identifies a compute pipeline: shader, entry point and pipeline-overridable constants
/// (WGSL `override`, e.g. tile sizes; tests use small odd ones so remainder paths run).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PipelineKey {
    shader: &'static str,
    entry: &'static str,
    /// Sorted by name; values as `f64::to_bits` (what wgpu takes is f64).
    constants: Vec<(&'static str, u64)>,
}

impl PipelineKey {
    /// Shader `shader` (a name in [`SHADERS`]), entry point `entry`, no override constants.
    pub fn new(shader: &'static str, entry: &'static str) -> Self {
        Self {
            shader,
            entry,
            constants: Vec::new(),
        }
    }

    /// Set override constant `name` (replacing an earlier value).
    #[must_use]
    pub fn constant(mut self, name: &'static str, value: f64) -> Self {
        // -0.0 and 0.0 are the same constant.
        let bits = if value == 0.0 { 0 } else { value.to_bits() };
        match self.constants.binary_search_by(|(n, _)| n.cmp(&name)) {
            Ok(i) => self.constants[i].1 = bits,
            Err(i) => self.constants.insert(i, (name, bits)),
        }
        self
    }

    /// The shader name.
    pub fn shader(&self) -> &'static str {
        self.shader
    }

    /// The entry point.
    pub fn entry(&self) -> &'static str {
        self.entry
    }

    /// The override constants, sorted by name.
    pub fn constants(&self) -> Vec<(&'static str, f64)> {
        self.constants
            .iter()
            .map(|&(n, b)| (n, f64::from_bits(b)))
            .collect()
    }

    fn label(&self) -> String {
        let mut s = format!("{}::{}", self.shader, self.entry);
        for (n, v) in self.constants() {
            s.push_str(&format!(" {n}={v}"));
        }
        s
    }
}

/// Shader modules and compute pipelines of one device, built once and reused.
#[derive(Debug, Default)]
pub(crate) struct PipelineCache {
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<PipelineKey, wgpu::ComputePipeline>>,
}

impl PipelineCache {
    pub(crate) fn len(&self) -> usize {
        self.pipelines.lock().map(|p| p.len()).unwrap_or(0)
    }

    pub(crate) fn get_or_build(
        &self,
        device: &wgpu::Device,
        key: &PipelineKey,
    ) -> Result<wgpu::ComputePipeline> {
        let poisoned = |_| Error::Gpu("pipeline cache lock poisoned".into());
        // Held while building, so that a pipeline is never built twice.
        let mut pipelines = self.pipelines.lock().map_err(poisoned)?;
        if let Some(p) = pipelines.get(key) {
            return Ok(p.clone());
        }
        let module = self.module(device, key.shader)?;
        let constants = key.constants();
        let label = key.label();
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&label),
            layout: None,
            module: &module,
            entry_point: Some(key.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                zero_initialize_workgroup_memory: true,
            },
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("cannot build pipeline {label}: {e}")));
        }
        pipelines.insert(key.clone(), pipeline.clone());
        Ok(pipeline)
    }

    fn module(&self, device: &wgpu::Device, name: &'static str) -> Result<wgpu::ShaderModule> {
        let mut modules = self
            .modules
            .lock()
            .map_err(|_| Error::Gpu("shader module cache lock poisoned".into()))?;
        if let Some(m) = modules.get(name) {
            return Ok(m.clone());
        }
        let src = source(name)?;
        // Loop counters only where some loop's end is not evident from its form
        // (`super::loops`); buffer bounds checks always.
        let force_loop_bounding = loops_end(&src).is_err();
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(src.into()),
        };
        let checks = wgpu::ShaderRuntimeChecks {
            force_loop_bounding,
            ..wgpu::ShaderRuntimeChecks::checked()
        };
        // SAFETY: bounds checks stay on; loop bounding is off only for modules all of whose
        // loops end by their form (`loops_end`), as `create_shader_module_trusted` requires.
        let module = unsafe { device.create_shader_module_trusted(desc, checks) };
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("shader {name:?} does not compile: {e}")));
        }
        modules.insert(name, module.clone());
        Ok(module)
    }
}
