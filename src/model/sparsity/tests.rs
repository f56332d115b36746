use super::*;
use crate::model::{DType, DimensionMetadata};

fn dense(n: i32) -> DimensionMetadata {
    DimensionMetadata {
        format: DENSE,
        dense_size: n,
        ..Default::default()
    }
}

fn csr(segments: SegmentArray, indices: SegmentArray) -> DimensionMetadata {
    DimensionMetadata {
        format: SPARSE_CSR,
        dense_size: 0,
        array_segments: Some(segments),
        array_indices: Some(indices),
    }
}

fn tensor_f32(shape: Vec<i32>, sparsity: Sparsity, values: &[f32]) -> Tensor {
    let mut t = Tensor::new("w", DType::F32, shape);
    t.data = Some(values.iter().flat_map(|v| v.to_le_bytes()).collect());
    t.sparsity = Some(sparsity);
    t
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A 4x4 matrix, rows dense, columns compressed (CSR).
#[test]
fn csr_matrix_expands_row_by_row() {
    let s = Sparsity {
        traversal_order: vec![0, 1],
        block_map: vec![],
        dim_metadata: vec![
            dense(4),
            csr(
                SegmentArray::U8(vec![0, 3, 3, 4, 5]),
                SegmentArray::U16(vec![0, 2, 3, 0, 3]),
            ),
        ],
    };
    let t = tensor_f32(vec![4, 4], s, &[6., 9., 8., 5., 7.]);
    #[rustfmt::skip]
    let want = [6., 0., 9., 8., 0., 0., 0., 0., 5., 0., 0., 0., 0., 0., 0., 7.];
    assert_eq!(floats(&densify(&t).unwrap()), want);
}

/// A 2x8 matrix with 1x4 blocks along the columns (the converter's FULLY_CONNECTED layout):
/// rows dense, block columns compressed, the 4 values of a block dense.
#[test]
fn one_by_four_blocks_expand_in_place() {
    let s = Sparsity {
        traversal_order: vec![0, 1, 2],
        block_map: vec![1],
        dim_metadata: vec![
            dense(2),
            csr(
                SegmentArray::I32(vec![0, 1, 2]),
                SegmentArray::I32(vec![1, 0]),
            ),
            dense(4),
        ],
    };
    let t = tensor_f32(vec![2, 8], s, &[1., 2., 3., 4., 5., 6., 7., 8.]);
    #[rustfmt::skip]
    let want = [0., 0., 0., 0., 1., 2., 3., 4.,
                5., 6., 7., 8., 0., 0., 0., 0.];
    assert_eq!(floats(&densify(&t).unwrap()), want);
}

/// Columns traversed first: a column-major CSC layout of a 3x2 matrix.
#[test]
fn traversal_order_permutes_the_dimensions() {
    let s = Sparsity {
        traversal_order: vec![1, 0],
        block_map: vec![],
        dim_metadata: vec![
            dense(2),
            csr(
                SegmentArray::U8(vec![0, 2, 3]),
                SegmentArray::U8(vec![0, 2, 1]),
            ),
        ],
    };
    let t = tensor_f32(vec![3, 2], s, &[1., 2., 3.]);
    assert_eq!(floats(&densify(&t).unwrap()), [1., 0., 0., 3., 2., 0.]);
}

/// An int8 tensor densifies byte for byte, all levels dense (stored in full).
#[test]
fn all_dense_levels_copy_the_data() {
    let s = Sparsity {
        traversal_order: vec![0, 1],
        block_map: vec![],
        dim_metadata: vec![dense(2), dense(3)],
    };
    let mut t = Tensor::new("q", DType::I8, vec![2, 3]);
    t.data = Some(vec![1u8, 2, 3, 4, 5, 0xff].into());
    t.sparsity = Some(s);
    assert_eq!(densify(&t).unwrap(), vec![1u8, 2, 3, 4, 5, 0xff]);
}

fn refused(shape: Vec<i32>, s: Sparsity, values: &[f32]) -> String {
    let t = tensor_f32(shape, s, values);
    let e = densify(&t).unwrap_err();
    assert!(e.contains("'w'"), "names the tensor: {e}");
    e
}

#[test]
fn metadata_litert_refuses_is_refused_with_the_reason() {
    let good = || Sparsity {
        traversal_order: vec![0, 1],
        block_map: vec![],
        dim_metadata: vec![
            dense(2),
            csr(
                SegmentArray::U8(vec![0, 1, 2]),
                SegmentArray::U8(vec![1, 0]),
            ),
        ],
    };
    assert!(densify(&tensor_f32(vec![2, 2], good(), &[1., 2.])).is_ok());
    let mut s = good();
    s.traversal_order = vec![1, 1];
    assert!(refused(vec![2, 2], s, &[1., 2.]).contains("permutation"));
    let mut s = good();
    s.dim_metadata[0].dense_size = 3;
    assert!(refused(vec![2, 2], s, &[1., 2.]).contains("dense_size"));
    let mut s = good();
    s.dim_metadata[1].array_segments = Some(SegmentArray::U8(vec![0, 2, 1]));
    assert!(refused(vec![2, 2], s, &[1., 2.]).contains("decreasing"));
    let mut s = good();
    s.dim_metadata[1].array_segments = Some(SegmentArray::U8(vec![0, 2]));
    assert!(refused(vec![2, 2], s, &[1., 2.]).contains("nodes"));
    let mut s = good();
    s.dim_metadata[1].array_indices = Some(SegmentArray::U8(vec![1, 2]));
    assert!(refused(vec![2, 2], s, &[1., 2.]).contains("outside"));
    let mut s = good();
    s.dim_metadata[1].array_indices = None;
    assert!(refused(vec![2, 2], s, &[1., 2.]).contains("without"));
    let mut s = good();
    s.dim_metadata[1].format = 7;
    assert!(refused(vec![2, 2], s, &[1., 2.]).contains("format 7"));
    assert!(refused(vec![2, 2], good(), &[1., 2., 3.]).contains("holds 12 bytes"));
    let mut s = good();
    s.block_map = vec![0];
    assert!(refused(vec![2, 2], s, &[1., 2.]).contains("block_map"));
    let mut s = good();
    s.traversal_order = vec![0];
    s.dim_metadata.truncate(1);
    assert!(refused(vec![2, 2], s, &[1., 2.]).contains("rank"));
}

/// Block dimensions traversed out of order give FormatConverter block sizes that disagree
/// with the verifier's; a value that would land outside the shape is an error, not a write.
#[test]
fn values_outside_the_shape_are_an_error() {
    let s = Sparsity {
        traversal_order: vec![0, 1, 3, 2],
        block_map: vec![0, 1],
        dim_metadata: vec![dense(2), dense(2), dense(1), dense(3)],
    };
    let t = tensor_f32(vec![2, 6], s, &[0.; 12]);
    let e = densify(&t).unwrap_err();
    assert!(e.contains("lands at"), "{e}");
}
