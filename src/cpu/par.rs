//! Splitting a kernel's outputs across threads (`std::thread::scope`).
//!
//! Every output element is computed by one thread, in the same way whatever the split: the
//! results are identical for every thread count.

/// Below this many multiply-adds per thread, starting a thread costs more than it saves.
pub(crate) const MIN_WORK_PER_THREAD: usize = 1 << 17;

/// How a kernel may split its outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Par {
    pub threads: usize,
    /// The least work (multiply-adds) worth a thread.
    pub min_work: usize,
}

/// Run `f(first_row, rows)` over `out` cut into contiguous pieces of whole rows of
/// `row_len` elements, on up to `par.threads` threads (the calling thread takes the first
/// piece). `work_per_row` (multiply-adds) decides how many threads are worth starting.
pub(crate) fn split_rows<T: Send>(
    out: &mut [T],
    row_len: usize,
    par: Par,
    work_per_row: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let row_len = row_len.max(1);
    let rows = out.len() / row_len;
    let by_work = rows.saturating_mul(work_per_row.max(1)) / par.min_work.max(1);
    let t = par.threads.min(rows).min(by_work).max(1);
    if t <= 1 {
        f(0, out);
        return;
    }
    let per = rows.div_ceil(t);
    std::thread::scope(|s| {
        let mut pieces = out.chunks_mut(per * row_len).enumerate();
        let first = pieces.next();
        for (i, piece) in pieces {
            let f = &f;
            s.spawn(move || f(i * per, piece));
        }
        if let Some((_, piece)) = first {
            f(0, piece);
        }
    });
}

/// The number of threads "all cores" means: the parallelism the OS grants this process.
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_once_whatever_the_split() {
        for threads in [1, 2, 3, 7] {
            let mut out = vec![0usize; 103 * 3];
            let par = Par {
                threads,
                min_work: 1,
            };
            split_rows(&mut out, 3, par, 1, |first, rows| {
                for (r, row) in rows.chunks_mut(3).enumerate() {
                    for v in row.iter_mut() {
                        *v += first + r + 1;
                    }
                }
            });
            for (i, v) in out.iter().enumerate() {
                assert_eq!(*v, i / 3 + 1, "threads {threads}");
            }
        }
    }
}
