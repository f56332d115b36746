//! [`OpKind`]: what an operator is, as reports and options name it.

use std::cmp::Ordering;
use std::fmt;

use super::{builtin_name, code, Op, OtherOp};
use crate::tflite::fb;
use crate::{Error, Result};

/// What an operator is: a builtin operator or a custom op. Reports carry it where they name
/// an op; it prints (and serializes) as the name TFLite uses (`CONV_2D`) or the custom code,
/// and it orders by that name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// A builtin operator, by its `BuiltinOperator` value (such as [`code::CONV_2D`]).
    Builtin(i32),
    /// A custom operator, by its custom code.
    Custom(String),
}

impl OpKind {
    /// The kind of `op`.
    pub fn of(op: &Op) -> OpKind {
        match op {
            Op::Other(OtherOp {
                custom_code: Some(c),
                code: code::CUSTOM,
                ..
            }) => OpKind::Custom(c.clone()),
            op => OpKind::Builtin(op.code()),
        }
    }

    /// The builtin operator code ([`code::CUSTOM`] for a custom op).
    pub fn builtin_code(&self) -> i32 {
        match self {
            OpKind::Builtin(c) => *c,
            OpKind::Custom(_) => code::CUSTOM,
        }
    }

    /// The name: the builtin name (`CONV_2D`, `BUILTIN_<n>` for a code this build does not
    /// know), or the custom code.
    pub fn name(&self) -> String {
        match self {
            OpKind::Builtin(c) => builtin_name(*c),
            OpKind::Custom(c) => c.clone(),
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpKind::Builtin(c) => match fb::BuiltinOperator(*c).variant_name() {
                Some(n) => f.write_str(n),
                None => write!(f, "BUILTIN_{c}"),
            },
            OpKind::Custom(c) => f.write_str(c),
        }
    }
}

impl std::str::FromStr for OpKind {
    type Err = Error;

    /// A builtin operator by its TFLite name (`"CONV_2D"`, or `"BUILTIN_<n>"`); anything else
    /// is a custom op's code.
    fn from_str(s: &str) -> Result<OpKind> {
        if let Some(op) = fb::BuiltinOperator::ENUM_VALUES
            .iter()
            .find(|o| o.variant_name() == Some(s))
        {
            return Ok(OpKind::Builtin(op.0));
        }
        if let Some(c) = s
            .strip_prefix("BUILTIN_")
            .and_then(|n| n.parse::<i32>().ok())
        {
            return Ok(OpKind::Builtin(c));
        }
        if s.is_empty() {
            return Err(Error::Data("an empty op name".into()));
        }
        Ok(OpKind::Custom(s.to_string()))
    }
}

impl PartialOrd for OpKind {
    fn partial_cmp(&self, other: &OpKind) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OpKind {
    /// By name (as `litequant inspect` sorts its op histogram), then builtin before custom.
    fn cmp(&self, other: &OpKind) -> Ordering {
        self.to_string()
            .cmp(&other.to_string())
            .then_with(|| match (self, other) {
                (OpKind::Builtin(a), OpKind::Builtin(b)) => a.cmp(b),
                (OpKind::Custom(a), OpKind::Custom(b)) => a.cmp(b),
                (OpKind::Builtin(_), OpKind::Custom(_)) => Ordering::Less,
                (OpKind::Custom(_), OpKind::Builtin(_)) => Ordering::Greater,
            })
    }
}

impl serde::Serialize for OpKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (s, k) in [
            ("CONV_2D", OpKind::Builtin(code::CONV_2D)),
            ("BROADCAST_TO", OpKind::Builtin(code::BROADCAST_TO)),
            ("BUILTIN_9999", OpKind::Builtin(9999)),
            ("MyCustomOp", OpKind::Custom("MyCustomOp".into())),
        ] {
            assert_eq!(s.parse::<OpKind>().unwrap(), k);
            assert_eq!(k.to_string(), s);
            assert_eq!(k.name(), s);
        }
        assert!("".parse::<OpKind>().is_err());
        assert_eq!(OpKind::Custom("x".into()).builtin_code(), code::CUSTOM);
        let mut v = vec![
            OpKind::Builtin(code::RESHAPE),
            OpKind::Builtin(code::ADD),
            OpKind::Custom("Bespoke".into()),
        ];
        v.sort();
        let names: Vec<String> = v.iter().map(OpKind::name).collect();
        assert_eq!(names, ["ADD", "Bespoke", "RESHAPE"]);
    }
}
