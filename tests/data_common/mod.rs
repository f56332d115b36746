//! What the dataset tests share: fixtures, temporary folders, input specs, draining a
//! dataset, slicing samples, error text.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use litequant::data::{Dataset, Sample};
use litequant::model::DType;
use litequant::{Buf, IoSpec, Tensor};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fresh, empty directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("litequant-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn spec(name: &str, sig: Option<&str>, dtype: DType, shape: &[usize]) -> IoSpec {
    IoSpec {
        tensor: 0,
        name: name.to_string(),
        signature_name: sig.map(str::to_string),
        dtype,
        shape: shape.to_vec(),
        dynamic: vec![false; shape.len()],
        quant: None,
    }
}

pub fn collect(mut ds: impl Dataset) -> Vec<Sample> {
    let mut out = Vec::new();
    while let Some(s) = ds.next_sample() {
        out.push(s.unwrap());
    }
    out
}

/// Sample `i` of a whole array (leading axis), with `shape`.
pub fn slice(whole: &Tensor, i: usize, shape: &[usize]) -> Tensor {
    let per: usize = whole.shape()[1..].iter().product();
    let bytes = whole.buf().to_le_bytes();
    let size = bytes.len() / whole.len();
    let buf =
        Buf::from_le_bytes(whole.dtype(), &bytes[i * per * size..(i + 1) * per * size]).unwrap();
    Tensor::new(shape, buf).unwrap()
}

pub fn err_of<T>(r: litequant::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}
