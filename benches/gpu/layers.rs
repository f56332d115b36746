//! Single-op models built in memory with the model IR, at layer shapes of real networks
//! (MobileNetV2, ResNet-50, a classifier head, a transformer projection), in int8 (per-channel
//! weights, int32 bias, as the TFLite converter writes them) and float32.

use std::sync::Arc;

use litequant::model::{
    Activation, BatchMatMulOptions, Conv2DOptions, DType, DepthwiseConv2DOptions,
    FullyConnectedOptions, Model, Op, Operator, Padding, QuantParams, Subgraph, Tensor,
    SCHEMA_VERSION,
};

/// One layer: its name, multiply-accumulates, and the two models.
pub struct Layer {
    pub name: String,
    pub macs: u64,
    pub float: Model,
    pub int8: Model,
}

/// A seeded source (SplitMix64) for weights and inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    pub fn i8(&mut self, lo: i32, hi: i32) -> i8 {
        (lo + (self.next() % (hi - lo + 1) as u64) as i32) as i8
    }
}

fn model(tensors: Vec<Tensor>, inputs: Vec<usize>, op: Op, op_inputs: Vec<i32>) -> Model {
    let out = tensors.len() - 1;
    let sg = Subgraph {
        name: None,
        tensors,
        inputs,
        outputs: vec![out],
        operators: vec![Operator {
            op,
            version: 1,
            inputs: op_inputs,
            outputs: vec![out as i32],
            intermediates: Vec::new(),
            mutating_variable_inputs: Vec::new(),
            debug_metadata_index: -1,
            options_omitted: false,
        }],
        debug_metadata_index: -1,
    };
    Model {
        version: SCHEMA_VERSION,
        description: Some("litequant bench".into()),
        subgraphs: vec![sg],
        metadata: Vec::new(),
        signature_defs: Vec::new(),
        legacy_metadata_buffers: Vec::new(),
        external_buffer_groups: Vec::new(),
        external_buffers: Vec::new(),
        unused_operator_codes: Vec::new(),
    }
}

fn tensor(name: &str, dtype: DType, shape: &[usize]) -> Tensor {
    Tensor::new(name, dtype, shape.iter().map(|&d| d as i32).collect())
}

fn with_data(mut t: Tensor, bytes: Vec<u8>) -> Tensor {
    t.data = Some(Arc::from(bytes));
    t
}

fn per_channel(scales: Vec<f32>, axis: i32) -> QuantParams {
    QuantParams {
        zero_point: vec![0; scales.len()],
        scale: scales,
        quantized_dimension: axis,
        ..Default::default()
    }
}

const IN_SCALE: f32 = 0.02;
const IN_ZP: i64 = -5;

/// Weights `[..]` with `channels` output channels on `axis`: float values, and int8 values
/// with per-channel scales; the int32 bias for `channels` with scale `IN_SCALE * s_w[c]`.
struct Weights {
    float: Vec<f32>,
    q: Vec<i8>,
    scales: Vec<f32>,
    bias_f: Vec<f32>,
    bias_q: Vec<i32>,
}

fn weights(
    rng: &mut Rng,
    n: usize,
    channels: usize,
    channel_of: impl Fn(usize) -> usize,
) -> Weights {
    let scales: Vec<f32> = (0..channels)
        .map(|c| 0.002 + 0.0005 * (c % 7) as f32)
        .collect();
    let q: Vec<i8> = (0..n).map(|_| rng.i8(-127, 127)).collect();
    let float = q
        .iter()
        .enumerate()
        .map(|(i, &v)| v as f32 * scales[channel_of(i)])
        .collect();
    let bias_q: Vec<i32> = (0..channels)
        .map(|_| (rng.next() % 4001) as i32 - 2000)
        .collect();
    let bias_f = bias_q
        .iter()
        .zip(&scales)
        .map(|(&b, &s)| b as f32 * IN_SCALE * s)
        .collect();
    Weights {
        float,
        q,
        scales,
        bias_f,
        bias_q,
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i8_bytes(v: &[i8]) -> Vec<u8> {
    v.iter().map(|&x| x as u8).collect()
}

/// An output scale that keeps typical accumulators inside int8 (timing does not care; the
/// outputs just should not all saturate).
fn out_scale(depth: usize) -> f32 {
    IN_SCALE * 0.003 * 40.0 * (depth as f32).sqrt()
}

/// (float model, int8 model) of one op: `x` input, constant weights and bias, `y` output.
#[allow(clippy::too_many_arguments)]
fn pair(
    op: Op,
    x: &[usize],
    w_shape: &[usize],
    w: &Weights,
    axis: i32,
    y: &[usize],
    depth: usize,
) -> (Model, Model) {
    let c = w.scales.len();
    let float = model(
        vec![
            tensor("x", DType::F32, x),
            with_data(tensor("w", DType::F32, w_shape), f32_bytes(&w.float)),
            with_data(tensor("b", DType::F32, &[c]), f32_bytes(&w.bias_f)),
            tensor("y", DType::F32, y),
        ],
        vec![0],
        op.clone(),
        vec![0, 1, 2],
    );
    let mut xq = tensor("x", DType::I8, x);
    xq.quant = Some(QuantParams::per_tensor(IN_SCALE, IN_ZP));
    let mut wq = with_data(tensor("w", DType::I8, w_shape), i8_bytes(&w.q));
    wq.quant = Some(per_channel(w.scales.clone(), axis));
    let mut bq = with_data(tensor("b", DType::I32, &[c]), i32_bytes(&w.bias_q));
    bq.quant = Some(per_channel(
        w.scales.iter().map(|s| s * IN_SCALE).collect(),
        0,
    ));
    let mut yq = tensor("y", DType::I8, y);
    yq.quant = Some(QuantParams::per_tensor(out_scale(depth), 3));
    let int8 = model(vec![xq, wq, bq, yq], vec![0], op, vec![0, 1, 2]);
    (float, int8)
}

/// CONV_2D `1 x h x w x cin -> cout`, `k x k`, stride `s`, SAME padding.
#[allow(clippy::too_many_arguments)]
pub fn conv(
    name: &str,
    rng: &mut Rng,
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    k: usize,
    s: usize,
) -> Layer {
    let (ho, wo) = (h.div_ceil(s), w.div_ceil(s));
    let per_out = k * k * cin;
    let wt = weights(rng, cout * per_out, cout, |i| i / per_out);
    let op = Op::Conv2D(Conv2DOptions {
        padding: Padding::Same,
        stride_w: s as i32,
        stride_h: s as i32,
        activation: Activation::None,
        dilation_w: 1,
        dilation_h: 1,
        quantized_bias_type: DType::F32,
    });
    let (float, int8) = pair(
        op,
        &[1, h, w, cin],
        &[cout, k, k, cin],
        &wt,
        0,
        &[1, ho, wo, cout],
        per_out,
    );
    Layer {
        name: format!("{name}_{h}x{w}x{cin}_{cout}"),
        macs: (ho * wo * cout * per_out) as u64,
        float,
        int8,
    }
}

/// DEPTHWISE_CONV_2D `1 x h x w x c`, `k x k`, stride `s`, SAME padding, multiplier 1.
pub fn depthwise(
    name: &str,
    rng: &mut Rng,
    h: usize,
    w: usize,
    c: usize,
    k: usize,
    s: usize,
) -> Layer {
    let (ho, wo) = (h.div_ceil(s), w.div_ceil(s));
    let wt = weights(rng, k * k * c, c, |i| i % c);
    let op = Op::DepthwiseConv2D(DepthwiseConv2DOptions {
        padding: Padding::Same,
        stride_w: s as i32,
        stride_h: s as i32,
        depth_multiplier: 1,
        activation: Activation::None,
        dilation_w: 1,
        dilation_h: 1,
    });
    let (float, int8) = pair(
        op,
        &[1, h, w, c],
        &[1, k, k, c],
        &wt,
        3,
        &[1, ho, wo, c],
        k * k,
    );
    Layer {
        name: format!("{name}_{h}x{w}x{c}"),
        macs: (ho * wo * c * k * k) as u64,
        float,
        int8,
    }
}

/// FULLY_CONNECTED `batch x depth -> units`.
pub fn fully_connected(
    name: &str,
    rng: &mut Rng,
    batch: usize,
    depth: usize,
    units: usize,
) -> Layer {
    let wt = weights(rng, units * depth, units, |i| i / depth);
    let op = Op::FullyConnected(FullyConnectedOptions {
        activation: Activation::None,
        weights_format: 0,
        keep_num_dims: false,
        asymmetric_quantize_inputs: false,
        quantized_bias_type: DType::F32,
        quant_spec: Vec::new(),
    });
    let (float, int8) = pair(
        op,
        &[batch, depth],
        &[units, depth],
        &wt,
        0,
        &[batch, units],
        depth,
    );
    Layer {
        name: format!("{name}_{depth}_{units}"),
        macs: (batch * depth * units) as u64,
        float,
        int8,
    }
}

/// BATCH_MATMUL `[1, m, k] x [1, k, n]` with a constant right-hand side (per-tensor int8).
pub fn batch_matmul(name: &str, rng: &mut Rng, m: usize, k: usize, n: usize) -> Layer {
    let op = Op::BatchMatMul(BatchMatMulOptions {
        adj_x: false,
        adj_y: false,
        asymmetric_quantize_inputs: false,
    });
    let s_w = 0.004f32;
    let q: Vec<i8> = (0..k * n).map(|_| rng.i8(-127, 127)).collect();
    let f: Vec<f32> = q.iter().map(|&v| v as f32 * s_w).collect();
    let float = model(
        vec![
            tensor("x", DType::F32, &[1, m, k]),
            with_data(tensor("w", DType::F32, &[1, k, n]), f32_bytes(&f)),
            tensor("y", DType::F32, &[1, m, n]),
        ],
        vec![0],
        op.clone(),
        vec![0, 1],
    );
    let mut xq = tensor("x", DType::I8, &[1, m, k]);
    xq.quant = Some(QuantParams::per_tensor(IN_SCALE, 0));
    let mut wq = with_data(tensor("w", DType::I8, &[1, k, n]), i8_bytes(&q));
    wq.quant = Some(QuantParams::per_tensor(s_w, 0));
    let mut yq = tensor("y", DType::I8, &[1, m, n]);
    yq.quant = Some(QuantParams::per_tensor(out_scale(k) * 1.5, 0));
    let int8 = model(vec![xq, wq, yq], vec![0], op, vec![0, 1]);
    Layer {
        name: format!("{name}_{m}x{k}x{n}"),
        macs: (m * k * n) as u64,
        float,
        int8,
    }
}

/// The layers benchmarked; `small` shrinks every spatial size by 4 and the GEMMs likewise
/// (CI smoke runs).
pub fn layers(small: bool) -> Vec<Layer> {
    let mut rng = Rng(0x00be_4c11);
    let d = if small { 4 } else { 1 };
    vec![
        depthwise("mbv2_dw3x3", &mut rng, 112 / d, 112 / d, 32, 3, 1),
        conv("mbv2_pw1x1", &mut rng, 56 / d, 56 / d, 24, 144, 1, 1),
        conv("resnet_conv3x3", &mut rng, 56 / d, 56 / d, 64, 64, 3, 1),
        fully_connected("fc", &mut rng, 1, 1280 / d, 1000 / d),
        batch_matmul("vit_bmm", &mut rng, 197 / d, 768 / d, 768 / d),
    ]
}
