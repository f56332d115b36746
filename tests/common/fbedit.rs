//! Edit a fixture through the generated object API: unpack, change one field, pack.

use litequant::tflite::fb;

/// The bytes of a fixture file.
pub fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(super::fixtures().join(name)).unwrap()
}

/// A fixture unpacked into the object API.
pub fn unpacked(name: &str) -> fb::ModelT {
    fb::root_as_model(&fixture_bytes(name)).unwrap().unpack()
}

/// Pack a model back into `.tflite` bytes.
pub fn pack(m: &fb::ModelT) -> Vec<u8> {
    let mut b = flatbuffers::FlatBufferBuilder::new();
    let root = m.pack(&mut b);
    b.finish(root, Some("TFL3"));
    b.finished_data().to_vec()
}
