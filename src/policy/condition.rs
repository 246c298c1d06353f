//! Conditions on a notice's payload, as a flow's basis states them: `unlawful_absence_pct >= 15`.
//! A deliberately tiny language — a field, a comparison, a literal — that a DPO can read.

use std::fmt;

use serde_json::Value;

use super::model::FieldPath;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl CmpOp {
    /// Two-character operators first, so that `>=` is not read as `>`.
    const ALL: [(&'static str, CmpOp); 6] = [
        (">=", CmpOp::Ge),
        ("<=", CmpOp::Le),
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        (">", CmpOp::Gt),
        ("<", CmpOp::Lt),
    ];

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }

    /// Whether the operator orders values (and so compares numbers only).
    pub fn is_ordering(self) -> bool {
        matches!(self, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge)
    }
}

/// The value a field is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A number, e.g. `15`.
    Number(f64),
    /// A quoted string, e.g. `"dropout"`.
    Text(String),
    /// `true` or `false`.
    Bool(bool),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Number(n) => write!(f, "{n}"),
            Literal::Text(s) => write!(f, "{s:?}"),
            Literal::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// `<field> <op> <literal>`, evaluated against a notice's payload. A missing value, or one of
/// another type, fails the condition: a condition guards a permit, so doubt denies.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The field compared.
    pub field: FieldPath,
    /// The comparison.
    pub op: CmpOp,
    /// The value compared with.
    pub value: Literal,
}

impl Condition {
    /// Parses `field op literal`; the error says what is wrong, without the input (the caller
    /// quotes it).
    pub(crate) fn parse(s: &str) -> Result<Condition, String> {
        let Some((at, op_str, op)) = CmpOp::ALL
            .iter()
            .filter_map(|&(text, op)| s.find(text).map(|at| (at, text, op)))
            .min_by_key(|&(at, text, _)| (at, std::cmp::Reverse(text.len())))
        else {
            return Err(
                "expected `<field> <op> <value>` with one of `<`, `<=`, `>`, `>=`, `==`, `!=`"
                    .into(),
            );
        };
        let field_text = s[..at].trim();
        let value_text = s[at + op_str.len()..].trim();
        let field = FieldPath::parse(field_text)
            .ok_or_else(|| format!("`{field_text}` is not a field path"))?;
        let value = parse_literal(value_text)?;
        if op.is_ordering() && !matches!(value, Literal::Number(_)) {
            return Err(format!("`{}` compares numbers only", op.as_str()));
        }
        Ok(Condition { field, op, value })
    }

    /// Whether the payload meets the condition.
    pub fn holds(&self, payload: &Value) -> bool {
        let mut at = payload;
        for name in self.field.segments() {
            match at.get(name) {
                Some(next) => at = next,
                None => return false,
            }
        }
        match (&self.value, at) {
            (Literal::Number(want), Value::Number(have)) => match have.as_f64() {
                Some(have) => compare(have.partial_cmp(want), self.op),
                None => false,
            },
            (Literal::Text(want), Value::String(have)) => match self.op {
                CmpOp::Eq => have == want,
                CmpOp::Ne => have != want,
                _ => false,
            },
            (Literal::Bool(want), Value::Bool(have)) => match self.op {
                CmpOp::Eq => have == want,
                CmpOp::Ne => have != want,
                _ => false,
            },
            _ => false,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.field, self.op.as_str(), self.value)
    }
}

fn compare(ordering: Option<std::cmp::Ordering>, op: CmpOp) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (ordering, op) {
        (None, _) => false,
        (Some(o), CmpOp::Lt) => o == Less,
        (Some(o), CmpOp::Le) => o != Greater,
        (Some(o), CmpOp::Gt) => o == Greater,
        (Some(o), CmpOp::Ge) => o != Less,
        (Some(o), CmpOp::Eq) => o == Equal,
        (Some(o), CmpOp::Ne) => o != Equal,
    }
}

fn parse_literal(s: &str) -> Result<Literal, String> {
    match s {
        "true" => return Ok(Literal::Bool(true)),
        "false" => return Ok(Literal::Bool(false)),
        _ => {}
    }
    for quote in ['"', '\''] {
        if let Some(inner) = s
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            return Ok(Literal::Text(inner.to_owned()));
        }
    }
    match s.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(Literal::Number(n)),
        _ => Err(format!(
            "`{s}` is not a value: expected a number, `true`, `false` or a quoted string"
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_and_evaluates_a_threshold() {
        let c = Condition::parse("unlawful_absence_pct >= 15").unwrap();
        assert_eq!(c.to_string(), "unlawful_absence_pct >= 15");
        assert!(c.holds(&json!({"unlawful_absence_pct": 15})));
        assert!(c.holds(&json!({"unlawful_absence_pct": 15.5})));
        assert!(!c.holds(&json!({"unlawful_absence_pct": 14.9})));
        assert!(!c.holds(&json!({"unlawful_absence_pct": "15"})));
        assert!(!c.holds(&json!({})));
    }

    #[test]
    fn compares_strings_and_nested_paths() {
        let c = Condition::parse("period.kind == 'quarter'").unwrap();
        assert!(c.holds(&json!({"period": {"kind": "quarter"}})));
        assert!(!c.holds(&json!({"period": {"kind": "week"}})));
        let c = Condition::parse("event != \"admission\"").unwrap();
        assert!(c.holds(&json!({"event": "dropout"})));
        assert!(!c.holds(&json!({})), "a missing value fails even `!=`");
    }

    #[test]
    fn rejects_malformed_conditions() {
        assert!(Condition::parse("pct").is_err());
        assert!(Condition::parse("pct >= lots").is_err());
        assert!(Condition::parse("Pct >= 1").is_err());
        assert!(Condition::parse("event >= \"x\"").is_err());
    }
}
