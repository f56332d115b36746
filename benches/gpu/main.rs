//! `cargo bench --bench gpu`: the GPU engine beside the CPU reference engine.
//!
//! Groups:
//! - `layers/<layer>/<dtype>`: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and BATCH_MATMUL at
//!   layer shapes of MobileNetV2, ResNet-50, a 1280→1000 classifier and a ViT projection, in
//!   int8 and float32, on the GPU engine and on the reference engine. Throughput is in
//!   elements = operations (2 × MACs), so criterion's `Gelem/s` reads as GOP/s.
//! - `models/<fixture>`: whole-model latency of the fixture models (cnn/mlp, int8/float32).
//! - `calibrate/<fixture>`: calibration of the float fixtures on 20 samples (statistics on
//!   the device for the GPU engine).
//!
//! Every case is run once first and timed (median of a few runs), printing a `GOP/s` line;
//! a summary table with the int8/f32 and GPU/reference ratios closes the run. Ops without a
//! GPU kernel are skipped with a printed line. `LITEQUANT_BENCH_SMALL=1` shrinks shapes and
//! sample counts for CI smoke runs; `cargo bench --bench gpu -- --test` runs each case once.
//! The adapter comes from the environment (`WGPU_ADAPTER_NAME`, ...) and is named in the
//! output; without one only the reference engine is measured.

mod layers;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use litequant::data::Dataset;
use litequant::gpu::{self, GpuEngine};
use litequant::model::{DType, Model};
use litequant::{calibrate, Buf, Engine, ReferenceEngine, Session, Tensor};

use layers::{layers, Rng};

struct Settings {
    small: bool,
    quick: bool,
}

/// One timed case, for the summary.
struct Row {
    group: String,
    case: String,
    engine: &'static str,
    ms: f64,
    ops: Option<u64>,
}

impl Row {
    fn gops(&self) -> Option<f64> {
        self.ops.map(|o| o as f64 / (self.ms * 1e6))
    }
}

fn random_inputs(specs: &[litequant::IoSpec], rng: &mut Rng) -> Vec<Tensor> {
    specs
        .iter()
        .map(|s| {
            let n: usize = s.shape.iter().product();
            let buf = match s.dtype {
                DType::I8 => Buf::I8((0..n).map(|_| rng.i8(-128, 127)).collect()),
                DType::U8 => Buf::U8((0..n).map(|_| rng.i8(0, 127) as u8 * 2).collect()),
                _ => Buf::F32((0..n).map(|_| rng.unit()).collect()),
            };
            Tensor::new(&s.shape, buf).expect("input")
        })
        .collect()
}

/// Median of `runs` timed calls of `f` (after one untimed call), in ms.
fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[t.len() / 2]
}

/// Prepare `model` on `engine`, time it, print the line, and hand it to criterion.
#[allow(clippy::too_many_arguments)]
fn case<E: Engine>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rows: &mut Vec<Row>,
    set: &Settings,
    (gname, cname): (&str, &str),
    engine_label: &'static str,
    engine: &E,
    model: &Model,
    ops: Option<u64>,
) -> Option<Vec<Tensor>> {
    let mut session = match engine.prepare(model) {
        Ok(s) => s,
        Err(e) => {
            println!("skip {gname}/{cname} on {engine_label}: {e}");
            return None;
        }
    };
    let inputs = random_inputs(session.inputs(), &mut Rng(0x1234));
    let out = match session.run(&inputs) {
        Ok(o) => o,
        Err(e) => {
            println!("skip {gname}/{cname} on {engine_label}: the run failed: {e}");
            return None;
        }
    };
    let runs = if set.quick { 1 } else { 5 };
    let ms = median_ms(runs, || {
        black_box(session.run(&inputs).expect("run"));
    });
    let row = Row {
        group: gname.into(),
        case: cname.into(),
        engine: engine_label,
        ms,
        ops,
    };
    match row.gops() {
        Some(g) => println!("{gname}/{cname} on {engine_label}: {ms:.3} ms, {g:.3} GOP/s"),
        None => println!("{gname}/{cname} on {engine_label}: {ms:.3} ms"),
    }
    rows.push(row);
    if let Some(o) = ops {
        group.throughput(Throughput::Elements(o));
    }
    group.bench_function(BenchmarkId::new(engine_label, cname), |b| {
        b.iter(|| black_box(session.run(&inputs).expect("run")))
    });
    Some(out)
}

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, set: &Settings) {
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    let (warm, measure) = if set.small {
        (Duration::from_millis(100), Duration::from_millis(300))
    } else {
        (Duration::from_millis(500), Duration::from_secs(3))
    };
    group.warm_up_time(warm);
    group.measurement_time(measure);
}

fn bench_layers(c: &mut Criterion, gpu: Option<&GpuEngine>, set: &Settings, rows: &mut Vec<Row>) {
    for layer in layers(set.small) {
        for (dtype, model) in [("int8", &layer.int8), ("f32", &layer.float)] {
            let gname = format!("layers/{}", layer.name);
            let mut group = c.benchmark_group(&gname);
            configure(&mut group, set);
            let ops = Some(2 * layer.macs);
            let id = (gname.as_str(), dtype);
            let want = case(
                &mut group,
                rows,
                set,
                id,
                "reference",
                &ReferenceEngine,
                model,
                ops,
            );
            if let Some(g) = gpu {
                let got = case(&mut group, rows, set, id, "gpu", g, model, ops);
                if let (Some(w), Some(g), "int8") = (&want, &got, dtype) {
                    let same = w.iter().zip(g).all(|(a, b)| a.buf() == b.buf());
                    println!("{gname}/{dtype}: GPU int8 outputs equal the reference's: {same}");
                }
            }
            group.finish();
        }
    }
}

/// Fixture models (`tests/fixtures/<name>.tflite`); `ops/reshape_f32` runs on the GPU even
/// before the op kernels exist (a copy), so the GPU path is always measured.
const MODELS: &[&str] = &[
    "cnn_int8",
    "cnn_float32",
    "mlp_int8",
    "mlp_float32",
    "ops/reshape_f32",
];

fn fixture(name: &str) -> Model {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.tflite"));
    Model::from_file(&p).expect("fixture model")
}

fn bench_models(c: &mut Criterion, gpu: Option<&GpuEngine>, set: &Settings, rows: &mut Vec<Row>) {
    let mut group = c.benchmark_group("models");
    configure(&mut group, set);
    for name in MODELS {
        let m = fixture(name);
        let id = ("models", *name);
        case(
            &mut group,
            rows,
            set,
            id,
            "reference",
            &ReferenceEngine,
            &m,
            None,
        );
        if let Some(g) = gpu {
            case(&mut group, rows, set, id, "gpu", g, &m, None);
        }
    }
    group.finish();
}

/// `n` random samples for the model's inputs.
struct Samples(Vec<Vec<Tensor>>);

impl Dataset for Samples {
    fn len_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
    fn next_sample(&mut self) -> Option<litequant::Result<litequant::data::Sample>> {
        self.0
            .pop()
            .map(|s| Ok(s.into_iter().map(|t| (None, t)).collect()))
    }
}

fn calibration<E: Engine>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rows: &mut Vec<Row>,
    set: &Settings,
    (name, label): (&str, &'static str),
    engine: &E,
    m: &Model,
) {
    let specs = match engine.prepare(m) {
        Ok(s) => s.inputs().to_vec(),
        Err(e) => {
            println!("skip calibrate/{name} on {label}: {e}");
            return;
        }
    };
    let n = if set.small { 5 } else { 20 };
    let mut rng = Rng(0x5eed);
    let samples: Vec<Vec<Tensor>> = (0..n).map(|_| random_inputs(&specs, &mut rng)).collect();
    let opts = litequant::CalibrationOptions::default();
    let run = || calibrate(m, engine, &mut Samples(samples.clone()), &opts);
    if let Err(e) = run() {
        println!("skip calibrate/{name} on {label}: {e}");
        return;
    }
    let ms = median_ms(if set.quick { 1 } else { 3 }, || {
        black_box(run().expect("calibrate"));
    });
    println!("calibrate/{name} on {label}: {ms:.3} ms for {n} samples");
    rows.push(Row {
        group: "calibrate".into(),
        case: format!("{name} ({n} samples)"),
        engine: label,
        ms,
        ops: None,
    });
    group.bench_function(BenchmarkId::new(label, name), |b| {
        b.iter(|| black_box(run().expect("calibrate")))
    });
}

fn bench_calibration(
    c: &mut Criterion,
    gpu: Option<&GpuEngine>,
    set: &Settings,
    rows: &mut Vec<Row>,
) {
    let mut group = c.benchmark_group("calibrate");
    configure(&mut group, set);
    for name in ["cnn_float32", "mlp_float32", "ops/reshape_f32"] {
        let m = fixture(name);
        calibration(
            &mut group,
            rows,
            set,
            (name, "reference"),
            &ReferenceEngine,
            &m,
        );
        if let Some(g) = gpu {
            calibration(&mut group, rows, set, (name, "gpu"), g, &m);
        }
    }
    group.finish();
}

fn summary(rows: &[Row], adapter: &str) {
    println!("\nsummary (GPU: {adapter}); medians of the timed runs above");
    println!(
        "{:<44} {:<28} {:>10} {:>10} {:>10} {:>10}",
        "group", "case", "engine", "ms", "GOP/s", "vs ref"
    );
    let find = |g: &str, c: &str, e: &str| {
        rows.iter()
            .find(|r| r.group == g && r.case == c && r.engine == e)
    };
    for r in rows {
        let gops = r.gops().map_or("-".into(), |g| format!("{g:.3}"));
        let vs = match (r.engine, find(&r.group, &r.case, "reference")) {
            ("gpu", Some(rf)) => format!("{:.2}x", rf.ms / r.ms),
            _ => "-".into(),
        };
        println!(
            "{:<44} {:<28} {:>10} {:>10.3} {:>10} {:>10}",
            r.group, r.case, r.engine, r.ms, gops, vs
        );
    }
    println!("\nint8 / f32 speed ratio on the same engine (layers):");
    for r in rows.iter().filter(|r| r.case == "int8") {
        if let Some(f) = find(&r.group, "f32", r.engine) {
            println!("  {:<44} {:>10} {:>8.2}x", r.group, r.engine, f.ms / r.ms);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |a: &str| args.iter().any(|x| x == a);
    let set = Settings {
        small: std::env::var("LITEQUANT_BENCH_SMALL").is_ok_and(|v| v == "1"),
        quick: has("--test") || !has("--bench"),
    };
    let ctx = gpu::context_or_skip("bench gpu").expect("LITEQUANT_REQUIRE_GPU=1 but no GPU");
    let adapter = ctx
        .as_ref()
        .map_or("none (GPU cases skipped)".to_string(), |c| c.describe());
    println!("adapter: {adapter}");
    println!(
        "mode: {}{}",
        if set.small {
            "small shapes (LITEQUANT_BENCH_SMALL=1)"
        } else {
            "full shapes"
        },
        if set.quick {
            ", one run per case (test mode)"
        } else {
            ""
        }
    );
    let gpu = ctx.map(GpuEngine::new);
    let mut c = Criterion::default().configure_from_args();
    let mut rows = Vec::new();
    bench_layers(&mut c, gpu.as_ref(), &set, &mut rows);
    bench_models(&mut c, gpu.as_ref(), &set, &mut rows);
    bench_calibration(&mut c, gpu.as_ref(), &set, &mut rows);
    summary(&rows, &adapter);
    c.final_summary();
}
