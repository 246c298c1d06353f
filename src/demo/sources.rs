//! The demo's simulated source systems: social services, PPR and the job centre, holding records for
//! Emma, Silas and Mohammed — including fields that must never pass (special categories, free text
//! with phone numbers, fields the flows do not list, fields the categories do not even declare).

use serde_json::json;

use super::cases::Case;
use crate::sources::simulated::{self, Records};

/// Starts one simulated system per source department; returns (department, base URL) pairs.
pub async fn start(cases: &[Case]) -> std::io::Result<Vec<(String, String)>> {
    let cpr = |name: &str| {
        cases
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.cpr.clone())
            .unwrap_or_default()
    };
    let (emma, silas, mohammed) = (cpr("Emma"), cpr("Silas"), cpr("Mohammed"));

    let mut social = Records::default();
    social.insert(&emma, "social.measures", json!({
        "active": true,
        "caseworker": {"name": "Sofie Holm", "phone": "+45 33 12 34 56"},
        "measures": [{"type": "familiebehandling", "start": "2026-03-01", "decided_by": "Børne- og familieudvalget"}],
        "family_notes": "Mor (tlf. 22 33 44 55) ønsker et møde; skriv til mor@example.dk",
        "reasons": "angst efter forældrenes skilsmisse",
        "case_number": "SAG-2026-0042"
    }));
    social.insert(
        &silas,
        "social.measures",
        json!({
            "active": true,
            "caseworker": {"name": "Mikkel Dahl", "phone": "33 12 34 99"},
            "measures": [{"type": "efterværn", "start": "2025-09-01"}],
            "family_notes": "Bor alene; kontakt via sms",
            "reasons": "ADHD; hashmisbrug"
        }),
    );

    let mut ppr = Records::default();
    ppr.insert(
        &mohammed,
        "ppr.assessment",
        json!({
            "status": "done",
            "recommended_support": "ordblindeundervisning og IT-rygsæk",
            "diagnosis": "dysleksi",
            "psychologist_notes": "Samtale med far, tlf. 40 50 60 70, om lektiehjælp",
            "test_scores": [12, 9, 14]
        }),
    );
    ppr.insert(
        &emma,
        "ppr.assessment",
        json!({"status": "pending", "recommended_support": ""}),
    );

    let mut job = Records::default();
    job.insert(
        &silas,
        "job.status",
        json!({
            "benefit_type": "uddannelseshjælp",
            "mentor": true,
            "health_notes": "ADHD, i medicinsk behandling",
            "criminal_record": "betinget dom 2025"
        }),
    );

    let mut started = Vec::new();
    for (department, records) in [
        ("social-services", social),
        ("ppr", ppr),
        ("jobcenter", job),
    ] {
        let (url, _handle) = simulated::spawn(records).await?;
        started.push((department.to_owned(), url));
    }
    Ok(started)
}
