//! Image-folder datasets: decoded, resized, normalised, quantized; their errors.

use litequant::data::{Dataset, ImageDirDataset, ImageOptions};
use litequant::model::DType;

mod data_common;
use data_common::{collect, err_of, spec, temp_dir};

// ------------------------------------------------------------------------------- images

fn rgb_image(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)))
}

#[test]
fn images_are_decoded_resized_and_normalised() {
    let dir = temp_dir("images");
    // 3×2 RGB, the input's size: no resize; values by hand.
    let small = rgb_image(3, 2, |x, y| {
        [(10 * x + y) as u8, 100 + x as u8, 255 - y as u8]
    });
    small.save(dir.join("b_small.png")).unwrap();
    // 7×5 RGB, resized to 3×2 with the Triangle filter.
    let big = rgb_image(7, 5, |x, y| {
        [(30 * x) as u8, (40 * y) as u8, (x * y * 7) as u8]
    });
    big.save(dir.join("c_big.PNG")).unwrap();
    // A uniform JPEG (lossy: decoded values compared with the image crate's own decode).
    rgb_image(16, 16, |_, _| [200, 50, 90])
        .save(dir.join("a_flat.jpg"))
        .unwrap();
    std::fs::write(dir.join("notes.txt"), "not an image").unwrap();
    std::fs::write(dir.join("labels.csv"), "1,2").unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();

    let input = spec("in", Some("image"), DType::F32, &[1, 2, 3, 3]);
    let opts = ImageOptions {
        scale: 1.0 / 255.0,
        mean: vec![0.5, 0.4, 0.3],
        std: vec![0.25],
    };
    let ds = ImageDirDataset::open(&dir, &input, &opts).unwrap();
    assert_eq!(ds.len(), 3);
    assert_eq!(ds.skipped(), 2);
    let names: Vec<String> = ds
        .files()
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a_flat.jpg", "b_small.png", "c_big.PNG"]);
    let s = collect(ds);
    assert_eq!(s.len(), 3);
    let norm = |pixels: &[u8]| -> Vec<f32> {
        pixels
            .iter()
            .enumerate()
            .map(|(i, &p)| (p as f32 * (1.0 / 255.0) - [0.5, 0.4, 0.3][i % 3]) / 0.25)
            .collect()
    };
    // JPEG: against the decoder, and near the colour written.
    let jpeg = image::open(dir.join("a_flat.jpg")).unwrap().to_rgb8();
    let jpeg = image::imageops::resize(&jpeg, 3, 2, image::imageops::FilterType::Triangle);
    assert_eq!(s[0][0].1.as_f32().unwrap(), norm(jpeg.as_raw()).as_slice());
    for px in jpeg.pixels() {
        for (got, want) in px.0.iter().zip([200u8, 50, 90]) {
            assert!(got.abs_diff(want) <= 3, "{:?}", px.0);
        }
    }
    // Same size: exactly the formula.
    let t = &s[1][0].1;
    assert_eq!(s[1][0].0, None);
    assert_eq!(t.shape(), &[1, 2, 3, 3]);
    let want: Vec<f32> = norm(small.as_raw());
    assert_eq!(t.as_f32().unwrap(), want.as_slice());
    // e.g. pixel (x=2, y=1): [21, 102, 254]
    let at = (3 + 2) * 3;
    assert_eq!(
        &t.as_f32().unwrap()[at..at + 3],
        &[
            (21.0 * (1.0 / 255.0) - 0.5) / 0.25,
            (102.0 * (1.0 / 255.0) - 0.4) / 0.25,
            (254.0 * (1.0 / 255.0) - 0.3) / 0.25
        ]
    );
    // Resized: the Triangle filter's 8-bit result, normalised.
    let resized = image::imageops::resize(&big, 3, 2, image::imageops::FilterType::Triangle);
    assert_eq!(
        s[2][0].1.as_f32().unwrap(),
        norm(resized.as_raw()).as_slice()
    );
    // A uniform image stays uniform through the resize.
    let flat = rgb_image(9, 4, |_, _| [17, 34, 51]);
    flat.save(dir.join("d_flat.png")).unwrap();
    let ds = ImageDirDataset::open(&dir, &input, &opts).unwrap();
    let t = ds.load(&dir.join("d_flat.png")).unwrap();
    assert_eq!(
        t.as_f32().unwrap(),
        norm(&[17, 34, 51].repeat(6)).as_slice()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn images_grayscale_and_quantized_inputs() {
    let dir = temp_dir("images-gray");
    let g = image::GrayImage::from_fn(4, 3, |x, y| image::Luma([(x * 60 + y) as u8]));
    g.save(dir.join("g.png")).unwrap();
    // Default options: x = p / 255.
    let input = spec("in", None, DType::F32, &[3, 4, 1]);
    let ds = ImageDirDataset::open(&dir, &input, &ImageOptions::default()).unwrap();
    let t = collect(ds).remove(0).remove(0).1;
    assert_eq!(t.shape(), &[3, 4, 1]);
    let want: Vec<f32> = g
        .as_raw()
        .iter()
        .map(|&p| p as f32 * (1.0 / 255.0))
        .collect();
    assert_eq!(t.as_f32().unwrap(), want.as_slice());

    // int8 input, scale 1/255... as the converter gives a [0, 1] input: q = round(x/s) + zp.
    let mut q = spec("in", None, DType::I8, &[1, 3, 4, 1]);
    q.quant = Some((1.0 / 255.0, -128));
    let t = collect(ImageDirDataset::open(&dir, &q, &ImageOptions::default()).unwrap())
        .remove(0)
        .remove(0)
        .1;
    let want: Vec<i8> = want
        .iter()
        .map(|&x| ((x / (1.0 / 255.0)).round() - 128.0).clamp(-128.0, 127.0) as i8)
        .collect();
    assert_eq!(t.as_i8().unwrap(), want.as_slice());
    assert_eq!(t.as_i8().unwrap()[1], -68); // pixel 60
                                            // uint8 input, mean/std: x = (p/255 - 0.5) / 0.5 in [-1, 1]; s = 2/255, zp 128.
    let mut u = spec("in", None, DType::U8, &[1, 3, 4, 1]);
    u.quant = Some((2.0 / 255.0, 128));
    let opts = ImageOptions {
        mean: vec![0.5],
        std: vec![0.5],
        ..Default::default()
    };
    let t = collect(ImageDirDataset::open(&dir, &u, &opts).unwrap())
        .remove(0)
        .remove(0)
        .1;
    let want: Vec<u8> = g
        .as_raw()
        .iter()
        .map(|&p| {
            let x = (p as f32 * (1.0 / 255.0) - 0.5) / 0.5;
            ((x / (2.0 / 255.0)).round() + 128.0).clamp(0.0, 255.0) as u8
        })
        .collect();
    assert_eq!(t.as_u8().unwrap(), want.as_slice());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn images_errors() {
    let dir = temp_dir("images-bad");
    let input = spec("in", Some("image"), DType::F32, &[1, 4, 4, 3]);
    let o = ImageOptions::default();
    // empty directory, with the skipped count
    std::fs::write(dir.join("readme.md"), "x").unwrap();
    let e = err_of(ImageDirDataset::open(&dir, &input, &o));
    assert!(e.contains("empty") && e.contains("1 other file"), "{e}");
    // missing directory
    assert!(err_of(ImageDirDataset::open(dir.join("nope"), &input, &o)).contains("nope"));
    // an unreadable image names the file, after the good ones
    rgb_image(4, 4, |_, _| [1, 2, 3])
        .save(dir.join("a.png"))
        .unwrap();
    std::fs::write(dir.join("b.png"), b"\x89PNG\r\n\x1a\n broken").unwrap();
    let mut ds = ImageDirDataset::open(&dir, &input, &o).unwrap();
    assert!(ds.next_sample().unwrap().is_ok());
    let e = ds.next_sample().unwrap().unwrap_err().to_string();
    assert!(e.contains("b.png"), "{e}");
    assert!(ds.next_sample().is_none());
    // inputs that are not image inputs
    for (dtype, shape, want) in [
        (DType::F32, &[1, 4, 4, 2][..], "C = 1"),
        (DType::F32, &[2, 4, 4, 3], "[2, 4, 4, 3]"),
        (DType::F32, &[1, 48], "[1, 48]"),
        (DType::I32, &[1, 4, 4, 3], "INT32"),
        (DType::I8, &[1, 4, 4, 3], "quantization"),
    ] {
        let e = err_of(ImageDirDataset::open(
            &dir,
            &spec("in", None, dtype, shape),
            &o,
        ));
        assert!(e.contains(want), "{e}");
    }
    // options that do not fit
    let bad = |mean: Vec<f32>, std: Vec<f32>| {
        err_of(ImageDirDataset::open(
            &dir,
            &input,
            &ImageOptions {
                scale: 1.0,
                mean,
                std,
            },
        ))
    };
    assert!(bad(vec![0.0, 1.0], vec![1.0]).contains("mean has 2 values"));
    assert!(bad(vec![0.0], vec![1.0, 0.0, 1.0]).contains("zero"));
    assert!(bad(vec![f32::NAN], vec![1.0]).contains("not finite"));
    let _ = std::fs::remove_dir_all(&dir);
}
