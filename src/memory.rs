//! The memory budget: a cap on the host memory a prepared model may take for what the model
//! declares (its activation tensors and the tables kernels precompute from their shapes).
//!
//! Sizes come from the file, so a model of a few hundred bytes can declare terabytes. Every
//! such size is checked at prepare, against the budget, and allocated fallibly: a model over
//! the budget is an [`Error::Memory`] naming the op, tensor, shape and bytes, never an abort.
//! The engines take the budget as an option (`ReferenceEngine::default().with_max_memory`,
//! `GpuEngine::with_max_memory`; the CLI's `--max-memory`); by default it is the memory
//! available when the model is prepared ([`default_max_memory`]).

use std::cell::Cell;

use crate::{Error, Result};

/// The budget when the system does not say how much memory is available.
pub const FALLBACK_MAX_MEMORY: u64 = 4 << 30;

/// The memory available to new allocations: `MemAvailable` of `/proc/meminfo` on Linux;
/// `None` where it cannot be read.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line.split_whitespace().skip(1);
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => n.checked_mul(1024),
        Some(_) => None,
    }
}

/// The default budget: [`available_memory`], else [`FALLBACK_MAX_MEMORY`].
pub fn default_max_memory() -> u64 {
    available_memory().unwrap_or(FALLBACK_MAX_MEMORY)
}

/// Parse a size: a number of bytes with an optional binary suffix `K`, `M`, `G`, `T` (also
/// `KB`/`KiB`, any case); fractions allowed with a suffix (`1.5G`).
pub fn parse_size(s: &str) -> Result<u64> {
    let bad = || {
        Error::Shape(format!(
            "'{s}' is not a size (bytes, or a number with K, M, G or T: 512M, 8G)"
        ))
    };
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.trim_end_matches("ib").trim_end_matches('b');
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(bad()),
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    let bytes = v * (1u64 << shift) as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64)
        || shift == 0 && num.contains('.')
    {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// A byte count for messages: `1.50 GiB (1610612736 bytes)`.
pub fn describe_bytes(b: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (name, shift) in UNITS {
        if b >= 1 << shift {
            return format!(
                "{:.2} {name} ({b} bytes)",
                b as f64 / (1u64 << shift) as f64
            );
        }
    }
    format!("{b} bytes")
}

/// What one prepare may still take: charged as sizes are checked.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: u64,
    used: Cell<u64>,
}

impl Budget {
    /// A budget of `max_memory` bytes, or the default one.
    pub(crate) fn new(max_memory: Option<u64>) -> Budget {
        Budget {
            limit: max_memory.unwrap_or_else(default_max_memory),
            used: Cell::new(0),
        }
    }

    /// Take `bytes` (`None`: more than can be counted) for `what` (the op, tensor, shape).
    pub(crate) fn charge(&self, bytes: Option<u64>, what: impl FnOnce() -> String) -> Result<()> {
        let total = bytes.and_then(|b| b.checked_add(self.used.get()));
        match total {
            Some(t) if t <= self.limit => {
                self.used.set(t);
                Ok(())
            }
            _ => Err(Error::Memory(format!(
                "{} takes {}, which with the {} taken before is over the memory budget of {} \
                 (raise it with the engine's with_max_memory)",
                what(),
                bytes.map_or_else(|| "more bytes than can be counted".into(), describe_bytes),
                describe_bytes(self.used.get()),
                describe_bytes(self.limit)
            ))),
        }
    }

    /// An empty vector with room for `n` elements, charged and allocated fallibly.
    pub(crate) fn with_capacity<T>(
        &self,
        n: usize,
        what: impl FnOnce() -> String,
    ) -> Result<Vec<T>> {
        let bytes = (n as u64).checked_mul(std::mem::size_of::<T>() as u64);
        let mut what = Some(what);
        self.charge(bytes, || what.take().map_or_else(String::new, |w| w()))?;
        let mut v = Vec::new();
        v.try_reserve_exact(n).map_err(|e| {
            Error::Memory(format!(
                "{}: allocating {} failed ({e})",
                (what.take().map_or_else(String::new, |w| w())),
                bytes.map_or_else(|| "?".into(), describe_bytes)
            ))
        })?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("8G").unwrap(), 8 << 30);
        assert_eq!(parse_size("8gib").unwrap(), 8 << 30);
        assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size(" 64 KB ").unwrap(), 64 << 10);
        for bad in ["", "G", "-1G", "0", "1.5", "12X", "1e3", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_budget_is_charged_and_refuses_past_its_limit() {
        let b = Budget::new(Some(1000));
        b.charge(Some(600), || "a".into()).unwrap();
        let e = b.charge(Some(500), || "tensor 3 ('x')".into()).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("tensor 3 ('x') takes 500 bytes") && m.contains("1000 bytes"),
            "{m}"
        );
        let e = b.charge(None, || "y".into()).unwrap_err().to_string();
        assert!(e.contains("more bytes than can be counted"), "{e}");
        assert!(b.with_capacity::<u64>(50, || "map".into()).is_ok());
        assert!(b.with_capacity::<u8>(1, || "one more".into()).is_err());
        // Past what can be counted, and past what the allocator gives (1 EiB): errors.
        let unbounded = Budget::new(Some(u64::MAX));
        assert!(matches!(
            unbounded.with_capacity::<u64>(usize::MAX / 2, || "huge".into()),
            Err(Error::Memory(_))
        ));
        let e = unbounded
            .with_capacity::<u64>(1 << 57, || "1 EiB".into())
            .unwrap_err();
        assert!(e.to_string().contains("1 EiB: allocating"), "{e}");
    }

    #[test]
    fn available_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(available_memory().is_some_and(|b| b > 0));
        }
        assert!(default_max_memory() > 0);
    }
}
