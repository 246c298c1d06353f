//! The trail as a file: JSON Lines (the form `tools/verify_export.py` checks) and CSV.
//!
//! Both are written a record at a time, so an export of any length needs constant memory.

use super::{ChainedRecord, StoredRecord};

impl StoredRecord {
    /// The chained record, or what is wrong with its stored columns (naming its `seq`).
    pub fn into_chained(self) -> Result<ChainedRecord, String> {
        let record = self
            .record
            .map_err(|problem| format!("record {}: {problem}", self.seq))?;
        Ok(ChainedRecord {
            seq: self.seq,
            record,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// One JSON Lines line (with its `\n`): the record as `sluse audit export` writes it and
/// `docs/audit-format.md` describes it.
pub fn jsonl_line(record: &ChainedRecord) -> Result<Vec<u8>, String> {
    let mut line = serde_json::to_vec(record).map_err(|e| e.to_string())?;
    line.push(b'\n');
    Ok(line)
}

/// The CSV header row (with its `\r\n`): one column per column of `audit_log`.
pub const CSV_HEADER: &str = "seq,disclosure_id,at,requester_sub,requester_dept,requester_role,\
subject_pseudonym,category,purpose,source,recipient,decision,outcome,basis_kind,basis_id,reasons,\
fields_disclosed,fields_redacted,payload_digest,policy_version,prev_hash,hash\r\n";

/// One CSV row (RFC 4180, with its `\r\n`). Lists are JSON text in one cell; an absent value is
/// an empty cell. A cell that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, CR at
/// the start) is prefixed with `'`: the CSV is for reading, the JSON Lines export for verifying.
pub fn csv_line(c: &ChainedRecord) -> String {
    let r = &c.record;
    let (basis_kind, basis_id) = match &r.basis {
        Some(b) => (
            Some(match b.kind {
                crate::policy::BasisKind::Consent => "consent",
                crate::policy::BasisKind::Legal => "legal",
            }),
            Some(b.id.as_str()),
        ),
        None => (None, None),
    };
    let cells: [String; 22] = [
        c.seq.to_string(),
        r.disclosure_id.hyphenated().to_string(),
        super::canonical::format_instant(r.at),
        r.requester.sub.clone(),
        r.requester.dept.clone(),
        r.requester.role.as_str().to_owned(),
        r.subject_pseudonym
            .as_ref()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        r.category.clone(),
        r.purpose.clone(),
        r.source.clone().unwrap_or_default(),
        r.recipient.clone().unwrap_or_default(),
        r.decision.as_str().to_owned(),
        r.outcome.as_str().to_owned(),
        basis_kind.unwrap_or_default().to_owned(),
        basis_id.unwrap_or_default().to_owned(),
        json_list(&r.reasons),
        json_list(&r.fields_disclosed),
        json_list(&r.fields_redacted),
        r.payload_digest.clone().unwrap_or_default(),
        r.policy_version.clone(),
        c.prev_hash.clone(),
        c.hash.clone(),
    ];
    let mut out = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_cell(cell));
    }
    out.push_str("\r\n");
    out
}

/// A list as JSON text for one cell (a list of strings or reasons always serializes).
fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// Quotes a cell when it needs it and defuses spreadsheet formulas.
fn csv_cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_cell("[\"a\",\"b\"]"), "\"[\"\"a\"\",\"\"b\"\"]\"");
    }
}
