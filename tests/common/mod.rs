//! Shared helpers for integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The committed fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every `.tflite` fixture made by `tools/make_fixtures.py`, sorted by name.
pub fn tflite_fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("tests/fixtures exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "tflite"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 12,
        "expected the generator's 12 fixtures, found {}",
        v.len()
    );
    v
}

/// The generator's manifest (`tests/fixtures/fixtures.json`).
pub fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("fixtures.json")).expect("manifest");
    serde_json::from_str(&text).expect("manifest is JSON")
}

/// The fixture's name (file stem).
// see golden.rs
pub mod cli;
pub mod fbedit;
pub mod golden;
pub mod zoo;

/// A fresh temporary folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("litequant-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_string_lossy().into_owned()
}

/// SplitMix64: the seeded source of the randomised tests. Test files add the draws they need
/// (ranges, floats, picks) in their own `impl Rng` blocks.
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Run one entry point of a shader in [`litequant::gpu::shaders::SHADERS`] once: `input`
/// bound read-only at binding 0, a fresh output of `out_bytes` (filled with the sentinel
/// byte 0x5a, so a skipped element shows) at binding 1, `groups` workgroups. Returns the
/// output bytes. The harness of the tests that compare shared WGSL functions with their
/// Rust twins.
pub fn run_entry(
    ctx: &litequant::gpu::GpuContext,
    key: &litequant::gpu::PipelineKey,
    input: &[u8],
    out_bytes: usize,
    groups: [u32; 3],
) -> litequant::Result<Vec<u8>> {
    use wgpu::util::DeviceExt as _;
    let pipeline = ctx.pipeline(key)?;
    let device = ctx.device();
    let input = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("test input"),
        contents: input,
        usage: wgpu::BufferUsages::STORAGE,
    });
    let output = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("test output"),
        contents: &vec![0x5a; out_bytes],
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(key.entry()),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: input.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: output.as_entire_binding(),
            },
        ],
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
    }
    ctx.queue().submit([encoder.finish()]);
    ctx.read_buffer(&output, out_bytes as u64)
}
