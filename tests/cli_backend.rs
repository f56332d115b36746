//! `--backend auto|gpu|cpu|reference` on `run`, `quantize` and `eval`:
//! - `gpu` runs on the adapter the environment picks (lavapipe in CI) and agrees with
//!   `reference`; a model the GPU engine cannot run is a clear error;
//! - `auto` without `WGPU_ADAPTER_NAME` uses only hardware adapters: on a machine with only
//!   lavapipe (a `Cpu` device) it says so and uses the fast CPU engine; with
//!   `WGPU_ADAPTER_NAME` it uses the adapter named; any GPU failure falls back to the
//!   fast CPU engine with a printed line, and the command succeeds;
//! - `cpu` (the fast CPU engine) gives the reference's outputs, with `--threads` and
//!   `run --repeat`.
//!
//! The GPU cases skip without an adapter, unless `LITEQUANT_REQUIRE_GPU=1`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use litequant::data::{npy_bytes, Npz};
use litequant::gpu::{self, GpuEngine};
use litequant::{Engine, Model, Session, Tensor};

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("litequant-backend-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn op_model(name: &str) -> PathBuf {
    common::fixtures()
        .join("ops")
        .join(format!("{name}.tflite"))
}

/// `litequant ARGS` with `WGPU_ADAPTER_NAME` set to `adapter` (or removed).
fn cli(args: &[&str], adapter: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_litequant"));
    c.args(args);
    match adapter {
        Some(a) => c.env("WGPU_ADAPTER_NAME", a),
        None => c.env_remove("WGPU_ADAPTER_NAME"),
    };
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output, what: &str) -> String {
    let e = stderr(o);
    assert!(o.status.success(), "{what}: {e}");
    e
}

/// The name of the adapter the environment gives (None: skip).
fn adapter_name() -> Option<String> {
    gpu::context_or_skip("cli_backend")
        .expect("GPU required")
        .map(|c| c.info().name.clone())
}

/// An input for reshape_f32 ([1, 4, 4, 3]) with values a copy must keep bit for bit.
fn reshape_input(dir: &Path) -> PathBuf {
    let v: Vec<f32> = (0..48)
        .map(|k| match k % 6 {
            0 => -0.0,
            1 => f32::from_bits(3),
            2 => k as f32 * -0.37,
            _ => (k as f32).sqrt(),
        })
        .collect();
    let x = dir.join("x.npy");
    std::fs::write(&x, npy_bytes(&Tensor::from_f32(&[1, 4, 4, 3], &v).unwrap())).unwrap();
    x
}

fn outputs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = Npz::open(path).unwrap();
    let mut v: Vec<(String, Vec<u8>)> = z
        .names()
        .into_iter()
        .map(|n| {
            let t = z.read(&n).unwrap();
            (n, t.buf().to_le_bytes())
        })
        .collect();
    v.sort();
    v
}

fn run_args<'a>(model: &'a str, x: &'a str, out: &'a str, backend: &'a str) -> Vec<&'a str> {
    vec!["run", model, "--input", x, "-o", out, "--backend", backend]
}

/// Whether any adapter is a hardware one (then `auto` uses it).
fn hardware_adapter() -> bool {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .any(|a| a.get_info().device_type != wgpu::DeviceType::Cpu)
}

#[test]
fn run_on_the_gpu_equals_the_reference() {
    let Some(name) = adapter_name() else { return };
    let dir = tmpdir("run");
    let x = reshape_input(&dir);
    let model = op_model("reshape_f32");
    let (m, x) = (model.to_str().unwrap(), x.to_str().unwrap());
    let out = |b: &str| dir.join(format!("{b}.npz"));
    let reference = ok(
        &cli(
            &run_args(m, x, out("ref").to_str().unwrap(), "reference"),
            None,
        ),
        "reference",
    );
    assert!(reference.contains("backend: reference"), "{reference}");
    let e = ok(
        &cli(
            &run_args(m, x, out("gpu").to_str().unwrap(), "gpu"),
            Some(&name),
        ),
        "gpu",
    );
    assert!(e.contains("backend: gpu on") && e.contains(&name), "{e}");
    assert!(e.contains("ran in") && e.contains("on gpu ("), "{e}");
    assert_eq!(outputs(&out("gpu")), outputs(&out("ref")));
    // --dump-all reads every tensor back from the device.
    let dump = dir.join("dump");
    let dump_out = out("dump");
    let mut args = run_args(m, x, dump_out.to_str().unwrap(), "gpu");
    args.extend(["--dump-all", dump.to_str().unwrap()]);
    ok(&cli(&args, Some(&name)), "gpu --dump-all");
    assert!(dump.join("index.json").exists());
}

#[test]
fn auto_uses_hardware_adapters_only_unless_one_is_named() {
    let dir = tmpdir("auto");
    let x = reshape_input(&dir);
    let model = op_model("reshape_f32");
    let (m, x) = (model.to_str().unwrap(), x.to_str().unwrap());
    let out = dir.join("auto.npz");
    let out = out.to_str().unwrap();
    let e = ok(&cli(&run_args(m, x, out, "auto"), None), "auto");
    if hardware_adapter() {
        assert!(e.contains("backend auto: gpu on"), "{e}");
    } else {
        assert!(
            e.contains("backend auto: no") && e.contains("using the fast CPU engine"),
            "{e}"
        );
        assert!(e.contains(" on cpu ("), "{e}");
    }
    // An adapter named in WGPU_ADAPTER_NAME is used, software or not.
    if let Some(name) = adapter_name() {
        let e = ok(
            &cli(&run_args(m, x, out, "auto"), Some(&name)),
            "auto, named",
        );
        assert!(
            e.contains("backend auto: gpu on") && e.contains(&name),
            "{e}"
        );
    }
    // One that does not exist: auto falls back, gpu is an error.
    let e = ok(
        &cli(&run_args(m, x, out, "auto"), Some("no-such-adapter-xyz")),
        "auto, missing adapter",
    );
    assert!(e.contains("using the fast CPU engine"), "{e}");
    let o = cli(&run_args(m, x, out, "gpu"), Some("no-such-adapter-xyz"));
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("--backend gpu") && e.contains("no GPU adapter"),
        "{e}"
    );
}

#[test]
fn a_model_the_gpu_cannot_run_falls_back_under_auto_and_fails_under_gpu() {
    let Some(name) = adapter_name() else { return };
    let model = common::fixtures().join("mlp_float32.tflite");
    let m = Model::from_file(&model).unwrap();
    let engine = GpuEngine::from_env().unwrap();
    let Err(why) = engine.prepare(&m) else {
        eprintln!("the GPU engine runs every op of mlp_float32: no fallback to check");
        return;
    };
    let dir = tmpdir("fallback");
    let spec = litequant::ReferenceEngine.prepare(&m).unwrap().inputs()[0].clone();
    let n: usize = spec.shape.iter().product();
    let v: Vec<f32> = (0..n).map(|k| (k as f32 * 0.37).sin()).collect();
    let x = dir.join("x.npy");
    std::fs::write(&x, npy_bytes(&Tensor::from_f32(&spec.shape, &v).unwrap())).unwrap();
    let (mp, xp) = (model.to_str().unwrap(), x.to_str().unwrap());
    let out = |b: &str| dir.join(format!("{b}.npz"));
    ok(
        &cli(
            &run_args(mp, xp, out("ref").to_str().unwrap(), "reference"),
            None,
        ),
        "reference",
    );
    let e = ok(
        &cli(
            &run_args(mp, xp, out("auto").to_str().unwrap(), "auto"),
            Some(&name),
        ),
        "auto",
    );
    assert!(
        e.contains("failed on the GPU") && e.contains("falling back to the fast CPU engine"),
        "{e}"
    );
    assert_eq!(outputs(&out("auto")), outputs(&out("ref")));
    let o = cli(
        &run_args(mp, xp, out("gpu").to_str().unwrap(), "gpu"),
        Some(&name),
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    let op = why.to_string();
    assert!(
        e.contains("GPU engine") && e.contains("FULLY_CONNECTED"),
        "{e} / {op}"
    );
    assert!(!out("gpu").exists(), "no output written on failure");
}

#[test]
fn quantize_on_the_gpu_writes_the_references_model_for_copied_values() {
    let Some(name) = adapter_name() else { return };
    let dir = tmpdir("quantize");
    let model = op_model("reshape_f32");
    let calib = common::fixtures().join("ops/reshape.calib.npz");
    let (m, c) = (model.to_str().unwrap(), calib.to_str().unwrap());
    let out = |b: &str| dir.join(format!("{b}.tflite"));
    let report = |b: &str| dir.join(format!("{b}.json"));
    let args = |b: &'static str, o: &PathBuf, r: &PathBuf| {
        let mut v: Vec<String> = ["quantize", m, "--calib", c, "--backend", b, "-o"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.push(o.to_str().unwrap().into());
        v.push("--report".into());
        v.push(r.to_str().unwrap().into());
        v
    };
    let run = |b: &'static str, adapter: Option<&str>| {
        let a = args(b, &out(b), &report(b));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        ok(&cli(&a, adapter), b)
    };
    run("reference", None);
    let e = run("gpu", Some(&name));
    assert!(e.contains("calibrating") && e.contains("(gpu ("), "{e}");
    // RESHAPE copies: the GPU's values are the reference's, so are the ranges and the file.
    assert_eq!(
        std::fs::read(out("gpu")).unwrap(),
        std::fs::read(out("reference")).unwrap()
    );
    assert_eq!(
        std::fs::read(report("gpu")).unwrap(),
        std::fs::read(report("reference")).unwrap()
    );
}

#[test]
fn eval_runs_both_models_on_the_chosen_backend() {
    let Some(name) = adapter_name() else { return };
    let model = op_model("reshape_f32");
    let data = common::fixtures().join("ops/reshape.calib.npz");
    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    let o = cli(
        &["eval", m, m, "--data", d, "--backend", "gpu"],
        Some(&name),
    );
    let e = ok(&o, "eval gpu");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(e.contains("backend: gpu on"), "{e}");
    assert!(
        out.contains("samples on gpu (") && out.contains("SQNR inf"),
        "{out}"
    );
    // The converter's int8 model: QUANTIZE/DEQUANTIZE may lack GPU kernels on this build.
    let q = op_model("reshape_int8");
    let qm = Model::from_file(&q).unwrap();
    let runs = GpuEngine::from_env().unwrap().prepare(&qm).is_ok();
    let q = q.to_str().unwrap();
    let o = cli(
        &["eval", m, q, "--data", d, "--backend", "auto"],
        Some(&name),
    );
    let e = ok(&o, "eval auto");
    assert_eq!(
        !runs,
        e.contains("falling back to the fast CPU engine"),
        "{e}"
    );
}

#[test]
fn quantize_help_states_what_gpu_calibration_gives() {
    let o = cli(&["quantize", "--help"], None);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    for needle in [
        "--backend",
        "auto",
        "gpu",
        "reference",
        "ulp",
        "converter parity",
    ] {
        assert!(help.contains(needle), "missing {needle:?} in:\n{help}");
    }
}

#[test]
fn run_on_the_fast_cpu_engine_equals_the_reference_and_repeats() {
    let dir = tmpdir("cpu");
    for name in ["cnn_float32", "cnn_int8"] {
        let model = common::fixtures().join(format!("{name}.tflite"));
        let m = Model::from_file(&model).unwrap();
        let spec = litequant::ReferenceEngine.prepare(&m).unwrap().inputs()[0].clone();
        let n: usize = spec.shape.iter().product();
        let v: Vec<f32> = (0..n).map(|k| ((k * 37) % 101) as f32 / 101.0).collect();
        let x = dir.join(format!("{name}.x.npy"));
        std::fs::write(&x, npy_bytes(&Tensor::from_f32(&spec.shape, &v).unwrap())).unwrap();
        let (mp, xp) = (model.to_str().unwrap(), x.to_str().unwrap());
        let out = |b: &str| dir.join(format!("{name}.{b}.npz"));
        let r = out("ref");
        ok(
            &cli(&run_args(mp, xp, r.to_str().unwrap(), "reference"), None),
            "ref",
        );
        let c = out("cpu");
        let mut args = run_args(mp, xp, c.to_str().unwrap(), "cpu");
        args.extend(["--threads", "2", "--repeat", "3"]);
        let e = ok(&cli(&args, None), "cpu");
        assert!(e.contains("backend: cpu (2 threads"), "{e}");
        assert!(e.contains("(min of 3, median "), "{e}");
        assert_eq!(outputs(&c), outputs(&r), "{name}");
    }
}
