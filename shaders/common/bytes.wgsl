// 8-bit tensors live packed, four elements per u32 word, little-endian (element 4w+k in bits
// 8k..8k+8 of word w). Loads sign- or zero-extend; a kernel writes whole words (each
// invocation owns the words it stores) so that no two invocations touch one word.

// Byte k (0..3) of `word`, sign-extended (int8).
fn byte_i8(word: u32, k: u32) -> i32 {
    return extractBits(i32(word), k * 8u, 8u);
}

// Byte k (0..3) of `word`, zero-extended (uint8).
fn byte_u8(word: u32, k: u32) -> i32 {
    return i32(extractBits(word, k * 8u, 8u));
}

// Pack four values (already clamped to an 8-bit range, signed or unsigned) into one word.
fn pack_bytes(v0: i32, v1: i32, v2: i32, v3: i32) -> u32 {
    return (u32(v0) & 0xffu) | ((u32(v1) & 0xffu) << 8u) | ((u32(v2) & 0xffu) << 16u)
        | ((u32(v3) & 0xffu) << 24u);
}
