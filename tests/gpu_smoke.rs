//! GPU foundation: every shader validates with naga (CPU only), the `#import` step and the
//! pipeline key behave, and a trivial kernel runs on the adapter picked from the environment
//! and matches the CPU exactly.
//!
//! Without an adapter the GPU tests print why and pass (skip), unless
//! `LITEQUANT_REQUIRE_GPU=1`. On a machine without a GPU, lavapipe does:
//! `VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json WGPU_ADAPTER_NAME=llvmpipe`.

use litequant::gpu::{self, shaders, GpuContext, PipelineKey};
use wgpu::util::DeviceExt as _;

// ---------------------------------------------------------------------------------------------
// CPU only

#[test]
fn every_shader_parses_and_validates_with_naga() {
    assert!(!shaders::SHADERS.is_empty());
    let mut failures = Vec::new();
    for (name, _) in shaders::SHADERS {
        let src = match shaders::source(name) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let path = format!("shaders/{name}.wgsl (expanded)");
        let module = match naga::front::wgsl::parse_str(&src) {
            Ok(m) => m,
            Err(e) => {
                failures.push(e.emit_to_string_with_path(&src, &path));
                continue;
            }
        };
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        );
        if let Err(e) = validator.validate(&module) {
            failures.push(e.emit_to_string_with_path(&src, &path));
        }
    }
    assert!(
        failures.is_empty(),
        "shaders failing naga:\n{}",
        failures.join("\n")
    );
}

#[test]
fn shader_names_are_unique_and_common_files_are_imported_not_listed() {
    let mut names: Vec<&str> = shaders::SHADERS.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        shaders::SHADERS.len(),
        "duplicate shader names"
    );
    for (n, _) in shaders::COMMON {
        assert!(
            shaders::raw(n).is_none(),
            "{n} is both a shader and a common file"
        );
    }
    assert!(shaders::source("no_such_shader").is_err());
}

#[test]
fn import_expands_once_nested_and_rejects_cycles_and_unknowns() {
    let common: &[(&str, &str)] = &[
        ("a", "fn fa() {}\n"),
        ("b", "#import a\nfn fb() { fa(); }\n"),
        ("cyc1", "#import cyc2\n"),
        ("cyc2", "#import cyc1\n"),
    ];
    let out = shaders::expand(
        "t",
        "#import b\n  #import a.wgsl\n#import b\nfn main() {}\n",
        common,
    )
    .expect("expands");
    assert_eq!(out.matches("fn fa()").count(), 1, "{out}");
    assert_eq!(out.matches("fn fb()").count(), 1, "{out}");
    assert!(out.find("fn fa()") < out.find("fn fb()"), "{out}");
    assert!(out.ends_with("fn main() {}\n"), "{out}");
    assert!(!out.contains("#import"), "{out}");

    let e = shaders::expand("t", "#import cyc1\n", common)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cycle"), "{e}");
    let e = shaders::expand("t", "fn x() {}\n#import nope\n", common)
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"nope\"") && e.contains("line 2"), "{e}");
    assert!(shaders::expand("t", "#import\n", common).is_err());
    assert!(shaders::expand("t", "#importa\n", common).is_err());
    // Without imports the source is unchanged.
    assert_eq!(
        shaders::expand("t", "fn f() {}\n", &[]).unwrap(),
        "fn f() {}\n"
    );
}

#[test]
fn pipeline_key_is_canonical() {
    let k1 = PipelineKey::new("smoke", "main")
        .constant("B", 2.0)
        .constant("A", 1.0);
    let k2 = PipelineKey::new("smoke", "main")
        .constant("A", 5.0)
        .constant("B", 2.0)
        .constant("A", 1.0);
    assert_eq!(k1, k2);
    assert_eq!(k1.constants(), vec![("A", 1.0), ("B", 2.0)]);
    assert_ne!(k1, PipelineKey::new("smoke", "main"));
    assert_eq!(
        PipelineKey::new("s", "e").constant("Z", 0.0),
        PipelineKey::new("s", "e").constant("Z", -0.0)
    );
}

#[test]
fn context_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<GpuContext>();
}

// ---------------------------------------------------------------------------------------------
// GPU (skips without an adapter unless LITEQUANT_REQUIRE_GPU=1)

/// The CPU twin of `shaders/smoke.wgsl`.
fn smoke_cpu(a: &[i32]) -> Vec<i32> {
    a.iter()
        .map(|&x| x.wrapping_mul(2).wrapping_add(1))
        .collect()
}

/// Inputs with the i32 edges first, then a deterministic pseudo-random tail.
fn smoke_input(n: usize) -> Vec<i32> {
    let mut v = vec![
        0,
        1,
        -1,
        2,
        -2,
        i32::MAX,
        i32::MIN,
        i32::MAX / 2 + 1,
        i32::MIN / 2 - 1,
    ];
    let mut s: u32 = 0x1234_5678;
    while v.len() < n {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        v.push(s as i32);
    }
    v.truncate(n);
    v
}

/// Host side of the smoke kernel: upload, dispatch ceil(n / wg) workgroups, read back.
fn smoke_gpu(ctx: &GpuContext, wg: Option<u32>, a: &[i32]) -> litequant::Result<Vec<i32>> {
    let mut key = PipelineKey::new("smoke", "main");
    if let Some(wg) = wg {
        key = key.constant("WG", f64::from(wg));
    }
    let pipeline = ctx.pipeline(&key)?;
    let device = ctx.device();
    let input = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("smoke a"),
        contents: bytemuck::cast_slice(a),
        usage: wgpu::BufferUsages::STORAGE,
    });
    // A sentinel, so that an element the kernel skips shows up.
    let sentinel = vec![0x5a5a_5a5a_i32; a.len()];
    let output = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("smoke out"),
        contents: bytemuck::cast_slice(&sentinel),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("smoke"),
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
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("smoke"),
    });
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("smoke"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        let groups = u32::try_from(a.len())
            .expect("small test")
            .div_ceil(wg.unwrap_or(64));
        pass.dispatch_workgroups(groups, 1, 1);
    }
    ctx.queue().submit([encoder.finish()]);
    let bytes = ctx.read_buffer(&output, std::mem::size_of_val(a) as u64)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn first_mismatch(got: &[i32], want: &[i32]) -> Option<String> {
    if got.len() != want.len() {
        return Some(format!("length {} != {}", got.len(), want.len()));
    }
    got.iter().zip(want).position(|(g, w)| g != w).map(|i| {
        format!(
            "element {i}: gpu {} != cpu {} (input index {i})",
            got[i], want[i]
        )
    })
}

#[test]
fn smoke_kernel_matches_cpu() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("smoke_kernel_matches_cpu")? else {
        return Ok(());
    };
    let info = ctx.info();
    println!(
        "adapter: {:?}, backend: {:?}, type: {:?}, driver: {} {}",
        info.name, info.backend, info.device_type, info.driver, info.driver_info
    );

    // 1000 is not a multiple of 64 nor of 7: the last workgroup is partial.
    let a = smoke_input(1000);
    let want = smoke_cpu(&a);
    for wg in [None, Some(7), Some(1), Some(256)] {
        let got = smoke_gpu(&ctx, wg, &a)?;
        assert_eq!(first_mismatch(&got, &want), None, "workgroup size {wg:?}");
    }
    // One pipeline per distinct key; a repeated key is served from the cache.
    assert_eq!(ctx.cached_pipelines(), 4);
    let got = smoke_gpu(&ctx, Some(7), &a[..13])?;
    assert_eq!(got, smoke_cpu(&a[..13]));
    assert_eq!(ctx.cached_pipelines(), 4);
    Ok(())
}

#[test]
fn shared_device_and_errors_are_reported_not_panicked() -> litequant::Result<()> {
    let Some(ctx) = gpu::context_or_skip("shared_device_and_errors_are_reported_not_panicked")?
    else {
        return Ok(());
    };
    // A caller sharing its own device.
    let shared = GpuContext::with_device(
        ctx.instance().clone(),
        ctx.adapter().clone(),
        ctx.device().clone(),
        ctx.queue().clone(),
    )?;
    assert_eq!(shared.info().name, ctx.info().name);
    let a = smoke_input(65);
    assert_eq!(smoke_gpu(&shared, Some(3), &a)?, smoke_cpu(&a));

    let e = shared
        .pipeline(&PipelineKey::new("smoke", "no_such_entry"))
        .unwrap_err();
    println!("bad entry point: {e}");
    let e = shared
        .pipeline(&PipelineKey::new("no_such_shader", "main"))
        .unwrap_err();
    println!("bad shader: {e}");
    let e = shared
        .pipeline(&PipelineKey::new("smoke", "main").constant("NOT_AN_OVERRIDE", 1.0))
        .unwrap_err();
    println!("bad constant: {e}");

    let not_copyable = shared.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("storage only"),
        size: 16,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    assert!(shared.read_buffer(&not_copyable, 16).is_err());
    let copyable = shared.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("copyable"),
        size: 16,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    assert!(shared.read_buffer(&copyable, 17).is_err());
    assert_eq!(shared.read_buffer(&copyable, 7)?, vec![0u8; 7]);
    Ok(())
}
