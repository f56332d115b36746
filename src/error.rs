//! The one typed error of the library.

use std::path::PathBuf;

/// Every failure the library reports. Messages name the file, tensor, op and shape involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O failure, on the file `path` names (empty when it is not known: an
    /// [`std::io::Error`] converted with `?`).
    #[error("{}{source}", path_prefix(path))]
    Io {
        /// The file; empty when unknown.
        path: PathBuf,
        /// What the operating system said.
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
        /// The kernel's own error.
        source: crate::custom::CustomOpError,
    },
    /// A GPU adapter, device or shader problem.
    #[error("gpu: {0}")]
    Gpu(String),
    /// An accuracy target no quantized model can meet (`quantize --target-sqnr`,
    /// [`crate::quant::target`]): even the all-float fallback misses it.
    #[error("accuracy target cannot be met: {0}")]
    TargetUnreachable(String),
    /// One sample of a dataset failed in a pass over the data (calibration, evaluation, the
    /// saturation count): `index` counts from 0 in the order the dataset gave the samples,
    /// `source` is the failure itself, with its own variant (match on it through
    /// [`Error::root`], or `source` directly).
    #[error("{pass} sample {index}: {source}")]
    Sample {
        /// The pass: `calibration`, `evaluation`, `saturation count`.
        pass: String,
        /// The sample's position in the dataset, from 0.
        index: usize,
        /// What went wrong with it.
        #[source]
        source: Box<Error>,
    },
    /// A sample's tensor for a model input has another shape than the input (outside the
    /// dimensions the model declares dynamic, `-1` in its shape signature).
    #[error(
        "input '{input}' has shape {expected:?}; the sample's tensor for it has shape \
         {actual:?}"
    )]
    InputShape {
        /// The input (signature name, else tensor name).
        input: String,
        /// The input's shape in the model.
        expected: Vec<usize>,
        /// The shape of the tensor given for it.
        actual: Vec<usize>,
    },
    /// A sample's tensor for a model input has another dtype than the input.
    #[error("input '{input}' is {expected}; the sample's tensor for it is {actual}")]
    InputType {
        /// The input (signature name, else tensor name).
        input: String,
        /// The input's dtype in the model.
        expected: crate::model::DType,
        /// The dtype of the tensor given for it.
        actual: crate::model::DType,
    },
    /// The work was cancelled through a [`crate::CancelToken`]; nothing was written.
    #[error("cancelled")]
    Cancelled,
}

fn path_prefix(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        String::new()
    } else {
        format!("{}: ", path.display())
    }
}

impl From<std::io::Error> for Error {
    /// An I/O error whose file is not known (`path` empty); the library's own file errors
    /// name their file.
    fn from(source: std::io::Error) -> Self {
        Error::Io {
            path: PathBuf::new(),
            source,
        }
    }
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

    /// The innermost error: through [`Error::Sample`] wrappers to the failure itself
    /// (`matches!(e.root(), Error::InputShape { .. })`).
    pub fn root(&self) -> &Error {
        match self {
            Error::Sample { source, .. } => source.root(),
            other => other,
        }
    }

    /// Whether this is (or wraps) [`Error::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self.root(), Error::Cancelled)
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
