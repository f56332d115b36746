//! The buffer plan: which device buffer holds each computed tensor.
//!
//! As TFLite's arena planner does, tensors whose lifetimes do not overlap share memory. Each
//! shared piece is a separate `wgpu::Buffer` (a *slot*), so that an op's inputs and output are
//! always distinct buffers (a storage buffer may not be bound read-only and writable in one
//! dispatch). Lifetimes are in steps: a tensor lives from the step that writes it (model
//! inputs: before the first) to the last step that reads it (model outputs: to the end).
//! Assignment is greedy, largest tensor first, into the first slot free over its lifetime.

/// Bytes of a tensor on the device: its element bytes rounded up to whole 4-byte words
/// (8-bit tensors are packed four to a word), at least one word.
pub(crate) fn device_bytes(elements: usize, elem_size: usize) -> u64 {
    let bytes = (elements * elem_size) as u64;
    bytes.div_ceil(4).max(1) * 4
}

/// One computed tensor to place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Live {
    pub tensor: usize,
    pub bytes: u64,
    /// First step that writes it (`0` for model inputs, which are written before step 0).
    pub first: usize,
    /// Last step that reads it, inclusive (`usize::MAX` for model outputs).
    pub last: usize,
}

/// The result: slot sizes, and the slot of each placed tensor.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub slot_bytes: Vec<u64>,
    /// `(tensor, slot)`.
    pub placement: Vec<(usize, usize)>,
}

impl Plan {
    /// Total bytes of all slots.
    pub fn total_bytes(&self) -> u64 {
        self.slot_bytes.iter().sum()
    }
}

/// Lifetimes `[first, last]` of the computed tensors of a graph: `inputs` are the model
/// inputs, `outputs` the model outputs, `steps[k] = (reads, writes)` of step k; `is_const`
/// tells which tensors are constants (never placed). `bytes(t)` is a tensor's device size.
pub(crate) fn lifetimes(
    inputs: &[usize],
    outputs: &[usize],
    steps: &[(Vec<usize>, Vec<usize>)],
    is_const: impl Fn(usize) -> bool,
    bytes: impl Fn(usize) -> u64,
) -> Vec<Live> {
    use std::collections::BTreeMap;
    let mut span: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for &t in inputs {
        span.insert(t, (0, 0));
    }
    for (k, (reads, writes)) in steps.iter().enumerate() {
        for &t in writes {
            span.entry(t).or_insert((k, k));
        }
        for &t in reads {
            if let Some(s) = span.get_mut(&t) {
                s.1 = s.1.max(k);
            }
        }
    }
    for &t in outputs {
        if let Some(s) = span.get_mut(&t) {
            s.1 = usize::MAX;
        }
    }
    span.into_iter()
        .filter(|(t, _)| !is_const(*t))
        .map(|(tensor, (first, last))| Live {
            tensor,
            bytes: bytes(tensor),
            first,
            last,
        })
        .collect()
}

/// Greedy placement, largest first (ties: lower tensor index first), into the first slot
/// whose tensors' lifetimes are all disjoint from this one's.
pub(crate) fn plan(lives: &[Live]) -> Plan {
    let mut order: Vec<&Live> = lives.iter().collect();
    order.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.tensor.cmp(&b.tensor)));
    let mut slots: Vec<(u64, Vec<(usize, usize)>)> = Vec::new();
    let mut placement = Vec::with_capacity(lives.len());
    for l in order {
        let overlaps = |&(f, e): &(usize, usize)| l.first <= e && f <= l.last;
        let slot = match slots
            .iter()
            .position(|(_, used)| !used.iter().any(overlaps))
        {
            Some(s) => s,
            None => {
                slots.push((0, Vec::new()));
                slots.len() - 1
            }
        };
        slots[slot].0 = slots[slot].0.max(l.bytes);
        slots[slot].1.push((l.first, l.last));
        placement.push((l.tensor, slot));
    }
    placement.sort_unstable();
    Plan {
        slot_bytes: slots.into_iter().map(|(b, _)| b).collect(),
        placement,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(tensor: usize, bytes: u64, first: usize, last: usize) -> Live {
        Live {
            tensor,
            bytes,
            first,
            last,
        }
    }

    #[test]
    fn disjoint_lifetimes_share_and_overlapping_ones_do_not() {
        // A chain a -> b -> c -> d: a and c can share, b and d can share.
        let lives = [
            live(0, 400, 0, 0),
            live(1, 300, 0, 1),
            live(2, 200, 1, 2),
            live(3, 100, 2, usize::MAX),
        ];
        let p = plan(&lives);
        assert_eq!(p.slot_bytes.len(), 2);
        let slot = |t: usize| p.placement.iter().find(|x| x.0 == t).unwrap().1;
        assert_eq!(slot(0), slot(2));
        assert_eq!(slot(1), slot(3));
        assert_ne!(slot(0), slot(1));
        assert_eq!(p.total_bytes(), 700);
        // Every pair in one slot is disjoint.
        for a in &lives {
            for b in &lives {
                if a.tensor != b.tensor && slot(a.tensor) == slot(b.tensor) {
                    assert!(a.last < b.first || b.last < a.first);
                }
            }
        }
    }

    #[test]
    fn lifetimes_follow_reads_and_outputs() {
        let steps = vec![
            (vec![0, 9], vec![1]),
            (vec![1], vec![2]),
            (vec![0, 2], vec![3]),
        ];
        let l = lifetimes(&[0], &[3], &steps, |t| t == 9, |_| 4);
        let get = |t: usize| l.iter().find(|x| x.tensor == t).map(|x| (x.first, x.last));
        assert_eq!(get(0), Some((0, 2)));
        assert_eq!(get(1), Some((0, 1)));
        assert_eq!(get(2), Some((1, 2)));
        assert_eq!(get(3), Some((2, usize::MAX)));
        assert_eq!(get(9), None);
    }

    #[test]
    fn device_bytes_pack_and_round_up() {
        assert_eq!(device_bytes(5, 1), 8);
        assert_eq!(device_bytes(0, 4), 4);
        assert_eq!(device_bytes(3, 4), 12);
    }
}
