// Elementwise kernels over packed tensors: element i of a tensor of BITS-bit elements (8,
// 16 or 32) lives in word elem_word(i, BITS), bits elem_shift(i, BITS).. of it
// (little-endian). Each invocation computes the elements of whole output words.

// The word holding element i.
fn elem_word(i: u32, bits: u32) -> u32 {
    return i / (32u / bits);
}

// Element i's value from its word, sign-extended (signed) or zero-extended.
fn elem_of(word: u32, i: u32, bits: u32, signed: bool) -> i32 {
    if (bits >= 32u) {
        return i32(word);
    }
    let off = (i % (32u / bits)) * bits;
    if (signed) {
        return extractBits(i32(word), off, bits);
    }
    return i32(extractBits(word, off, bits));
}

// Value v (already clamped to the type's range) placed at element i's bits of its word.
fn elem_place(v: i32, i: u32, bits: u32) -> u32 {
    if (bits >= 32u) {
        return u32(v);
    }
    let off = (i % (32u / bits)) * bits;
    return (u32(v) & ((1u << bits) - 1u)) << off;
}
