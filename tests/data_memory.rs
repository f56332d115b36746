//! Streaming datasets hold one sample at a time: the peak of live heap bytes while reading
//! every sample does not grow with the number of samples. Measured with a counting global
//! allocator, so this test binary holds this one test only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use litequant::data::{npy_bytes, Dataset, NpyDataset, NpzDataset};
use litequant::Tensor;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                let now = LIVE.fetch_add(new - l.size(), Relaxed) + (new - l.size());
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Write a `.npy` of `n` samples of 8×8×1 float32 without holding it in memory.
fn write_npy(path: &Path, n: usize) {
    let header = npy_bytes(&Tensor::from_f32(&[n, 8, 8, 1], &vec![0.0; n * 64]).unwrap());
    let header = &header[..header.len() - n * 64 * 4];
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(header).unwrap();
    for i in 0..n * 64 {
        f.write_all(&((i % 977) as f32 * 0.25).to_le_bytes())
            .unwrap();
    }
    f.flush().unwrap();
}

/// Write a deflate `.npz` with arrays x (`n`×8×8×1 float32) and y (`n` int64).
fn write_npz(path: &Path, n: usize) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    let x = Tensor::from_f32(
        &[n, 8, 8, 1],
        &(0..n * 64).map(|i| (i % 977) as f32).collect::<Vec<_>>(),
    )
    .unwrap();
    zip.start_file("x.npy", o).unwrap();
    zip.write_all(&npy_bytes(&x)).unwrap();
    drop(x);
    let y = Tensor::new(&[n], litequant::Buf::I64((0..n as i64).collect())).unwrap();
    zip.start_file("y.npy", o).unwrap();
    zip.write_all(&npy_bytes(&y)).unwrap();
    zip.finish().unwrap();
}

/// Peak live heap bytes above the level at the start, while opening and reading every sample.
fn peak_while_streaming(mut ds: impl Dataset, n: usize) -> usize {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let mut count = 0;
    let mut sum = 0.0f64;
    while let Some(s) = ds.next_sample() {
        let s = s.unwrap();
        sum += s[0].1.as_f32().unwrap()[0] as f64;
        count += 1;
    }
    assert_eq!(count, n);
    assert!(sum > 0.0);
    drop(ds);
    PEAK.load(Relaxed) - base
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("litequant-mem-{}-{name}", std::process::id()))
}

#[test]
fn peak_memory_does_not_grow_with_the_number_of_samples() {
    let mut report = Vec::new();
    let mut npy_peaks = Vec::new();
    let mut npz_peaks = Vec::new();
    for n in [2_000usize, 20_000] {
        let p = temp(&format!("{n}.npy"));
        write_npy(&p, n);
        let base = LIVE.load(Relaxed);
        PEAK.store(base, Relaxed);
        let ds = NpyDataset::open(&p).unwrap();
        let open_peak = PEAK.load(Relaxed) - base;
        let peak = peak_while_streaming(ds, n).max(open_peak);
        report.push(format!(
            ".npy {n} samples ({} KiB of data): peak {peak} B",
            n * 256 / 1024
        ));
        npy_peaks.push(peak);
        std::fs::remove_file(&p).unwrap();

        let p = temp(&format!("{n}.npz"));
        write_npz(&p, n);
        let base = LIVE.load(Relaxed);
        PEAK.store(base, Relaxed);
        let ds = NpzDataset::open(&p).unwrap();
        let open_peak = PEAK.load(Relaxed) - base;
        let peak = peak_while_streaming(ds, n).max(open_peak);
        report.push(format!(
            ".npz (deflate) {n} samples ({} KiB of data): peak {peak} B",
            n * 264 / 1024
        ));
        npz_peaks.push(peak);
        std::fs::remove_file(&p).unwrap();
    }
    eprintln!("{}", report.join("\n"));
    // 10× the samples, the same peak (give or take the longer file name): one sample and
    // fixed buffers per stream, far below the 5 MB a whole 20,000-sample array would take.
    assert!(npy_peaks[1] <= npy_peaks[0] + 1024, "{report:?}");
    assert!(npy_peaks[1] < 64 * 1024, "{report:?}");
    assert!(npz_peaks[1] <= npz_peaks[0] + 1024, "{report:?}");
    assert!(npz_peaks[1] < 512 * 1024, "{report:?}");
}
