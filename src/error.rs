//! The one typed error of the library.

use std::path::PathBuf;

/// Every failure the library reports. Messages name the file, tensor, op and shape involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O failure on a named file.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a well-formed TFLite flatbuffer (verifier failure, wrong identifier, truncation).
    #[error("not a valid .tflite file: {0}")]
    Format(String),
    /// The flatbuffer is well-formed but the model it describes is inconsistent
    /// (an index out of range, a shape that disagrees with its data, a cycle, ...).
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The model cannot be written (e.g. too large for the format).
    #[error("cannot write model: {0}")]
    Write(String),
    /// A tensor value's shape or dtype does not fit where it is used (inputs to a run, ...).
    #[error("{0}")]
    Shape(String),
    /// An operator or dtype an engine cannot run, reported when a model is prepared.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A problem with data files (.npy, .npz, images).
    #[error("{0}")]
    Data(String),
    /// What a model declares does not fit the memory budget (a tensor, or a table a kernel
    /// precomputes from shapes), found at prepare; see [`crate::memory`].
    #[error("out of memory budget: {0}")]
    Memory(String),
    /// The model has a custom operator that no kernel is registered for
    /// ([`crate::custom`]).
    #[error(
        "operator {index} is the custom op '{name}', which has no registered kernel: implement \
         litequant::custom::CustomOp for it and register it with \
         ReferenceEngine::default().with_custom_op(\"{name}\", kernel) (or \
         ConverterFloatEngine::default().with_custom_op)"
    )]
    MissingCustomOp {
        /// The operator's index in the main subgraph.
        index: usize,
        /// The custom-op name (`custom_code`).
        name: String,
    },
    /// A registered custom kernel failed (at prepare or run).
    #[error("{op}: {source}")]
    CustomOp {
        /// The operator: `operator 3 (Convolution2DTransposeBias)`.
        op: String,
        #[source]
        source: crate::custom::CustomOpError,
    },
    /// A GPU adapter, device or shader problem.
    #[error("gpu: {0}")]
    Gpu(String),
    /// An accuracy target no quantized model can meet (`quantize --target-sqnr`,
    /// [`crate::quant::target`]): even the all-float fallback misses it.
    #[error("accuracy target cannot be met: {0}")]
    TargetUnreachable(String),
}

impl Error {
    /// Attach a file path to an error that came from reading or parsing that file.
    pub fn in_file(self, path: &std::path::Path) -> Error {
        match self {
            Error::Format(m) => Error::Format(format!("{}: {m}", path.display())),
            Error::InvalidModel(m) => Error::InvalidModel(format!("{}: {m}", path.display())),
            other => other,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
