//! Calibration/evaluation datasets: `.npy` and `.npz` (stored and deflate), streamed sample
//! by sample, and their errors; `data::open` and `max_samples` (images: tests/data_images.rs).

use std::io::Write;
use std::path::Path;

use litequant::data::{
    self, npy_bytes, read_npy_file, Dataset, ImageOptions, NpyDataset, Npz, NpzDataset,
};
use litequant::model::DType;
use litequant::Tensor;

mod data_common;
use data_common::{collect, err_of, fixture, slice, spec, temp_dir};

// ---------------------------------------------------------------------------------- .npy

#[test]
fn npy_samples_are_the_slices_of_the_calibration_fixture() {
    let path = fixture("digits_calib.npy");
    let whole = read_npy_file(&path).unwrap();
    assert_eq!(whole.shape(), &[100, 8, 8, 1]);
    let mut ds = NpyDataset::open(&path).unwrap();
    assert_eq!(ds.len(), 100);
    assert_eq!(ds.len_hint(), Some(100));
    assert_eq!(ds.array_shape(), &[100, 8, 8, 1]);
    assert_eq!(ds.sample_shape(), &[1, 8, 8, 1]);
    let mut n = 0;
    while let Some(s) = ds.next_sample() {
        let s = s.unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, None);
        assert_eq!(s[0].1, slice(&whole, n, &[1, 8, 8, 1]), "sample {n}");
        n += 1;
    }
    assert_eq!(n, 100);
    assert!(ds.next_sample().is_none());
    ds.rewind().unwrap();
    let first = ds.next_sample().unwrap().unwrap();
    assert_eq!(first[0].1, slice(&whole, 0, &[1, 8, 8, 1]));
}

#[test]
fn npy_fits_the_input_shape() {
    let path = fixture("digits_calib.npy");
    let whole = read_npy_file(&path).unwrap();
    for shape in [&[1, 8, 8, 1][..], &[8, 8, 1], &[1, 64], &[64]] {
        let ds = NpyDataset::open(&path)
            .unwrap()
            .with_input_shape(shape)
            .unwrap();
        assert_eq!(ds.sample_shape(), shape);
        let s = collect(ds);
        assert_eq!(s.len(), 100);
        assert_eq!(s[7][0].1, slice(&whole, 7, shape));
    }
    let e = err_of(
        NpyDataset::open(&path)
            .unwrap()
            .with_input_shape(&[1, 1, 8, 8]),
    );
    assert!(
        e.contains("digits_calib.npy")
            && e.contains("[8, 8, 1]")
            && e.contains("[1, 1, 8, 8]")
            && e.contains("[N, 1, 8, 8]"),
        "{e}"
    );
    let e = err_of(NpyDataset::open(&path).unwrap().with_input_shape(&[1, 63]));
    assert!(e.contains("[1, 63]"), "{e}");
}

/// A `.npy` of raw little-endian data (any dtype code).
fn raw_npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn npy_dtypes_float64_int8_uint8_and_quantized_inputs() {
    let dir = temp_dir("npy-dtypes");
    // float64 → float32
    let vals = [0.5f64, -1.25, 1e-3, f64::NAN, f64::INFINITY, 3.0];
    let data: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let p = dir.join("f8.npy");
    std::fs::write(&p, raw_npy("<f8", "(3, 2)", &data)).unwrap();
    let s = collect(NpyDataset::open(&p).unwrap());
    assert_eq!(s.len(), 3);
    let got: Vec<f32> = s
        .iter()
        .flat_map(|s| s[0].1.as_f32().unwrap().to_vec())
        .collect();
    assert_eq!(got[..3], [0.5, -1.25, 1e-3f64 as f32]);
    assert!(
        got[3].is_nan() && got[4] == f32::INFINITY,
        "NaN/Inf pass through"
    );
    assert_eq!(s[0][0].1.shape(), &[1, 2]);

    // int8 and uint8 pass through, also into inputs of their dtype
    let p = dir.join("i1.npy");
    std::fs::write(
        &p,
        npy_bytes(&Tensor::from_i8(&[2, 2], &[-128, 1, 2, 127]).unwrap()),
    )
    .unwrap();
    let i8_in = spec("q", None, DType::I8, &[1, 2]);
    let s = collect(NpyDataset::open(&p).unwrap().with_input(&i8_in).unwrap());
    assert_eq!(s[1][0].1, Tensor::from_i8(&[1, 2], &[2, 127]).unwrap());
    let p = dir.join("u1.npy");
    std::fs::write(
        &p,
        npy_bytes(&Tensor::from_u8(&[2, 2], &[0, 1, 254, 255]).unwrap()),
    )
    .unwrap();
    let s = collect(NpyDataset::open(&p).unwrap());
    assert_eq!(s[1][0].1, Tensor::from_u8(&[1, 2], &[254, 255]).unwrap());

    // uint8 data for an int8 input: wrong dtype
    let e = err_of(NpyDataset::open(&p).unwrap().with_input(&i8_in));
    assert!(
        e.contains("UINT8") && e.contains("INT8") && e.contains("'q'"),
        "{e}"
    );
    // float data for a float input
    let f = dir.join("f4.npy");
    std::fs::write(
        &f,
        npy_bytes(&Tensor::from_f32(&[2, 2], &[0.0, 0.25, -0.3, 9.0]).unwrap()),
    )
    .unwrap();
    let e = err_of(NpyDataset::open(&p).unwrap().with_input(&spec(
        "f",
        Some("image"),
        DType::F32,
        &[1, 2],
    )));
    assert!(e.contains("'image'") && e.contains("FLOAT32"), "{e}");
    // float data for an int8 input without quantization parameters
    let e = err_of(NpyDataset::open(&f).unwrap().with_input(&i8_in));
    assert!(e.contains("quantization"), "{e}");
    // ... and with them: quantized as TFLite's QUANTIZE (round half away from zero)
    let mut q = i8_in.clone();
    q.quant = Some((0.5, -3));
    let s = collect(NpyDataset::open(&f).unwrap().with_input(&q).unwrap());
    assert_eq!(s[0][0].1, Tensor::from_i8(&[1, 2], &[-3, -2]).unwrap()); // 0.25/0.5 = 0.5 → 1
    assert_eq!(s[1][0].1, Tensor::from_i8(&[1, 2], &[-4, 15]).unwrap()); // -0.6 → -1
    let mut u = spec("u", None, DType::U8, &[1, 2]);
    u.quant = Some((0.5, 125));
    let s = collect(NpyDataset::open(&f).unwrap().with_input(&u).unwrap());
    assert_eq!(s[1][0].1, Tensor::from_u8(&[1, 2], &[124, 143]).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn npy_malformed_files_are_clear_errors() {
    let dir = temp_dir("npy-bad");
    let t = Tensor::from_f32(&[3, 2, 2], &[1.0; 12]).unwrap();
    let bytes = npy_bytes(&t);

    let p = dir.join("truncated.npy");
    std::fs::write(&p, &bytes[..bytes.len() - 20]).unwrap();
    let e = err_of(NpyDataset::open(&p));
    assert!(
        e.contains("truncated.npy") && e.contains("truncated") && e.contains("1 whole samples"),
        "{e}"
    );

    let p = dir.join("empty.npy");
    std::fs::write(
        &p,
        npy_bytes(&Tensor::from_f32(&[0, 8, 8, 1], &[]).unwrap()),
    )
    .unwrap();
    let e = err_of(NpyDataset::open(&p));
    assert!(
        e.contains("empty.npy") && e.contains("empty") && e.contains("0 samples"),
        "{e}"
    );

    let p = dir.join("scalar.npy");
    std::fs::write(&p, npy_bytes(&Tensor::from_f32(&[], &[1.0]).unwrap())).unwrap();
    assert!(err_of(NpyDataset::open(&p)).contains("scalar"));

    let p = dir.join("noelems.npy");
    std::fs::write(&p, npy_bytes(&Tensor::from_f32(&[4, 0], &[]).unwrap())).unwrap();
    assert!(err_of(NpyDataset::open(&p)).contains("no elements"));

    let p = dir.join("dtype.npy");
    std::fs::write(&p, raw_npy("<c8", "(2, 2)", &[0; 32])).unwrap();
    let e = err_of(NpyDataset::open(&p));
    assert!(e.contains("dtype.npy") && e.contains("<c8"), "{e}");

    let p = dir.join("garbage.npy");
    std::fs::write(&p, b"hello, world").unwrap();
    assert!(err_of(NpyDataset::open(&p)).contains("garbage.npy"));

    let e = err_of(NpyDataset::open(dir.join("missing.npy")));
    assert!(e.contains("missing.npy"), "{e}");

    // The file shrinks after opening (larger than the read buffer): the sample that cannot be
    // read is named, then the dataset ends.
    let big = npy_bytes(&Tensor::from_f32(&[3000, 2, 2], &[1.0; 12000]).unwrap());
    let p = dir.join("shrinks.npy");
    std::fs::write(&p, &big).unwrap();
    let mut ds = NpyDataset::open(&p).unwrap();
    std::fs::write(&p, &big[..big.len() - 20]).unwrap();
    let mut ok = 0;
    let e = loop {
        match ds.next_sample().unwrap() {
            Ok(_) => ok += 1,
            Err(e) => break e.to_string(),
        }
    };
    assert_eq!(ok, 2998);
    assert!(
        e.contains("shrinks.npy: sample 2998") && e.contains("truncated"),
        "{e}"
    );
    assert!(ds.next_sample().is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------- .npz

#[test]
fn npz_holdout_fixture_deflate_streams_every_array() {
    let path = fixture("digits_holdout.npz");
    let mut npz = Npz::open(&path).unwrap();
    let x = npz.read("x").unwrap();
    let y = npz.read("y").unwrap();
    assert_eq!(x.shape(), &[200, 8, 8, 1]);

    let ds = NpzDataset::open(&path).unwrap();
    assert_eq!(ds.len(), 200);
    assert_eq!(ds.arrays(), vec![("x", Some("x")), ("y", Some("y"))]);
    assert_eq!(ds.sample_shapes(), vec![&[1, 8, 8, 1][..], &[1][..]]);
    let s = collect(ds);
    assert_eq!(s.len(), 200);
    for (i, s) in s.iter().enumerate() {
        assert_eq!(s[0], (Some("x".to_string()), slice(&x, i, &[1, 8, 8, 1])));
        assert_eq!(s[1], (Some("y".to_string()), slice(&y, i, &[1])));
    }

    let s = collect(NpzDataset::open_arrays(&path, &["x"]).unwrap());
    assert_eq!(s.len(), 200);
    assert_eq!(s[199].len(), 1);
    assert_eq!(s[199][0].1, slice(&x, 199, &[1, 8, 8, 1]));

    // For a model input named 'image': the single-input fallback picks 'x', positional.
    let input = spec(
        "serving_default_image:0",
        Some("image"),
        DType::F32,
        &[1, 8, 8, 1],
    );
    let ds = NpzDataset::for_inputs(&path, std::slice::from_ref(&input)).unwrap();
    assert_eq!(ds.arrays(), vec![("x", None)]);
    let s = collect(ds);
    assert_eq!(s[3], vec![(None, slice(&x, 3, &[1, 8, 8, 1]))]);
    // ... and binds to the model's input.
    let bound = litequant::bind_inputs(std::slice::from_ref(&input), s[3].clone()).unwrap();
    assert_eq!(bound[0], slice(&x, 3, &[1, 8, 8, 1]));

    let e = err_of(NpzDataset::open_arrays(&path, &["x", "z"]));
    assert!(e.contains("'z'") && e.contains("x, y"), "{e}");
}

/// An archive written entry by entry with the given compression.
fn write_zip(path: &Path, entries: &[(&str, &Tensor)], method: zip::CompressionMethod) {
    let f = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(f);
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, t) in entries {
        zip.start_file(format!("{name}.npy"), options).unwrap();
        zip.write_all(&npy_bytes(t)).unwrap();
    }
    zip.finish().unwrap();
}

fn ramp(shape: &[usize], k: f32) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_f32(shape, &(0..n).map(|i| i as f32 * k).collect::<Vec<_>>()).unwrap()
}

#[test]
fn npz_stored_and_deflate_entries_stream_the_same() {
    let dir = temp_dir("npz");
    let a = ramp(&[37, 3, 5], 0.5);
    let b = Tensor::from_i8(
        &[37, 2],
        &(0..74).map(|i| (i - 37) as i8).collect::<Vec<_>>(),
    )
    .unwrap();
    let c = ramp(&[37, 4], -1.0);
    let stored = dir.join("stored.npz");
    data::write_npz(
        &stored,
        &[
            ("input_1".to_string(), c.clone()),
            ("a".to_string(), a.clone()),
            ("input_0".to_string(), b.clone()),
        ],
    )
    .unwrap();
    let deflated = dir.join("deflated.npz");
    write_zip(
        &deflated,
        &[("input_1", &c), ("a", &a), ("input_0", &b)],
        zip::CompressionMethod::Deflated,
    );
    assert!(
        std::fs::metadata(&deflated).unwrap().len() < std::fs::metadata(&stored).unwrap().len()
    );
    for path in [&stored, &deflated] {
        let ds = NpzDataset::open(path).unwrap();
        // named first, then positional in the order of N
        assert_eq!(
            ds.arrays(),
            vec![("a", Some("a")), ("input_0", None), ("input_1", None)]
        );
        let s = collect(ds);
        assert_eq!(s.len(), 37);
        for (i, s) in s.iter().enumerate() {
            assert_eq!(s[0], (Some("a".to_string()), slice(&a, i, &[1, 3, 5])));
            assert_eq!(s[1], (None, slice(&b, i, &[1, 2])));
            assert_eq!(s[2], (None, slice(&c, i, &[1, 4])));
        }
        // rewind reopens the streams
        let mut ds = NpzDataset::open(path).unwrap();
        for _ in 0..5 {
            ds.next_sample().unwrap().unwrap();
        }
        ds.rewind().unwrap();
        assert_eq!(
            ds.next_sample().unwrap().unwrap()[2].1,
            slice(&c, 0, &[1, 4])
        );

        // for_inputs: by signature name, tensor name, input_i; fitted to shape and dtype
        let mut qi = spec("t_b", None, DType::I8, &[2]);
        qi.quant = Some((1.0, 0));
        // Input 0 is found as 'input_0' (b: [37, 2] int8), which does not fit [1, 4].
        let inputs = [
            spec("t_c", None, DType::F32, &[1, 4]),
            qi,
            spec("t_a", Some("a"), DType::F32, &[1, 15]),
        ];
        let e = err_of(NpzDataset::for_inputs(path, &inputs));
        assert!(e.contains("input_0") && e.contains("[1, 4]"), "{e}");
        let inputs = [
            spec("t_b", None, DType::I8, &[1, 2]),
            spec("t_c", None, DType::F32, &[4]),
            spec("t_a", Some("a"), DType::F32, &[1, 15]),
        ];
        let ds = NpzDataset::for_inputs(path, &inputs).unwrap();
        assert_eq!(
            ds.arrays(),
            vec![("input_0", None), ("input_1", None), ("a", None)]
        );
        let s = collect(ds);
        assert_eq!(s[36][0].1, slice(&b, 36, &[1, 2]));
        assert_eq!(s[36][1].1, slice(&c, 36, &[4]));
        assert_eq!(s[36][2].1, slice(&a, 36, &[1, 15]));
        let bound = litequant::bind_inputs(&inputs, s[36].clone()).unwrap();
        assert_eq!(bound[2], slice(&a, 36, &[1, 15]));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn npz_malformed_archives_are_clear_errors() {
    let dir = temp_dir("npz-bad");
    // different sample counts, named
    let p = dir.join("counts.npz");
    data::write_npz(
        &p,
        &[
            ("x".to_string(), ramp(&[10, 2], 1.0)),
            ("y".to_string(), ramp(&[9], 1.0)),
        ],
    )
    .unwrap();
    let e = err_of(NpzDataset::open(&p));
    assert!(
        e.contains("counts.npz") && e.contains("'x' has 10") && e.contains("'y' has 9"),
        "{e}"
    );
    // no arrays
    let p = dir.join("none.npz");
    data::write_npz(&p, &[]).unwrap();
    assert!(err_of(NpzDataset::open(&p)).contains("empty"));
    // an array of 0 samples
    let p = dir.join("zero.npz");
    data::write_npz(&p, &[("x".to_string(), ramp(&[0, 3], 1.0))]).unwrap();
    let e = err_of(NpzDataset::open(&p));
    assert!(
        e.contains("zero.npz['x']") && e.contains("0 samples"),
        "{e}"
    );
    // no array for an input
    let p = dir.join("names.npz");
    data::write_npz(
        &p,
        &[
            ("a".to_string(), ramp(&[2, 3], 1.0)),
            ("b".to_string(), ramp(&[2, 3], 1.0)),
        ],
    )
    .unwrap();
    let e = err_of(NpzDataset::for_inputs(
        &p,
        &[spec("t", Some("image"), DType::F32, &[1, 3])],
    ));
    assert!(e.contains("'image'") && e.contains("arrays: a, b"), "{e}");
    // not a zip
    let p = dir.join("garbage.npz");
    std::fs::write(&p, b"PK not really").unwrap();
    assert!(err_of(NpzDataset::open(&p)).contains("garbage.npz"));
    // an entry whose npy data is shorter than its header says
    let p = dir.join("short.npz");
    let t = ramp(&[4, 3], 1.0);
    let bytes = npy_bytes(&t);
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("x.npy", o).unwrap();
        zip.write_all(&bytes[..bytes.len() - 5]).unwrap();
        zip.finish().unwrap();
    }
    let e = err_of(NpzDataset::open(&p));
    assert!(
        e.contains("short.npz['x']") && e.contains("truncated"),
        "{e}"
    );
    // a corrupted stored entry: the CRC check fails when the last sample is read
    let p = dir.join("corrupt.npz");
    data::write_npz(&p, &[("x".to_string(), t.clone())]).unwrap();
    let mut raw = std::fs::read(&p).unwrap();
    let at = raw
        .windows(4)
        .position(|w| w == 5.0f32.to_le_bytes())
        .unwrap();
    raw[at] ^= 1;
    std::fs::write(&p, &raw).unwrap();
    let mut ds = NpzDataset::open(&p).unwrap();
    let mut errs = Vec::new();
    while let Some(s) = ds.next_sample() {
        if let Err(e) = s {
            errs.push(e.to_string());
        }
    }
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("corrupt.npz['x']: sample 3") && errs[0].contains("CRC"),
        "{errs:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// -------------------------------------------------------------------- open, max_samples

#[test]
fn open_chooses_by_path_and_max_samples_limits() {
    let dir = temp_dir("open");
    let input = spec(
        "serving_default_image:0",
        Some("image"),
        DType::F32,
        &[1, 8, 8, 1],
    );
    let calib = fixture("digits_calib.npy");
    let o = ImageOptions::default();
    let ds = data::open(&calib, std::slice::from_ref(&input), &o).unwrap();
    assert_eq!(ds.len_hint(), Some(100));
    assert_eq!(collect(ds.max_samples(7)).len(), 7);
    let ds = data::open(
        fixture("digits_holdout.npz"),
        std::slice::from_ref(&input),
        &o,
    )
    .unwrap();
    let ds = ds.max_samples(500);
    assert_eq!(ds.len_hint(), Some(200));
    assert_eq!(collect(ds).len(), 200);
    image::GrayImage::from_fn(8, 8, |x, _| image::Luma([x as u8]))
        .save(dir.join("one.png"))
        .unwrap();
    let ds = data::open(&dir, std::slice::from_ref(&input), &o).unwrap();
    assert_eq!(collect(ds)[0][0].1.shape(), &[1, 8, 8, 1]);
    // the MLP's input [1, 64] takes the same file, flattened
    let mlp = spec("x", None, DType::F32, &[1, 64]);
    let ds = data::open(&calib, std::slice::from_ref(&mlp), &o).unwrap();
    assert_eq!(collect(ds)[0][0].1.shape(), &[1, 64]);
    // errors
    let e = err_of(data::open(&calib, &[input.clone(), mlp], &o));
    assert!(e.contains("2 inputs") && e.contains(".npz"), "{e}");
    let e = err_of(data::open(dir.join("one.png"), &[input], &o));
    assert!(e.contains("not a dataset"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
