//! The `CONVERSION_METADATA` entry as the converter writes it.
//!
//! The bytes are a flatbuffer of the `ConversionMetadata` table of TensorFlow's
//! `conversion_metadata.fbs` (not part of the TFLite schema, so it is read and built here
//! by hand), written by the Python converter after the model is final
//! (`lite.py` `_populate_conversion_metadata`, object API `Pack`, `flatbuffers.Builder(0)`,
//! no file identifier). Layout (field ids in brackets):
//!
//! ```text
//! table ConversionMetadata { environment:Environment [0]; options:ConversionOptions [1]; }
//! table Environment { tensorflow_version:string [0]; api_version:uint [1];
//!                     model_type:ModelType(int) [2]; model_hash:ulong [3]; }
//! table ConversionOptions { model_optimization_modes:[ModelOptimizationMode(int)] [0];
//!                           allow_custom_ops:bool [1]; enable_select_tf_ops:bool [2];
//!                           force_select_tf_ops:bool [3]; sparsity_block_sizes:[...] [4]; }
//! ```
//!
//! `Pack` writes, in this order: the version string, the environment table (fields in
//! declaration order, defaults omitted), the modes vector, the options table, the root
//! table. [`ConversionMetadata::to_bytes`] does the same with the flatbuffers builder,
//! which lays out bytes the way the Python builder does (the tests compare with the
//! converter's bytes).
//!
//! `model_hash` is `util.get_model_hash` of the final model: a 64-bit mix
//! (`h ^= v + 0x9E3779B97F4A7800 + (h << 10) + (h >> 4)`, wrapping) over, per subgraph, the
//! operator count, every operator's input and output indices (-1 as 2^64 - 1), the tensor
//! count, every tensor's data length (tensors with data) and shape, and the input and
//! output counts.

use flatbuffers::FlatBufferBuilder;

use crate::model::Model;

/// `ModelOptimizationMode` values.
pub const PTQ_FLOAT16: i32 = 1001;
/// Post-training dynamic-range quantization.
pub const PTQ_DYNAMIC_RANGE: i32 = 1002;
/// Post-training full-integer quantization.
pub const PTQ_FULL_INTEGER: i32 = 1003;
/// Post-training 16x8 quantization.
pub const PTQ_INT16: i32 = 1004;
/// Quantization-aware training.
pub const QUANTIZATION_AWARE_TRAINING: i32 = 2000;
/// Random sparsity.
pub const RANDOM_SPARSITY: i32 = 3001;
/// Block sparsity.
pub const BLOCK_SPARSITY: i32 = 3002;

/// The metadata entry's name.
pub const CONVERSION_METADATA: &str = "CONVERSION_METADATA";

/// The decoded entry (sparsity block sizes, which the converter never writes, are not kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversionMetadata {
    /// TensorFlow version of the converter.
    pub tensorflow_version: Option<String>,
    /// Converter API version.
    pub api_version: u32,
    /// `ModelType`: 0 NONE, 1 TF_SAVED_MODEL, 2 KERAS_MODEL, 3 TF_CONCRETE_FUNCTIONS, ...
    pub model_type: i32,
    /// Hash of the source model.
    pub model_hash: u64,
    /// `None`: the options table is absent.
    pub modes: Option<Vec<i32>>,
    /// Whether custom ops were allowed.
    pub allow_custom_ops: bool,
    /// Whether select TF ops were enabled.
    pub enable_select_tf_ops: bool,
    /// Whether select TF ops were forced.
    pub force_select_tf_ops: bool,
}

/// A bounds-checked reader of the few flatbuffer shapes this table uses.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u32_at(&self, at: usize) -> Option<u32> {
        self.0
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u16_at(&self, at: usize) -> Option<u16> {
        self.0
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    /// Position of field `id` of the table at `table`, if present.
    fn field(&self, table: usize, id: usize) -> Option<usize> {
        let soff = self.u32_at(table)? as i32;
        let vt = usize::try_from(table as i64 - i64::from(soff)).ok()?;
        let vt_len = self.u16_at(vt)? as usize;
        let slot = 4 + 2 * id;
        if slot + 2 > vt_len {
            return None;
        }
        match self.u16_at(vt + slot)? {
            0 => None,
            off => Some(table + off as usize),
        }
    }
    fn deref(&self, at: usize) -> Option<usize> {
        at.checked_add(self.u32_at(at)? as usize)
    }
    fn scalar<const N: usize>(&self, table: usize, id: usize) -> Option<[u8; N]> {
        let at = self.field(table, id)?;
        self.0.get(at..at + N)?.try_into().ok()
    }
}

impl ConversionMetadata {
    /// Decode the entry's bytes; `None` if they are not a well-formed table.
    pub fn parse(bytes: &[u8]) -> Option<ConversionMetadata> {
        let r = Reader(bytes);
        let root = r.deref(0)?;
        let mut m = ConversionMetadata::default();
        if let Some(env) = r.field(root, 0).and_then(|f| r.deref(f)) {
            if let Some(s) = r.field(env, 0).and_then(|f| r.deref(f)) {
                let len = r.u32_at(s)? as usize;
                let text = bytes.get(s + 4..(s + 4).checked_add(len)?)?;
                m.tensorflow_version = Some(String::from_utf8(text.to_vec()).ok()?);
            }
            m.api_version = r.scalar::<4>(env, 1).map_or(0, u32::from_le_bytes);
            m.model_type = r.scalar::<4>(env, 2).map_or(0, i32::from_le_bytes);
            m.model_hash = r.scalar::<8>(env, 3).map_or(0, u64::from_le_bytes);
        }
        if let Some(opt) = r.field(root, 1).and_then(|f| r.deref(f)) {
            let mut modes = Vec::new();
            if let Some(v) = r.field(opt, 0).and_then(|f| r.deref(f)) {
                let n = r.u32_at(v)? as usize;
                for i in 0..n {
                    modes.push(r.u32_at(v + 4 + 4 * i)? as i32);
                }
            }
            m.modes = Some(modes);
            m.allow_custom_ops = r.scalar::<1>(opt, 1).is_some_and(|b| b[0] != 0);
            m.enable_select_tf_ops = r.scalar::<1>(opt, 2).is_some_and(|b| b[0] != 0);
            m.force_select_tf_ops = r.scalar::<1>(opt, 3).is_some_and(|b| b[0] != 0);
        }
        Some(m)
    }

    /// Encode as the converter's Python `Pack` does.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = FlatBufferBuilder::new();
        // Environment.
        let version = self
            .tensorflow_version
            .as_deref()
            .map(|v| b.create_string(v));
        let start = b.start_table();
        if let Some(v) = version {
            b.push_slot_always(4, v);
        }
        b.push_slot::<u32>(6, self.api_version, 0);
        b.push_slot::<i32>(8, self.model_type, 0);
        b.push_slot::<u64>(10, self.model_hash, 0);
        let env = b.end_table(start);
        // Options.
        let opts = self.modes.as_ref().map(|modes| {
            let modes = b.create_vector(modes);
            let start = b.start_table();
            b.push_slot_always(4, modes);
            b.push_slot::<bool>(6, self.allow_custom_ops, false);
            b.push_slot::<bool>(8, self.enable_select_tf_ops, false);
            b.push_slot::<bool>(10, self.force_select_tf_ops, false);
            b.end_table(start)
        });
        let start = b.start_table();
        b.push_slot_always(4, env);
        if let Some(o) = opts {
            b.push_slot_always(6, o);
        }
        let root = b.end_table(start);
        b.finish_minimal(root);
        b.finished_data().to_vec()
    }
}

/// `util.get_model_hash` (see the module docs).
pub fn model_hash(model: &Model) -> u64 {
    fn mix(h: u64, v: u64) -> u64 {
        h ^ v
            .wrapping_add(0x9E37_79B9_7F4A_7800)
            .wrapping_add(h << 10)
            .wrapping_add(h >> 4)
    }
    let mut h = 0u64;
    for sg in &model.subgraphs {
        h = mix(h, sg.operators.len() as u64);
        for op in &sg.operators {
            for &i in op.inputs.iter().chain(&op.outputs) {
                h = mix(h, i64::from(i) as u64);
            }
        }
        h = mix(h, sg.tensors.len() as u64);
        for t in &sg.tensors {
            if let Some(d) = &t.data {
                h = mix(h, d.len() as u64);
            }
            for &d in &t.shape {
                h = mix(h, i64::from(d) as u64);
            }
        }
        h = mix(h, sg.inputs.len() as u64);
        h = mix(h, sg.outputs.len() as u64);
    }
    h
}

/// The sparsity modes `util.get_sparsity_modes` adds (random / block sparsity of tensors).
pub fn sparsity_modes(model: &Model) -> Vec<i32> {
    let mut random = false;
    let mut block = false;
    for t in model.subgraphs.iter().flat_map(|s| &s.tensors) {
        if let Some(s) = &t.sparsity {
            if s.block_map.is_empty() {
                random = true;
            } else {
                block = true;
            }
        }
    }
    // Python collects a set of ints; iterating a small int set gives ascending order.
    let mut v = Vec::new();
    if random {
        v.push(RANDOM_SPARSITY);
    }
    if block {
        v.push(BLOCK_SPARSITY);
    }
    v
}
