// Calibration statistics on the device: twin of src/quant/stats.rs (TensorStats::add,
// HistogramSpec::place), host side in src/gpu/stats.rs.
//
// Values are read as their bits (array<u32>) and handled with integer operations only, so
// that nothing depends on the device's float behaviour (subnormal flushing, NaN handling):
// - NaN: |bits| > 0x7f800000; ±Inf: |bits| == 0x7f800000; everything else is finite;
// - order: key(bits) is a u32 that orders finite floats as the floats order (-0.0 is made
//   +0.0 first, as the two compare equal).
//
// Per sample, `reduce` and `histogram` fold one tensor into its part of `part` (cleared by
// the host before each sample) with one atomic per workgroup per quantity (`reduce`: a
// workgroup tree reduction first) or per value (`histogram`); after the sample, `merge`
// adds the sample's counts into 64-bit accumulators (two u32 words, with carry) and keeps
// the running min/max, in `acc`, which lives across samples and is read back at the end.
//
// Layout (words): part = [4 header words per tensor][one counter per count];
//                 acc  = [4 header words per tensor][two words (lo, hi) per count].
// Header: [~key(min) (max-reduced, 0 = none), key(max) (0 = none),
//          first zero: ~(index * 2 + sign) (max-reduced: the smallest index wins; 0 = none),
//          (acc) first zero's sign: 0 none, 1 +0.0, 2 -0.0].
// Counters of a tensor: [nan, inf, finite]; of a histogram: [below, bin 0 .. bin B-1, above].
// Every key of a finite value is at least 0x00800000 (key(-FLT_MAX)), so 0 means "none".

#import grid

// Invocations per workgroup (any size; the tree reduction handles non powers of two).
override WG: u32 = 64u;
// Values per invocation in `reduce` and `histogram`.
override ITEMS: u32 = 8u;

struct Reduce {
    n: u32,       // values
    head: u32,    // first header word of the tensor
    counts: u32,  // first counter word of the tensor: nan, inf, finite
    _pad: u32,
}

struct Hist {
    n: u32,       // values
    counts: u32,  // first counter word: below, bins, above
    inner: u32,   // interior edges (bins - 1)
    _pad: u32,
}

struct Merge {
    tensors: u32,
    counters: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> part: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> rp: Reduce;

// `histogram` binds 0, 1, its own uniform and the edges' keys: [key(lo), key(hi), interior].
@group(0) @binding(3) var<uniform> hp: Hist;
@group(0) @binding(4) var<storage, read> edges: array<u32>;

// `merge` binds the sample's part (plain reads) and the accumulator.
@group(0) @binding(5) var<storage, read> sample: array<u32>;
@group(0) @binding(6) var<storage, read_write> acc: array<u32>;
@group(0) @binding(7) var<uniform> mp: Merge;

fn order_key(bits: u32) -> u32 {
    var b = bits;
    if (b == 0x80000000u) {
        b = 0u;
    }
    if ((b & 0x80000000u) != 0u) {
        return ~b;
    }
    return b | 0x80000000u;
}

var<workgroup> w_min: array<u32, WG>;
var<workgroup> w_max: array<u32, WG>;
var<workgroup> w_zero: array<u32, WG>;
var<workgroup> w_nan: array<u32, WG>;
var<workgroup> w_inf: array<u32, WG>;
var<workgroup> w_fin: array<u32, WG>;

@compute @workgroup_size(WG)
fn reduce(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let base = flat_workgroup(wid, nwg) * WG * ITEMS;
    var mn = 0u;
    var mx = 0u;
    var zero = 0u;
    var nan = 0u;
    var inf = 0u;
    var fin = 0u;
    for (var k = 0u; k < ITEMS; k++) {
        let i = base + k * WG + lid;
        if (i < rp.n) {
            let b = x[i];
            let mag = b & 0x7fffffffu;
            if (mag > 0x7f800000u) {
                nan += 1u;
            } else if (mag == 0x7f800000u) {
                inf += 1u;
            } else {
                fin += 1u;
                let key = order_key(b);
                mn = max(mn, ~key);
                mx = max(mx, key);
                if (mag == 0u) {
                    zero = max(zero, ~(i * 2u + (b >> 31u)));
                }
            }
        }
    }
    w_min[lid] = mn;
    w_max[lid] = mx;
    w_zero[lid] = zero;
    w_nan[lid] = nan;
    w_inf[lid] = inf;
    w_fin[lid] = fin;
    workgroupBarrier();
    // Tree over the next power of two; partners past the end are skipped.
    var half = 1u;
    while (half < WG) {
        half <<= 1u;
    }
    half >>= 1u;
    while (half > 0u) {
        let o = lid + half;
        if (lid < half && o < WG) {
            w_min[lid] = max(w_min[lid], w_min[o]);
            w_max[lid] = max(w_max[lid], w_max[o]);
            w_zero[lid] = max(w_zero[lid], w_zero[o]);
            w_nan[lid] += w_nan[o];
            w_inf[lid] += w_inf[o];
            w_fin[lid] += w_fin[o];
        }
        workgroupBarrier();
        half >>= 1u;
    }
    if (lid == 0u) {
        if (w_fin[0] != 0u) {
            atomicMax(&part[rp.head], w_min[0]);
            atomicMax(&part[rp.head + 1u], w_max[0]);
            atomicAdd(&part[rp.counts + 2u], w_fin[0]);
        }
        if (w_zero[0] != 0u) {
            atomicMax(&part[rp.head + 2u], w_zero[0]);
        }
        if (w_nan[0] != 0u) {
            atomicAdd(&part[rp.counts], w_nan[0]);
        }
        if (w_inf[0] != 0u) {
            atomicAdd(&part[rp.counts + 1u], w_inf[0]);
        }
    }
}

@compute @workgroup_size(WG)
fn histogram(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let base = flat_workgroup(wid, nwg) * WG * ITEMS;
    let lo = edges[0];
    let hi = edges[1];
    for (var k = 0u; k < ITEMS; k++) {
        let i = base + k * WG + lid;
        if (i >= hp.n) {
            continue;
        }
        let b = x[i];
        if ((b & 0x7fffffffu) >= 0x7f800000u) {
            continue; // NaN, ±Inf
        }
        let key = order_key(b);
        var slot = 0u;
        if (key < lo) {
            slot = 0u;
        } else if (key > hi) {
            slot = hp.inner + 2u;
        } else {
            // Interior edges <= x (upper bound; the edges never decrease).
            var a = 0u;
            var e = hp.inner;
            while (a < e) {
                let m = (a + e) / 2u;
                if (edges[2u + m] <= key) {
                    a = m + 1u;
                } else {
                    e = m;
                }
            }
            slot = 1u + a;
        }
        atomicAdd(&part[hp.counts + slot], 1u);
    }
}

@compute @workgroup_size(WG)
fn merge(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = flat_workgroup(wid, nwg) * WG + lid;
    if (i < mp.tensors) {
        let h = i * 4u;
        acc[h] = max(acc[h], sample[h]);
        acc[h + 1u] = max(acc[h + 1u], sample[h + 1u]);
        let z = sample[h + 2u];
        if (acc[h + 3u] == 0u && z != 0u) {
            acc[h + 3u] = 1u + ((~z) & 1u);
        }
    }
    if (i < mp.counters) {
        let v = sample[mp.tensors * 4u + i];
        let a = mp.tensors * 4u + i * 2u;
        let lo = acc[a] + v;
        if (lo < v) {
            acc[a + 1u] += 1u;
        }
        acc[a] = lo;
    }
}
