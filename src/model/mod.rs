//! The in-memory model: an owned, plain-data graph. Read from and written to `.tflite` by
//! [`crate::tflite`]; transformed by the quantizer's passes; run by the engines.

mod dtype;
mod lint;
mod op;
mod quant;
mod shapes;
pub mod sparsity;
mod validate;

use std::sync::Arc;

pub use dtype::DType;
pub(crate) use lint::quant_oddity;
pub use op::{
    builtin_name, code, Activation, AddSubOptions, BatchMatMulOptions, Conv2DOptions,
    DepthwiseConv2DOptions, FullyConnectedOptions, Op, OpKind, OpaqueOptions, OtherOp, Padding,
    Pool2DOptions, ResizeOptions, StridedSliceOptions, TransposeConvOptions,
};
pub use quant::{DimensionMetadata, QuantDetails, QuantParams, SegmentArray, Sparsity};

/// Constant tensor contents. Shared (cheaply cloned); tensors that shared one buffer in the
/// file share one `Data` and are written back sharing it.
pub type Data = Arc<[u8]>;

/// The schema version litequant reads and writes.
pub const SCHEMA_VERSION: u32 = 3;

/// A whole model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Schema version (3).
    pub version: u32,
    /// The model's description string.
    pub description: Option<String>,
    /// Subgraph 0 is the main graph.
    pub subgraphs: Vec<Subgraph>,
    /// Named metadata entries with their bytes (`min_runtime_version`, `CONVERSION_METADATA`, ...).
    pub metadata: Vec<Metadata>,
    /// Signatures: named entry points mapping names to tensors.
    pub signature_defs: Vec<SignatureDef>,
    /// The buffers listed in the deprecated `metadata_buffer` field (LiteRT never reads it).
    pub legacy_metadata_buffers: Vec<LegacyMetadataBuffer>,
    /// Names of external weight files (`external_buffer_groups`).
    pub external_buffer_groups: Vec<String>,
    /// Tensor data stored outside the model file (`external_buffers`).
    pub external_buffers: Vec<ExternalBuffer>,
    /// Entries of the file's operator-code table that no operator uses. LiteRT resolves
    /// them all the same (`InterpreterBuilder::BuildLocalIndexToRegistrationMapping`);
    /// they are kept so that the file round-trips, and written after the used codes.
    pub unused_operator_codes: Vec<OperatorCode>,
}

/// One entry of the operator-code table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OperatorCode {
    /// The builtin code (the larger of the file's two code fields).
    pub builtin_code: i32,
    /// The custom op's name, for custom ops.
    pub custom_code: Option<String>,
    /// Op version.
    pub version: i32,
}

/// One entry of the deprecated `metadata_buffer` list.
#[derive(Debug, Clone, PartialEq)]
pub enum LegacyMetadataBuffer {
    /// The contents of the buffer the entry names.
    Data(Data),
    /// An index that names no buffer of the file (negative or past the end), kept as it is:
    /// LiteRT never reads this list, so it loads such files (a warning says so).
    Dangling(i32),
}

/// A tensor's data in an external file group.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalBuffer {
    /// The id tensors refer to (`Tensor::external_buffer`; 0 = none).
    pub id: u32,
    /// Index into `external_buffer_groups`.
    pub group: u32,
    /// Offset of the data in the file.
    pub offset: u64,
    /// Length of the data.
    pub length: u64,
    /// How the data is packed, if said.
    pub packing: Option<String>,
}

/// One named metadata entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// Entry name.
    pub name: String,
    /// Its data.
    pub data: Data,
    /// The buffer index the file gave, when it names no buffer (past the end of the buffer
    /// table); `data` is then empty. LiteRT skips such an entry
    /// (`FlatBufferModel::ReadAllMetadata`), so the file loads; it is kept so that the file
    /// round-trips as it is (the writer keeps it past the end), and a warning says so.
    pub dangling_buffer: Option<u32>,
}

impl Metadata {
    /// An entry holding `data`.
    pub fn new(name: impl Into<String>, data: Data) -> Metadata {
        Metadata {
            name: name.into(),
            data,
            dangling_buffer: None,
        }
    }
}

/// A signature: named inputs and outputs of one subgraph.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureDef {
    /// Signature key (`serving_default`).
    pub key: String,
    /// The subgraph it runs.
    pub subgraph: usize,
    /// Its inputs by name.
    pub inputs: Vec<TensorMap>,
    /// Its outputs by name.
    pub outputs: Vec<TensorMap>,
}

/// A signature name bound to a tensor index of the signature's subgraph.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorMap {
    /// The signature's name for the tensor.
    pub name: String,
    /// Tensor index in the signature's subgraph.
    pub tensor: usize,
}

/// One subgraph: tensors, operators in execution order, inputs and outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Subgraph {
    /// Subgraph name, if any.
    pub name: Option<String>,
    /// Every tensor, by index.
    pub tensors: Vec<Tensor>,
    /// Input tensor indices.
    pub inputs: Vec<usize>,
    /// Output tensor indices.
    pub outputs: Vec<usize>,
    /// Operators, in execution order.
    pub operators: Vec<Operator>,
    /// Index into the metadata of debug information (-1: none).
    pub debug_metadata_index: i32,
}

/// A tensor: type, shape, quantization and (for constants) data.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Tensor name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Stored shape.
    pub shape: Vec<i32>,
    /// The shape with -1 for dynamic dimensions, when the file records one.
    pub shape_signature: Option<Vec<i32>>,
    /// Quantization parameters, if quantized.
    pub quant: Option<QuantParams>,
    /// Constant contents; `None` for activations and variables.
    pub data: Option<Data>,
    /// Whether it is a variable (state kept between runs).
    pub is_variable: bool,
    /// Sparse storage, if the constant is stored sparse.
    pub sparsity: Option<Sparsity>,
    /// Whether the rank is known (the format's `has_rank`).
    pub has_rank: bool,
    /// Subtypes of a VARIANT tensor (dtype, shape, has_rank).
    pub variant_tensors: Vec<VariantSubType>,
    /// Id of an [`ExternalBuffer`] holding this tensor's data (0 = none).
    pub external_buffer: u32,
}

/// One subtype of a VARIANT tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantSubType {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<i32>,
    /// Whether the rank is known.
    pub has_rank: bool,
}

/// An operator: what it is and which tensors it reads and writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    /// The op and its options.
    pub op: Op,
    /// Operator version (the op code table's `version`).
    pub version: i32,
    /// Tensor indices; [`OPTIONAL`] marks an omitted optional input.
    pub inputs: Vec<i32>,
    /// Output tensor indices.
    pub outputs: Vec<i32>,
    /// Intermediate tensor indices (LSTM-style ops).
    pub intermediates: Vec<i32>,
    /// Per input: whether the op writes it (variables).
    pub mutating_variable_inputs: Vec<bool>,
    /// Index into the model's debug metadata (`-1`: none).
    pub debug_metadata_index: i32,
    /// The file had no options table for this typed op (TFLite then reads the defaults).
    /// The writer omits the table again as long as the options still are the defaults.
    pub options_omitted: bool,
}

/// The index that marks an omitted optional operator input.
pub const OPTIONAL: i32 = -1;

impl Tensor {
    /// A new activation tensor (no data, no quantization).
    pub fn new(name: impl Into<String>, dtype: DType, shape: Vec<i32>) -> Tensor {
        Tensor {
            name: name.into(),
            dtype,
            shape,
            shape_signature: None,
            quant: None,
            data: None,
            is_variable: false,
            sparsity: None,
            has_rank: false,
            variant_tensors: Vec::new(),
            external_buffer: 0,
        }
    }

    /// Number of elements, or `None` if a dimension is negative or the product overflows.
    pub fn num_elements(&self) -> Option<u64> {
        self.shape.iter().try_fold(1u64, |acc, &d| {
            u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        })
    }

    /// Bytes this tensor occupies densely, if its type has a fixed size.
    pub fn dense_bytes(&self) -> Option<u64> {
        self.num_elements()
            .and_then(|n| self.dtype.storage_bytes(n))
    }

    /// Whether this tensor holds constant data.
    pub fn is_constant(&self) -> bool {
        self.data.is_some()
    }
}

impl Operator {
    /// Present input tensor indices (omitted optional inputs skipped).
    pub fn input_tensors(&self) -> impl Iterator<Item = usize> + '_ {
        self.inputs.iter().filter_map(|&i| usize::try_from(i).ok())
    }

    /// Output tensor indices.
    pub fn output_tensors(&self) -> impl Iterator<Item = usize> + '_ {
        self.outputs.iter().filter_map(|&i| usize::try_from(i).ok())
    }

    /// The `i`th input's tensor index, `None` if absent or omitted.
    pub fn input(&self, i: usize) -> Option<usize> {
        self.inputs.get(i).and_then(|&t| usize::try_from(t).ok())
    }
}

impl Model {
    /// The main subgraph (subgraph 0). A validated model always has one.
    pub fn main(&self) -> &Subgraph {
        &self.subgraphs[0]
    }

    /// Check every cross reference and invariant of the model (indices, shapes against data,
    /// graph order). Reading a file runs this; passes that build models may run it too.
    pub fn validate(&self) -> crate::Result<()> {
        validate::validate(self)
    }

    /// [`Model::validate`], plus the rules LiteRT applies when a model is prepared rather
    /// than read (a subgraph input that holds constant data): what every engine checks
    /// before it prepares a model and the quantizer before it returns one.
    pub fn validate_for_prepare(&self) -> crate::Result<()> {
        validate::validate(self)?;
        validate::check_prepare(self)
    }

    /// What LiteRT tolerates in this model but a careful writer would not produce: dangling
    /// metadata and debug references, unused operator codes, signatures naming missing
    /// tensors, ... One line each, for `litequant inspect`. None of them stops a load or a
    /// round trip; a constant model input, or quantization parameters an op's kernel cannot
    /// use, stop a run at prepare where LiteRT's do (docs/reading.md lists every rule).
    pub fn warnings(&self) -> Vec<String> {
        lint::warnings(self)
    }

    /// The metadata entry with this name.
    pub fn metadata(&self, name: &str) -> Option<&Metadata> {
        self.metadata.iter().find(|m| m.name == name)
    }
}
