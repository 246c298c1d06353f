//! Charts as server-rendered SVG: no script, no external resource, every label escaped.

use std::fmt::Write as _;

use crate::audit::report::{ReasonCount, WeekTally};

/// Colours of the series, in order (repeated past the last).
const PALETTE: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
];

/// Escapes text for an SVG (XML) text node or attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Disclosures per ISO week, stacked by recipient department, with a legend.
pub fn disclosures_per_week(weeks: &[WeekTally]) -> String {
    let mut departments: Vec<&str> = weeks
        .iter()
        .flat_map(|w| w.disclosures_by_recipient.keys().map(String::as_str))
        .collect();
    departments.sort_unstable();
    departments.dedup();
    let max = weeks
        .iter()
        .map(|w| w.disclosures_by_recipient.values().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (left, top, plot_h, bar_w, gap) = (40.0, 10.0, 180.0, 28.0, 12.0);
    let width = left + (bar_w + gap) * weeks.len() as f64 + gap;
    let legend_rows = departments.len();
    let height = top + plot_h + 40.0 + 18.0 * legend_rows as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}"><title>Disclosures per week by recipient department</title>"#
    );
    let axis_y = top + plot_h;
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}" stroke="#333"/><line x1="{left}" y1="{axis_y}" x2="{width:.0}" y2="{axis_y}" stroke="#333"/><text x="{x}" y="{ty}" font-size="11" text-anchor="end">{max}</text><text x="{x}" y="{axis_y}" font-size="11" text-anchor="end">0</text>"##,
        x = left - 4.0,
        ty = top + 10.0,
    );
    for (i, week) in weeks.iter().enumerate() {
        let x = left + gap + (bar_w + gap) * i as f64;
        let mut y = axis_y;
        for (d, dept) in departments.iter().enumerate() {
            let n = week
                .disclosures_by_recipient
                .get(*dept)
                .copied()
                .unwrap_or(0);
            if n == 0 {
                continue;
            }
            let h = plot_h * n as f64 / max as f64;
            y -= h;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar_w}" height="{h:.1}" fill="{fill}"><title>{week} {dept}: {n}</title></rect>"#,
                fill = PALETTE[d % PALETTE.len()],
                week = escape(&week.week),
                dept = escape(dept),
            );
        }
        let label = week.week.rsplit('-').next().unwrap_or(&week.week);
        let _ = write!(
            svg,
            r#"<text x="{cx:.1}" y="{ly:.1}" font-size="10" text-anchor="middle">{label}</text>"#,
            cx = x + bar_w / 2.0,
            ly = axis_y + 14.0,
            label = escape(label),
        );
    }
    for (d, dept) in departments.iter().enumerate() {
        let y = axis_y + 30.0 + 18.0 * d as f64;
        let _ = write!(
            svg,
            r#"<rect x="{left}" y="{y:.1}" width="12" height="12" fill="{fill}"/><text x="{tx}" y="{ty:.1}" font-size="12">{dept}</text>"#,
            fill = PALETTE[d % PALETTE.len()],
            tx = left + 18.0,
            ty = y + 11.0,
            dept = escape(dept),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Refusals per reason code, as horizontal bars.
pub fn refusals_by_reason(reasons: &[ReasonCount]) -> String {
    let max = reasons.iter().map(|r| r.refusals).max().unwrap_or(0).max(1);
    let (label_w, bar_max, row_h) = (200.0, 360.0, 22.0);
    let width = label_w + bar_max + 60.0;
    let height = (row_h * reasons.len() as f64).max(row_h) + 8.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}"><title>Refusals by reason</title>"#
    );
    if reasons.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="4" y="16" font-size="12">No refusals in this period.</text>"#
        );
    }
    for (i, r) in reasons.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let w = bar_max * r.refusals as f64 / max as f64;
        let _ = write!(
            svg,
            r##"<text x="{lx}" y="{ty:.1}" font-size="12" text-anchor="end">{code}</text><rect x="{label_w}" y="{y:.1}" width="{w:.1}" height="16" fill="#d62728"/><text x="{nx:.1}" y="{ty:.1}" font-size="12">{n}</text>"##,
            lx = label_w - 6.0,
            ty = y + 12.0,
            code = escape(&r.code),
            nx = label_w + w + 4.0,
            n = r.refusals,
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::audit::report::Tally;

    #[test]
    fn labels_are_escaped_and_bars_drawn() {
        let week = WeekTally {
            week: "2026-W09".to_owned(),
            start: "2026-02-23".parse().unwrap(),
            tally: Tally::default(),
            disclosures_by_recipient: BTreeMap::from([("<b>&".to_owned(), 3)]),
        };
        let svg = disclosures_per_week(&[week]);
        assert!(svg.contains("&lt;b&gt;&amp;"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("<rect"));
        let svg = refusals_by_reason(&[ReasonCount {
            code: "no_consent".to_owned(),
            refusals: 2,
        }]);
        assert!(svg.contains("no_consent"));
    }
}
