//! The DPO's API: queries with every filter and cursor paging, the subject report (GDPR Art. 15
//! as CJEU C-579/21 reads it), the streamed export that the Python verifier accepts, statistics.

use std::{path::PathBuf, sync::Arc};

use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};
use sluse::{
    app::{AppState, Application},
    audit::{
        AuditDecision, AuditReason, AuditRecord, ChainedRecord, Outcome, Requester,
        report::iso_week,
    },
    auth::Role,
    clock::{SharedClock, SystemClock},
    config::Config,
    cpr::{Cpr, Pseudonym},
    policy::{Basis, BasisKind},
};
use tempfile::TempDir;
use tokio::task::JoinHandle;

use crate::{
    helpers::{Backend, Options, drop_pg_database, prepare, problem},
    tokens::TestKeys,
};

/// Two subjects (CPR numbers valid by date; never real people).
pub const EMMA: &str = "010110-4123";
pub const SILAS: &str = "020207-4321";

/// A gateway with its state at hand, so records can be appended through its own audit log.
pub struct DpoApp {
    pub base: String,
    pub keys: TestKeys,
    pub state: AppState,
    pub client: reqwest::Client,
    pub dir: TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _task: JoinHandle<std::io::Result<()>>,
    pg: Option<(String, String)>,
}

impl DpoApp {
    pub async fn start(backend: Backend) -> DpoApp {
        Self::start_with_clock(backend, Arc::new(SystemClock)).await
    }

    pub async fn start_with_clock(backend: Backend, clock: SharedClock) -> DpoApp {
        Self::start_with(Options {
            backend,
            clock,
            ..Options::default()
        })
        .await
    }

    pub async fn start_with(options: Options) -> DpoApp {
        let clock = options.clock.clone();
        let (dir, config_path, keys, pg) = prepare(&options).await;
        let app = Application::build(Config::load(&config_path).unwrap(), clock)
            .await
            .unwrap();
        let base = format!("http://{}", app.local_addr().unwrap());
        let state = app.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        DpoApp {
            base,
            keys,
            state,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            dir,
            stop: Some(stop),
            _task: task,
            pg,
        }
    }

    pub fn dpo(&self) -> String {
        self.keys.token("dpo-1", "dpo-office", "dpo")
    }

    pub fn pseudonym(&self, cpr: &str) -> Pseudonym {
        Cpr::parse(cpr)
            .unwrap()
            .pseudonym(self.state.pseudonym_key())
    }

    pub async fn append(&self, records: Vec<AuditRecord>) -> Vec<ChainedRecord> {
        self.state.audit().append_many(records).await.unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `POST /v1/audit/query` as the DPO; the records' seqs and the next cursor.
    async fn query(&self, body: Value) -> (Vec<u64>, Option<String>) {
        let response = self.post("/v1/audit/query", &self.dpo(), &body).await;
        assert_eq!(response.status(), 200, "{body}");
        let answer: Value = response.json().await.unwrap();
        let seqs = answer["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect();
        (seqs, answer["next_cursor"].as_str().map(str::to_owned))
    }
}

impl Drop for DpoApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some((admin, name)) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(drop_pg_database(&admin, &name));
            })
            .join();
        }
    }
}

/// A record to shape per test.
pub struct Rec {
    pub at: Timestamp,
    pub sub: &'static str,
    pub dept: &'static str,
    pub subject: Option<Pseudonym>,
    pub category: &'static str,
    pub source: &'static str,
    pub recipient: &'static str,
    pub outcome: Outcome,
    pub basis: Option<(BasisKind, &'static str)>,
    pub reason: Option<&'static str>,
}

impl Rec {
    pub fn build(self) -> AuditRecord {
        let decision = if matches!(self.outcome, Outcome::Denied | Outcome::Withheld) {
            AuditDecision::Deny
        } else {
            AuditDecision::Permit
        };
        let disclosed = matches!(self.outcome, Outcome::Disclosed | Outcome::Delivered);
        AuditRecord {
            disclosure_id: uuid::Uuid::now_v7(),
            at: self.at,
            requester: Requester {
                sub: self.sub.to_owned(),
                dept: self.dept.to_owned(),
                role: Role::Caseworker,
            },
            subject_pseudonym: self.subject,
            category: self.category.to_owned(),
            purpose: "kui.coordination".to_owned(),
            source: Some(self.source.to_owned()),
            recipient: Some(self.recipient.to_owned()),
            decision,
            outcome: self.outcome,
            basis: self.basis.map(|(kind, id)| Basis {
                kind,
                id: id.to_owned(),
            }),
            reasons: self
                .reason
                .map(|code| AuditReason {
                    code: code.to_owned(),
                    message: format!("refused: {code}, \"quoted\", with a comma"),
                })
                .into_iter()
                .collect(),
            fields_disclosed: if disclosed {
                vec!["absence.percent".to_owned()]
            } else {
                vec![]
            },
            fields_redacted: if disclosed {
                vec!["absence.reason".to_owned()]
            } else {
                vec![]
            },
            payload_digest: disclosed.then(|| "ab".repeat(32)),
            policy_version: "test-1".to_owned(),
        }
    }
}

pub fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Seven records about Emma and Silas (seq 1–7), then 23 about no one (seq 8–30).
pub async fn seed(app: &DpoApp) -> Vec<ChainedRecord> {
    let emma = Some(app.pseudonym(EMMA));
    let silas = Some(app.pseudonym(SILAS));
    let mut records = vec![
        // 1: Emma's absence, disclosed to the youth unit on consent.
        Rec {
            at: at("2026-03-02T10:00:00Z"),
            sub: "kp-anna",
            dept: "youth-unit",
            subject: emma.clone(),
            category: "school.absence",
            source: "school-north",
            recipient: "youth-unit",
            outcome: Outcome::Disclosed,
            basis: Some((BasisKind::Consent, "consent-1")),
            reason: None,
        },
        // 2: refused to social services.
        Rec {
            at: at("2026-03-03T10:00:00Z"),
            sub: "cw-bo",
            dept: "social-services",
            subject: emma.clone(),
            category: "school.absence",
            source: "school-north",
            recipient: "social-services",
            outcome: Outcome::Denied,
            basis: None,
            reason: Some("no_consent"),
        },
        // 3: Silas's education status, delivered as a notice on a legal basis.
        Rec {
            at: at("2026-03-04T10:00:00Z"),
            sub: "edu-system",
            dept: "fgu-east",
            subject: silas.clone(),
            category: "education.status",
            source: "fgu-east",
            recipient: "youth-unit",
            outcome: Outcome::Delivered,
            basis: Some((BasisKind::Legal, "kui-12c")),
            reason: None,
        },
        // 4: permitted for Emma, but the source had nothing: not in her report.
        Rec {
            at: at("2026-03-05T10:00:00Z"),
            sub: "kp-anna",
            dept: "youth-unit",
            subject: emma.clone(),
            category: "social.measures",
            source: "social-services",
            recipient: "youth-unit",
            outcome: Outcome::NotFound,
            basis: Some((BasisKind::Consent, "consent-1")),
            reason: None,
        },
        // 5: Silas's notice withheld from the job centre.
        Rec {
            at: at("2026-03-06T10:00:00Z"),
            sub: "edu-system",
            dept: "fgu-east",
            subject: silas.clone(),
            category: "education.status",
            source: "fgu-east",
            recipient: "jobcenter",
            outcome: Outcome::Withheld,
            basis: None,
            reason: Some("no_flow"),
        },
        // 6: Emma's absence delivered to social services under the duty to notify.
        Rec {
            at: at("2026-03-07T10:00:00Z"),
            sub: "school-sys",
            dept: "school-north",
            subject: emma.clone(),
            category: "school.absence",
            source: "school-north",
            recipient: "social-services",
            outcome: Outcome::Delivered,
            basis: Some((BasisKind::Legal, "barnets-lov-133")),
            reason: None,
        },
        // 7: the youth unit asks social services about Silas.
        Rec {
            at: at("2026-03-08T10:00:00Z"),
            sub: "kp-anna",
            dept: "youth-unit",
            subject: silas.clone(),
            category: "social.measures",
            source: "social-services",
            recipient: "youth-unit",
            outcome: Outcome::Disclosed,
            basis: Some((BasisKind::Consent, "consent-2")),
            reason: None,
        },
    ];
    for i in 0..23 {
        records.push(Rec {
            at: at("2026-03-10T10:00:00Z") + (i as i64).minutes(),
            sub: "cw-filler",
            dept: "youth-unit",
            subject: None,
            category: "education.status",
            source: "fgu-east",
            recipient: "youth-unit",
            outcome: Outcome::Disclosed,
            basis: Some((BasisKind::Legal, "kui-15d")),
            reason: None,
        });
    }
    let built: Vec<AuditRecord> = records.into_iter().map(Rec::build).collect();
    app.append(built).await
}

#[tokio::test]
async fn only_the_dpo_may_use_the_audit_api() {
    let app = DpoApp::start(Backend::Sqlite).await;
    let caseworker = app.keys.token("cw-1", "youth-unit", "caseworker");
    let admin = app.keys.token("ad-1", "dpo-office", "admin");
    for token in [&caseworker, &admin] {
        for (path, body) in [
            ("/v1/audit/query", json!({})),
            ("/v1/audit/subject-report", json!({"subject": EMMA})),
        ] {
            problem(app.post(path, token, &body).await, 403).await;
        }
        for path in ["/v1/audit/export?format=jsonl", "/v1/audit/stats"] {
            problem(app.get(path, token).await, 403).await;
        }
    }
    let anonymous = app
        .client
        .post(format!("{}/v1/audit/query", app.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
    let anonymous = app
        .client
        .get(format!("{}/v1/audit/export", app.base))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
}

#[tokio::test]
async fn queries_filter_by_subject_requester_department_decision_and_time_newest_first() {
    for backend in Backend::all() {
        let app = DpoApp::start(backend.clone()).await;
        let chained = seed(&app).await;
        assert_eq!(chained.len(), 30);

        // Emma, newest first; the CPR number is accepted with or without the dash.
        let (seqs, next) = app.query(json!({"subject": EMMA})).await;
        assert_eq!(seqs, [6, 4, 2, 1], "{backend:?}");
        assert_eq!(next, None);
        let (seqs, _) = app.query(json!({"subject": "0101104123"})).await;
        assert_eq!(seqs, [6, 4, 2, 1]);

        let (seqs, _) = app.query(json!({"requester": "kp-anna"})).await;
        assert_eq!(seqs, [7, 4, 1]);

        // A department matches as source or as recipient.
        let (seqs, _) = app.query(json!({"department": "social-services"})).await;
        assert_eq!(seqs, [7, 6, 4, 2]);
        let (seqs, _) = app.query(json!({"department": "school-north"})).await;
        assert_eq!(seqs, [6, 2, 1]);

        let (seqs, _) = app.query(json!({"decision": "deny"})).await;
        assert_eq!(seqs, [5, 2]);

        // `from` includes, `to` excludes an instant; a date `to` includes the whole day.
        let (seqs, _) = app
            .query(json!({"from": "2026-03-03T10:00:00Z", "to": "2026-03-06T10:00:00Z"}))
            .await;
        assert_eq!(seqs, [4, 3, 2]);
        let (seqs, _) = app
            .query(json!({"from": "2026-03-03", "to": "2026-03-06"}))
            .await;
        assert_eq!(seqs, [5, 4, 3, 2]);

        // Filters combine.
        let (seqs, _) = app
            .query(json!({"subject": SILAS, "department": "youth-unit", "decision": "permit"}))
            .await;
        assert_eq!(seqs, [7, 3]);

        // Every record carries the API.md fields, and no CPR number.
        let answer: Value = app
            .post(
                "/v1/audit/query",
                &app.dpo(),
                &json!({"subject": EMMA, "limit": 1}),
            )
            .await
            .json()
            .await
            .unwrap();
        let record = &answer["records"][0];
        for key in [
            "disclosure_id",
            "at",
            "requester",
            "subject_pseudonym",
            "category",
            "purpose",
            "source",
            "recipient",
            "decision",
            "outcome",
            "basis",
            "reasons",
            "fields_disclosed",
            "fields_redacted",
            "policy_version",
            "prev_hash",
            "hash",
        ] {
            assert!(
                record.get(key).is_some(),
                "record without `{key}`: {record}"
            );
        }
        assert_eq!(record["requester"]["sub"], "school-sys");
        assert_eq!(record["hash"], chained[5].hash.as_str());
        // The subject's CPR number in none of its spellings (hex hashes may contain "4123").
        let text = answer.to_string();
        for spelling in ["010110-4123", "0101104123", "010110 4123"] {
            assert!(!text.contains(spelling), "{answer}");
        }
    }
}

#[tokio::test]
async fn cursor_paging_walks_every_record_once_newest_first() {
    for backend in Backend::all() {
        let app = DpoApp::start(backend.clone()).await;
        seed(&app).await;
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut body = json!({"limit": 7});
            if let Some(c) = &cursor {
                body["cursor"] = json!(c);
            }
            let (seqs, next) = app.query(body).await;
            assert!(seqs.len() <= 7);
            seen.extend(seqs);
            pages += 1;
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(pages, 5, "{backend:?}");
        assert_eq!(seen, (1..=30).rev().collect::<Vec<u64>>());

        // The default page is 100; a filter pages too.
        let (seqs, next) = app.query(json!({})).await;
        assert_eq!((seqs.len(), next), (30, None));
        let (first, next) = app
            .query(json!({"department": "youth-unit", "limit": 20}))
            .await;
        assert_eq!(first.len(), 20);
        let (rest, none) = app
            .query(json!({"department": "youth-unit", "limit": 20, "cursor": next.unwrap()}))
            .await;
        assert_eq!(none, None);
        assert_eq!(rest, [10, 9, 8, 7, 4, 3, 1]);
    }
}

#[tokio::test]
async fn bad_query_input_is_a_400_naming_the_field() {
    let app = DpoApp::start(Backend::Sqlite).await;
    for (body, field) in [
        (json!({"limit": 0}), "limit"),
        (json!({"limit": 1001}), "limit"),
        (json!({"cursor": "not-a-cursor"}), "cursor"),
        (json!({"from": "last tuesday"}), "from"),
        (json!({"to": "2026-13-01"}), "to"),
        (json!({"decision": "maybe"}), "decision"),
        (json!({"subject": "0101104124x"}), "subject"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let p = problem(app.post("/v1/audit/query", &app.dpo(), &body).await, 400).await;
        assert_eq!(p["field"], field, "{body}: {p}");
        assert!(!p.to_string().contains("010110"), "{p}");
    }
    let (seqs, _) = app.query(json!({"limit": 1000})).await;
    assert!(seqs.is_empty());
}

#[tokio::test]
async fn the_subject_report_names_dates_purposes_and_departments_never_employees() {
    for backend in Backend::all() {
        let app = DpoApp::start(backend.clone()).await;
        seed(&app).await;
        let response = app
            .post(
                "/v1/audit/subject-report",
                &app.dpo(),
                &json!({"subject": EMMA}),
            )
            .await;
        assert_eq!(response.status(), 200);
        let report: Value = response.json().await.unwrap();
        assert_eq!(
            report["subject_pseudonym"],
            app.pseudonym(EMMA).as_str(),
            "{backend:?}"
        );
        let lines = report["disclosures"].as_array().unwrap();
        // Oldest first: the disclosure, the refusal, the delivery; the not-found permit is not one.
        let summary: Vec<(&str, &str, &str)> = lines
            .iter()
            .map(|l| {
                (
                    l["at"].as_str().unwrap(),
                    l["recipient"].as_str().unwrap(),
                    l["decision"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("2026-03-02T10:00:00.000000Z", "youth-unit", "permit"),
                ("2026-03-03T10:00:00.000000Z", "social-services", "deny"),
                ("2026-03-07T10:00:00.000000Z", "social-services", "permit"),
            ]
        );
        assert_eq!(lines[0]["purpose"], "kui.coordination");
        assert_eq!(lines[0]["category"], "school.absence");
        assert_eq!(
            lines[0]["basis"],
            json!({"kind": "consent", "id": "consent-1"})
        );
        assert_eq!(
            lines[2]["basis"],
            json!({"kind": "legal", "id": "barnets-lov-133"})
        );
        // C-579/21: exactly these fields — no requester, no employee, no other subject.
        for line in lines {
            let keys: Vec<&str> = line
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut keys = keys;
            keys.sort_unstable();
            assert_eq!(
                keys,
                [
                    "at",
                    "basis",
                    "category",
                    "decision",
                    "purpose",
                    "recipient"
                ]
            );
        }
        let text = report.to_string();
        for employee in ["kp-anna", "cw-bo", "school-sys", "requester"] {
            assert!(!text.contains(employee), "`{employee}` in {text}");
        }
        assert!(!text.contains(app.pseudonym(SILAS).as_str()));
        assert!(!text.contains("fgu-east"));

        // A subject with no records gets an empty report.
        let empty: Value = app
            .post(
                "/v1/audit/subject-report",
                &app.dpo(),
                &json!({"subject": "030303-1234"}),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(empty["disclosures"], json!([]));
    }
}

fn python3() -> Option<&'static str> {
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "python3")
}

#[tokio::test]
async fn the_jsonl_export_streams_the_cli_format_and_the_python_verifier_accepts_it() {
    for backend in Backend::all() {
        let app = DpoApp::start(backend.clone()).await;
        let chained = seed(&app).await;
        // More than one page of the stream (1000 records a page).
        let more: Vec<AuditRecord> = (0..1200)
            .map(|i| {
                Rec {
                    at: at("2026-03-11T10:00:00Z") + (i as i64).seconds(),
                    sub: "cw-bulk",
                    dept: "youth-unit",
                    subject: None,
                    category: "education.status",
                    source: "fgu-east",
                    recipient: "youth-unit",
                    outcome: Outcome::Disclosed,
                    basis: Some((BasisKind::Legal, "kui-15d")),
                    reason: None,
                }
                .build()
            })
            .collect();
        let more = app.append(more).await;
        let head = more.last().unwrap().hash.clone();

        let response = app.get("/v1/audit/export?format=jsonl", &app.dpo()).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "application/x-ndjson");
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment")
        );
        let body = response.text().await.unwrap();
        assert_eq!(body.lines().count(), 1230, "{backend:?}");

        // Line for line what `sluse audit export` writes.
        let mut cli = Vec::new();
        sluse::audit::cli::write_jsonl(app.state.store(), &mut cli)
            .await
            .unwrap();
        assert_eq!(body.as_bytes(), cli.as_slice());
        let first: ChainedRecord = serde_json::from_str(body.lines().next().unwrap()).unwrap();
        assert_eq!(first, chained[0]);

        // The default format is JSON Lines.
        let default = app.get("/v1/audit/export", &app.dpo()).await;
        assert_eq!(default.text().await.unwrap(), body);

        let Some(python) = python3() else {
            eprintln!("python3 not found; skipping the Python verifier round trip");
            continue;
        };
        let file = app.dir.path().join("http-export.jsonl");
        std::fs::write(&file, &body).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/verify_export.py");
        let out = std::process::Command::new(python)
            .arg(&script)
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("ok 1230 {head}")
        );
        assert_eq!(out.status.code(), Some(0));
    }
}

#[tokio::test]
async fn the_csv_export_has_a_header_and_one_row_per_record() {
    for backend in Backend::all() {
        let app = DpoApp::start(backend.clone()).await;
        let chained = seed(&app).await;
        let response = app.get("/v1/audit/export?format=csv", &app.dpo()).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/csv; charset=utf-8"
        );
        assert!(
            response.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("sluse-audit.csv")
        );
        let body = response.text().await.unwrap();
        let rows: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(rows.len(), 31, "{backend:?}");
        assert!(rows[0].starts_with("seq,disclosure_id,at,requester_sub,"));
        assert!(rows[0].ends_with(",prev_hash,hash"));
        // Row 2 (seq 2) is a refusal: its reasons are JSON in one quoted cell.
        assert!(rows[2].starts_with("2,"), "{}", rows[2]);
        assert!(
            rows[2].contains(r#""[{""code"":""no_consent"",""message"":""refused: no_consent, \""quoted\"", with a comma""}]""#),
            "{}",
            rows[2]
        );
        assert!(
            rows[1].contains(r#""[""absence.percent""]""#),
            "{}",
            rows[1]
        );
        assert!(rows[30].ends_with(&chained[29].hash));
    }
    let app = DpoApp::start(Backend::Sqlite).await;
    let p = problem(
        app.get("/v1/audit/export?format=xml", &app.dpo()).await,
        400,
    )
    .await;
    assert_eq!(p["field"], "format");
}

#[tokio::test]
async fn statistics_count_disclosures_and_refusals_per_department_category_basis_and_week() {
    for backend in Backend::all() {
        // Wednesday 2026-03-11 12:00 Copenhagen.
        let now = at("2026-03-11T11:00:00Z");
        let clock: SharedClock = Arc::new(sluse::clock::FixedClock(now));
        let app = DpoApp::start_with_clock(backend.clone(), clock.clone()).await;
        let emma = Some(app.pseudonym(EMMA));
        let rec = |at_: Timestamp, recipient, outcome, basis, reason| {
            Rec {
                at: at_,
                sub: "cw",
                dept: "youth-unit",
                subject: emma.clone(),
                category: if recipient == "youth-unit" {
                    "school.absence"
                } else {
                    "social.measures"
                },
                source: "school-north",
                recipient,
                outcome,
                basis,
                reason,
            }
            .build()
        };
        let legal = Some((BasisKind::Legal, "kui-12c"));
        let consent = Some((BasisKind::Consent, "c-1"));
        app.append(vec![
            // This week (W11).
            rec(
                now - 1.hours(),
                "youth-unit",
                Outcome::Disclosed,
                legal,
                None,
            ),
            rec(
                now - 2.hours(),
                "youth-unit",
                Outcome::Delivered,
                consent,
                None,
            ),
            rec(
                now - 3.hours(),
                "social-services",
                Outcome::Denied,
                None,
                Some("no_consent"),
            ),
            // Sunday 2026-03-08 23:30 Copenhagen = 22:30 UTC: still week 10 locally.
            rec(
                at("2026-03-08T22:30:00Z"),
                "social-services",
                Outcome::Disclosed,
                legal,
                None,
            ),
            // Monday 00:30 Copenhagen = Sunday 23:30 UTC: week 11 locally.
            rec(
                at("2026-03-08T23:30:00Z"),
                "youth-unit",
                Outcome::Withheld,
                None,
                Some("no_flow"),
            ),
            // Three weeks back (W08).
            rec(
                at("2026-02-17T10:00:00Z"),
                "youth-unit",
                Outcome::NotFound,
                legal,
                None,
            ),
            rec(
                at("2026-02-17T11:00:00Z"),
                "youth-unit",
                Outcome::Denied,
                None,
                Some("no_consent"),
            ),
            // Long ago: outside any window asked for below.
            rec(
                at("2025-01-01T10:00:00Z"),
                "youth-unit",
                Outcome::Disclosed,
                legal,
                None,
            ),
        ])
        .await;

        let stats: Value = app
            .get("/v1/audit/stats?weeks=4", &app.dpo())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stats["weeks"], 4, "{backend:?}");
        assert_eq!(stats["since"], "2026-02-15T23:00:00.000000Z");
        assert_eq!(stats["total"], json!({"disclosures": 3, "refusals": 3}));
        let weeks: Vec<(String, u64, u64)> = stats["by_week"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["week"].as_str().unwrap().to_owned(),
                    w["disclosures"].as_u64().unwrap(),
                    w["refusals"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            weeks,
            [
                ("2026-W08".to_owned(), 0, 1),
                ("2026-W09".to_owned(), 0, 0),
                ("2026-W10".to_owned(), 1, 0),
                ("2026-W11".to_owned(), 2, 2),
            ]
        );
        assert_eq!(iso_week(clock.today()), "2026-W11");
        assert_eq!(
            stats["by_week"][3]["disclosures_by_recipient"],
            json!({"youth-unit": 2})
        );
        assert_eq!(
            stats["by_recipient"],
            json!([
                {"key": "social-services", "disclosures": 1, "refusals": 1},
                {"key": "youth-unit", "disclosures": 2, "refusals": 2},
            ])
        );
        assert_eq!(
            stats["by_category"],
            json!([
                {"key": "school.absence", "disclosures": 2, "refusals": 2},
                {"key": "social.measures", "disclosures": 1, "refusals": 1},
            ])
        );
        assert_eq!(
            stats["by_basis"],
            json!([
                {"key": "consent:c-1", "disclosures": 1, "refusals": 0},
                {"key": "legal:kui-12c", "disclosures": 2, "refusals": 0},
            ])
        );
        assert_eq!(
            stats["refusals_by_reason"],
            json!([
                {"code": "no_consent", "refusals": 2},
                {"code": "no_flow", "refusals": 1},
            ])
        );

        // The default is 12 weeks; the long-ago record stays out.
        let default: Value = app
            .get("/v1/audit/stats", &app.dpo())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(default["by_week"].as_array().unwrap().len(), 12);
        assert_eq!(default["total"], json!({"disclosures": 3, "refusals": 3}));
    }
    let app = DpoApp::start(Backend::Sqlite).await;
    for bad in ["0", "521", "x"] {
        let p = problem(
            app.get(&format!("/v1/audit/stats?weeks={bad}"), &app.dpo())
                .await,
            400,
        )
        .await;
        assert_eq!(p["field"], "weeks");
    }
}
