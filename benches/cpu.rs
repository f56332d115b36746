//! `cargo bench --bench cpu`: the fast CPU engine's kernels beside the reference engine's.
//!
//! CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED single-op models (`gpu/layers.rs`) at
//! layer shapes of MobileNetV2, ResNet-50, a classifier head and MediaPipe's hand landmark
//! model (its 3×3 stride-2 stem on 224×224×3 and its 112×112×24 depthwise), in float32 and
//! int8, on: the reference engine, the fast engine on 1 thread, and on all cores. Each case
//! prints the minimum of a few runs in ms and GOP/s (2 × MACs), then goes to criterion
//! (throughput in elements = operations). `LITEQUANT_BENCH_SMALL=1` shrinks the shapes;
//! `cargo bench --bench cpu -- --test` runs each case once.

#[path = "gpu/layers.rs"]
#[allow(dead_code)]
mod layers;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use litequant::model::{DType, Model};
use litequant::{Buf, Engine, FastCpuEngine, ReferenceEngine, Session, Tensor};

use layers::{conv, depthwise, fully_connected, Layer, Rng};

fn inputs(specs: &[litequant::IoSpec], rng: &mut Rng) -> Vec<Tensor> {
    specs
        .iter()
        .map(|s| {
            let n: usize = s.shape.iter().product();
            let buf = match s.dtype {
                DType::I8 => Buf::I8((0..n).map(|_| rng.i8(-128, 127)).collect()),
                _ => Buf::F32((0..n).map(|_| rng.unit()).collect()),
            };
            Tensor::new(&s.shape, buf).expect("input")
        })
        .collect()
}

fn cpu_layers(small: bool) -> Vec<Layer> {
    let d = if small { 4 } else { 1 };
    let mut rng = Rng(0x5eed_cafe);
    vec![
        conv("hand_stem3x3s2", &mut rng, [224 / d, 224 / d, 3], 24, 3, 2),
        depthwise("hand_dw3x3", &mut rng, 112 / d, 112 / d, 24, 3, 1),
        depthwise("mbv2_dw3x3", &mut rng, 112 / d, 112 / d, 32, 3, 1),
        conv("mbv2_pw1x1", &mut rng, [56 / d, 56 / d, 24], 144, 1, 1),
        conv("resnet_conv3x3", &mut rng, [56 / d, 56 / d, 64], 64, 3, 1),
        fully_connected("fc", &mut rng, 1, 1280 / d, 1000 / d),
    ]
}

fn min_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn case<E: Engine>(c: &mut Criterion, group: &str, label: &str, engine: &E, m: &Model, macs: u64) {
    let mut s = engine.prepare(m).expect("prepare");
    let x = inputs(s.inputs(), &mut Rng(0x1234));
    let ms = min_ms(5, || {
        black_box(s.run(&x).expect("run"));
    });
    let gops = 2.0 * macs as f64 / (ms * 1e6);
    println!("{group} on {label}: {ms:.3} ms, {gops:.2} GOP/s");
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(2 * macs))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(1));
    g.bench_function(BenchmarkId::from_parameter(label), |b| {
        b.iter(|| black_box(s.run(&x).expect("run")))
    });
    g.finish();
}

fn main() {
    let small = std::env::var("LITEQUANT_BENCH_SMALL").is_ok_and(|v| v == "1");
    let mut c = Criterion::default().configure_from_args();
    let all = FastCpuEngine::new();
    let one = FastCpuEngine::new().with_threads(1);
    println!("fast engine: {}", all.name());
    for layer in cpu_layers(small) {
        for (dtype, m) in [("f32", &layer.float), ("int8", &layer.int8)] {
            let group = format!("{}/{dtype}", layer.name);
            case(&mut c, &group, "reference", &ReferenceEngine, m, layer.macs);
            case(&mut c, &group, "cpu-1-thread", &one, m, layer.macs);
            case(&mut c, &group, "cpu-all-threads", &all, m, layer.macs);
        }
    }
    c.final_summary();
}
