//! The walkthrough `sluse demo` prints: the seeds' stories as `curl` lines a person can paste.

use std::fmt::Write;

use super::cases::{CONTACT_PERSON, Case};

/// The walkthrough text for a gateway at `base`.
pub fn text(base: &str, cases: &[Case], explained: &str) -> String {
    let cpr = |name: &str| {
        cases
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.cpr.clone())
            .unwrap_or_default()
    };
    let mut out = String::new();
    let mut line = |s: &str| {
        let _ = writeln!(out, "{s}");
    };
    line(&format!(
        "Demo cases (fictitious CPR numbers; their contact person is `{CONTACT_PERSON}`):"
    ));
    for case in cases {
        line(&format!(
            "  {:<9} {}  age {:>2}  {}",
            case.name, case.cpr, case.age, case.story
        ));
    }
    line("");
    line("Walkthrough — paste the export lines above, then:");
    line(&format!(
        "  B={base}; EMMA={}; SILAS={}; MOHAMMED={}",
        cpr("Emma"),
        cpr("Silas"),
        cpr("Mohammed")
    ));
    line("  J='content-type: application/json'");
    line("");
    line("1. Nordskolen sends an absence notice for Emma: 18 % unlawful absence this quarter.");
    line(
        "   Social services get it under the duty to notify (no consent needed); the youth unit gets only",
    );
    line(
        "   the period and a band, on Emma's consent. Her lawful absence reasons (health) go to nobody.",
    );
    line(
        "   curl -s -X POST $B/v1/notices -H \"Authorization: Bearer $TOKEN_NORDSKOLEN_SYSTEM\" -H \"$J\" \\",
    );
    line(
        "     -H 'Idempotency-Key: emma-q3-absence' -d '{\"kind\":\"absence\",\"subject\":\"'$EMMA'\",\"data\":",
    );
    line(
        "     {\"period\":{\"from\":\"2026-08-10\",\"to\":\"2026-10-31\"},\"unlawful_absence_pct\":18,\"absence_band\":\">=15\",",
    );
    line(
        "      \"parent_contacts\":3,\"actions_taken\":\"Ringet til mor på 22 33 44 55\",\"absence_reasons\":\"migræne\"}}'",
    );
    line(
        "   curl -s $B/v1/inbox -H \"Authorization: Bearer $TOKEN_SOFIE_SOCIAL\"     # social services' copy",
    );
    line(
        "   curl -s $B/v1/inbox -H \"Authorization: Bearer $TOKEN_JONAS_KP\"         # the youth unit's copy",
    );
    line("");
    line(
        "2. Her contact person asks social services whether a measure is active, and who the caseworker is.",
    );
    line(
        "   curl -s -X POST $B/v1/requests -H \"Authorization: Bearer $TOKEN_JONAS_KP\" -H \"$J\" \\",
    );
    line(
        "     -d '{\"subject\":\"'$EMMA'\",\"category\":\"social.measures\",\"purpose\":\"kui.contact_person\",\"source\":\"social-services\"}'",
    );
    line("   What decided it (the output of `sluse policy explain` for this request):");
    for l in explained.lines() {
        line(&format!("     {l}"));
    }
    line("");
    line("3. Mohammed's PPR status: his consent does not cover his diagnosis, so it is cut …");
    line(
        "   curl -s -X POST $B/v1/requests -H \"Authorization: Bearer $TOKEN_JONAS_KP\" -H \"$J\" \\",
    );
    line(
        "     -d '{\"subject\":\"'$MOHAMMED'\",\"category\":\"ppr.assessment\",\"purpose\":\"kui.contact_person\",\"source\":\"ppr\"}'",
    );
    line(
        "   … until he and his parents give explicit consent to it (GDPR Art. 9(2)(a)); then ask again:",
    );
    line(
        "   curl -s -X POST $B/v1/consents -H \"Authorization: Bearer $TOKEN_JONAS_KP\" -H \"$J\" -d '{\"subject\":\"'$MOHAMMED'\",",
    );
    line(
        "     \"given_by\":[{\"role\":\"subject\"},{\"role\":\"custody_holder\"}],\"scope\":{\"categories\":[\"ppr.assessment\"],",
    );
    line(
        "     \"recipients\":[\"youth-unit\"],\"purposes\":[\"kui.contact_person\"],\"special_categories\":true},",
    );
    line(
        "     \"valid_until\":\"2027-06-30\",\"evidence\":\"meeting note, signed by Mohammed and his father\"}'",
    );
    line("");
    line(
        "4. Silas (19) consented himself, including his health notes; his criminal record never passes.",
    );
    line(
        "   curl -s -X POST $B/v1/requests -H \"Authorization: Bearer $TOKEN_JONAS_KP\" -H \"$J\" \\",
    );
    line(
        "     -d '{\"subject\":\"'$SILAS'\",\"category\":\"job.status\",\"purpose\":\"kui.contact_person\",\"source\":\"jobcenter\"}'",
    );
    line("");
    line("5. The DPO checks the trail: every decision above is one record in a hash chain.");
    line("   curl -s $B/v1/audit/verify -H \"Authorization: Bearer $TOKEN_DORTE_DPO\"");
    line("");
    line("Stop with Ctrl-C.");
    out
}
