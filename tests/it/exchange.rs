//! Disclosure on request (`POST /v1/requests`, API.md §5, §6, §8 F3/F4/F6, §9): through the real
//! router, on every backend, against real HTTP source systems spawned by the test — a small axum
//! server that counts its calls and can be told to fail in every way the source protocol names.
//!
//! The harness here (`World`, `Source`, the audit-table readers) is shared with `notices.rs`.

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use jiff::{ToSpan, civil::Date};
use serde_json::{Value, json};
use sluse::clock::{Clock, SystemClock};
use sqlx::Connection;
use tokio::task::JoinHandle;

use crate::helpers::{Backend, Options, TestApp, problem, spawn_with};

// ------------------------------------------------------------------------------------------------
// A source system the test controls
// ------------------------------------------------------------------------------------------------

/// How the test source answers `POST /sluse/v1/records`.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// The record it holds for (subject, category), or 404.
    Records,
    /// Sleeps this long, then answers as `Records`.
    Sleep(Duration),
    /// 200 with a body that is not JSON.
    NotJson,
    /// 200 with JSON that is not an object.
    NotAnObject,
    /// 200 with a JSON object of about this many bytes, with a `Content-Length`.
    Oversized(usize),
    /// 200 with a JSON object of about this many bytes, streamed without a `Content-Length`.
    OversizedChunked(usize),
    /// Another status.
    Status(u16),
    /// 200 and the start of a JSON object at once, the rest after this long.
    StallBody(Duration),
}

#[derive(Debug, Default)]
struct SourceState {
    records: Mutex<HashMap<(String, String), Value>>,
    behaviour: Mutex<Option<Behaviour>>,
    calls: AtomicUsize,
    queries: Mutex<Vec<Value>>,
}

/// A source system on 127.0.0.1: real HTTP, counting its calls.
pub struct Source {
    pub url: String,
    state: Arc<SourceState>,
    task: JoinHandle<()>,
}

impl Drop for Source {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn digits(subject: &str) -> String {
    subject.chars().filter(char::is_ascii_digit).collect()
}

async fn answer(State(state): State<Arc<SourceState>>, Json(query): Json<Value>) -> Response {
    state.calls.fetch_add(1, Ordering::SeqCst);
    state.queries.lock().unwrap().push(query.clone());
    let behaviour = state
        .behaviour
        .lock()
        .unwrap()
        .clone()
        .unwrap_or(Behaviour::Records);
    let big = |n: usize| json!({"active": true, "padding": "x".repeat(n)});
    match behaviour {
        Behaviour::Records => {}
        Behaviour::Sleep(d) => tokio::time::sleep(d).await,
        Behaviour::NotJson => {
            return (StatusCode::OK, "<html>active: true</html>").into_response();
        }
        Behaviour::NotAnObject => return Json(json!([{"active": true}])).into_response(),
        Behaviour::Oversized(n) => return Json(big(n)).into_response(),
        Behaviour::OversizedChunked(n) => {
            let text = big(n).to_string().into_bytes();
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                text.chunks(256).map(|c| Ok(c.to_vec())).collect();
            return Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .unwrap();
        }
        Behaviour::StallBody(d) => {
            let parts = futures_util::stream::unfold(0u8, move |step| async move {
                match step {
                    0 => Some((Ok::<_, std::io::Error>(b"{\"active\": ".to_vec()), 1)),
                    1 => {
                        tokio::time::sleep(d).await;
                        Some((Ok(b"true}".to_vec()), 2))
                    }
                    _ => None,
                }
            });
            return Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from_stream(parts))
                .unwrap();
        }
        Behaviour::Status(s) => {
            return (StatusCode::from_u16(s).unwrap(), "{\"error\": \"boom\"}").into_response();
        }
    }
    let key = (
        digits(query["subject"].as_str().unwrap_or_default()),
        query["category"].as_str().unwrap_or_default().to_owned(),
    );
    match state.records.lock().unwrap().get(&key) {
        Some(record) => Json(record.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

impl Source {
    pub async fn spawn() -> Source {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(SourceState::default());
        let app = Router::new()
            .route("/sluse/v1/records", post(answer))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Source { url, state, task }
    }

    /// Holds `record` for `subject` in `category`.
    pub fn insert(&self, subject: &str, category: &str, record: Value) {
        self.state
            .records
            .lock()
            .unwrap()
            .insert((digits(subject), category.to_owned()), record);
    }

    pub fn behave(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock().unwrap() = Some(behaviour);
    }

    /// How often the gateway asked.
    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// What the gateway asked, in order.
    pub fn queries(&self) -> Vec<Value> {
        self.state.queries.lock().unwrap().clone()
    }
}

/// A base URL where nothing listens (a port just bound and released).
pub async fn refusing_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A `[[sources]]` table.
pub fn source_toml(department: &str, url: &str, timeout_ms: u64, max_bytes: usize) -> String {
    format!(
        "[[sources]]\ndepartment = \"{department}\"\nurl = \"{url}\"\ntimeout_ms = {timeout_ms}\n\
         max_response_bytes = {max_bytes}\n"
    )
}

// ------------------------------------------------------------------------------------------------
// The world of a test: a gateway, a source for every source department, and helpers
// ------------------------------------------------------------------------------------------------

/// The youth unit's caseworker (assigns, records consents).
pub const CASEWORKER: (&str, &str, &str) = ("anna.kui", "youth-unit", "caseworker");
/// The assigned contact person.
pub const CONTACT: (&str, &str, &str) = ("jonas.kp", "youth-unit", "contact_person");
/// A contact person of the same unit who is assigned to nobody.
pub const OTHER_CONTACT: (&str, &str, &str) = ("karen.kp", "youth-unit", "contact_person");
/// The DPO.
pub const DPO: (&str, &str, &str) = ("dorte.dpo", "dpo-office", "dpo");

/// A gateway whose sources are all one test source (unless told otherwise).
pub struct World {
    pub app: TestApp,
    pub source: Source,
    pub today: Date,
    pub backend: &'static str,
}

impl World {
    pub async fn start(backend: Backend) -> World {
        World::start_with(backend, |_| None, None).await
    }

    /// `sources(url)` may give the `[[sources]]` tables (the test source's URL given).
    pub async fn start_with(
        backend: Backend,
        sources: impl FnOnce(&str) -> Option<String>,
        policies_dir: Option<std::path::PathBuf>,
    ) -> World {
        let name = match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        };
        // Printed with a failure's output, so it is clear which backend failed.
        eprintln!("backend: {name}");
        let source = Source::spawn().await;
        let extra_toml = sources(&source.url).unwrap_or_else(|| {
            ["social-services", "ppr", "jobcenter"]
                .iter()
                .map(|d| source_toml(d, &source.url, 2000, 1 << 20))
                .collect()
        });
        let app = spawn_with(Options {
            backend,
            extra_toml,
            policies_dir,
            ..Options::default()
        })
        .await;
        World {
            app,
            source,
            today: SystemClock.today(),
            backend: name,
        }
    }

    pub fn token(&self, who: (&str, &str, &str)) -> String {
        self.app.token(who.0, who.1, who.2)
    }

    /// A fictitious CPR number (`DDMMYY-SSSS`) of someone who turned `age` 100 days before today,
    /// so ages hold on any day the tests run. The serial's first digit 4 puts the years 00–36 in
    /// the 2000s.
    pub fn cpr(&self, age: i16, serial: u16) -> String {
        assert!((4000..5000).contains(&serial));
        let born = self
            .today
            .checked_sub(age.years())
            .unwrap()
            .checked_sub(100.days())
            .unwrap();
        format!(
            "{:02}{:02}{:02}-{serial:04}",
            born.day(),
            born.month(),
            born.year().rem_euclid(100)
        )
    }

    /// POSTs `body` and asserts the status; returns the JSON body.
    pub async fn expect(
        &self,
        path: &str,
        who: (&str, &str, &str),
        body: &Value,
        status: u16,
    ) -> Value {
        let response = self.app.post_json(path, Some(&self.token(who)), body).await;
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "[{}] POST {path} {body}: {text}", self.backend);
        serde_json::from_str(&text).unwrap()
    }

    /// Assigns the contact person [`CONTACT`] to `subject`.
    pub async fn assign(&self, subject: &str) {
        self.expect(
            "/v1/assignments",
            CASEWORKER,
            &json!({"subject": subject, "contact_person": CONTACT.0}),
            201,
        )
        .await;
    }

    /// Records a consent of `subject` (the givers that suffice for `age`) to `categories`, to the
    /// youth unit for the contact person's work, for a year; returns its id.
    pub async fn consent(
        &self,
        subject: &str,
        age: i16,
        categories: &[&str],
        special: bool,
    ) -> String {
        let given_by = match age {
            ..15 => json!([{"role": "custody_holder"}]),
            15..18 => json!([{"role": "subject"}, {"role": "custody_holder"}]),
            _ => json!([{"role": "subject"}]),
        };
        let body = self
            .expect(
                "/v1/consents",
                CASEWORKER,
                &json!({
                    "subject": subject,
                    "given_by": given_by,
                    "scope": {
                        "categories": categories,
                        "recipients": ["youth-unit"],
                        "purposes": ["kui.contact_person"],
                        "special_categories": special,
                    },
                    "valid_until": self.today.checked_add(365.days()).unwrap().to_string(),
                    "evidence": "journal KUI-TEST-1, signed form",
                }),
                201,
            )
            .await;
        body["id"].as_str().unwrap().to_owned()
    }

    /// `POST /v1/requests` by `who`, for the contact person's work.
    pub async fn pull(
        &self,
        who: (&str, &str, &str),
        subject: &str,
        category: &str,
        source: &str,
    ) -> reqwest::Response {
        self.app
            .post_json(
                "/v1/requests",
                Some(&self.token(who)),
                &json!({"subject": subject, "category": category,
                        "purpose": "kui.contact_person", "source": source}),
            )
            .await
    }

    /// A pull that must be permitted; returns the body.
    pub async fn pull_ok(&self, subject: &str, category: &str, source: &str) -> Value {
        let response = self.pull(CONTACT, subject, category, source).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(
            status, 200,
            "[{}] {category} from {source}: {text}",
            self.backend
        );
        serde_json::from_str(&text).unwrap()
    }

    /// The contact person's pull that must be refused; returns the problem's reason codes and body.
    pub async fn pull_refused(
        &self,
        subject: &str,
        category: &str,
        source: &str,
    ) -> (Vec<String>, Value) {
        let body = problem(self.pull(CONTACT, subject, category, source).await, 403).await;
        assert_eq!(body["decision"], "deny", "{body}");
        (codes(&body["reasons"]), body)
    }

    /// `GET /v1/audit/verify` as the DPO.
    pub async fn verify(&self) -> Value {
        let response = self
            .app
            .get("/v1/audit/verify", Some(&self.token(DPO)))
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Every row of the audit table, in chain order.
    pub async fn audit_rows(&self) -> Vec<AuditRow> {
        audit_rows(&self.app.database_url).await
    }

    /// The one audit row of `disclosure_id`.
    pub async fn audit_row(&self, disclosure_id: &Value) -> AuditRow {
        let id = disclosure_id.as_str().expect("a disclosure_id");
        let rows: Vec<AuditRow> = self
            .audit_rows()
            .await
            .into_iter()
            .filter(|r| r.disclosure_id == id)
            .collect();
        assert_eq!(rows.len(), 1, "one audit record for {id}: {rows:?}");
        rows.into_iter().next().unwrap()
    }
}

/// One row of `audit_log`, as a DPO reads it with SQL.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub disclosure_id: String,
    pub decision: String,
    pub outcome: String,
    pub recipient: Option<String>,
    pub basis_kind: Option<String>,
    pub reasons: Value,
    pub fields_disclosed: Value,
}

impl AuditRow {
    pub fn reason_codes(&self) -> Vec<String> {
        codes(&self.reasons)
    }
}

/// The `code`s of a `reasons` list.
pub fn codes(reasons: &Value) -> Vec<String> {
    reasons
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

type Row = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

const AUDIT_SQL: &str = "SELECT CAST(disclosure_id AS TEXT), decision, outcome, recipient, \
     basis_kind, CAST(reasons AS TEXT), CAST(fields_disclosed AS TEXT) FROM audit_log ORDER BY seq";

pub async fn audit_rows(database_url: &str) -> Vec<AuditRow> {
    let rows: Vec<Row> = if database_url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await.unwrap();
        let rows = sqlx::query_as(AUDIT_SQL)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        rows
    } else {
        let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
        let rows = sqlx::query_as(AUDIT_SQL)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        rows
    };
    rows.into_iter()
        .map(|r| AuditRow {
            disclosure_id: r.0,
            decision: r.1,
            outcome: r.2,
            recipient: r.3,
            basis_kind: r.4,
            reasons: serde_json::from_str(&r.5).unwrap(),
            fields_disclosed: serde_json::from_str(&r.6).unwrap(),
        })
        .collect()
}

/// Runs `sql` against the gateway's database from a connection of its own, as an operator (or an
/// outage) would.
pub async fn execute(database_url: &str, sql: &str) {
    if database_url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
}

/// The keys of a JSON object, sorted.
pub fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// Social services' record of a young person, with fields no flow lists and fields the category
/// does not even declare, nested and in arrays.
fn measures_record() -> Value {
    json!({
        "active": true,
        "caseworker": {"name": "Sofie Holm", "phone": "+45 33 12 34 56", "email": "sofie@kommune.example"},
        "measures": [
            {"type": "familiebehandling", "start": "2026-03-01", "decided_by": "Børne- og familieudvalget"},
            {"type": "kontaktperson", "start": "2026-05-01"}
        ],
        "family_notes": "Mor (tlf. 22 33 44 55) ønsker et møde; skriv til mor@example.dk",
        "reasons": "angst efter forældrenes skilsmisse",
        "case_number": "SAG-2026-0042",
        "caseworker.name": "posing as a path",
        "internal": {"note": "not declared", "tags": ["a", "b"]}
    })
}

fn ppr_record() -> Value {
    json!({
        "status": "done",
        "recommended_support": "ordblindeundervisning og IT-rygsæk",
        "diagnosis": "dysleksi",
        "psychologist_notes": "Samtale med far, tlf. 40 50 60 70, om lektiehjælp",
        "test_scores": [12, 9, 14]
    })
}

fn job_record() -> Value {
    json!({
        "benefit_type": "uddannelseshjælp",
        "mentor": true,
        "health_notes": "ADHD, i medicinsk behandling",
        "criminal_record": "betinget dom 2025",
        "sanctions": [{"date": "2026-01-02", "reason": "udeblevet"}]
    })
}

/// A subject the contact person is assigned to, with a consent to `categories`; returns its CPR
/// number and the consent's id.
async fn consenting(
    world: &World,
    age: i16,
    serial: u16,
    categories: &[&str],
    special: bool,
) -> (String, String) {
    let subject = world.cpr(age, serial);
    world.assign(&subject).await;
    let consent = world.consent(&subject, age, categories, special).await;
    (subject, consent)
}

// ------------------------------------------------------------------------------------------------
// F3, F4, F6: what passes, what is cut
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn f3_the_assigned_contact_person_learns_only_whether_a_measure_is_active_and_who_the_caseworker_is()
 {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let (emma, consent) = consenting(&world, 16, 4121, &["social.measures"], false).await;
        world
            .source
            .insert(&emma, "social.measures", measures_record());

        let body = world
            .pull_ok(&emma, "social.measures", "social-services")
            .await;
        assert_eq!(body["decision"], "permit");
        assert_eq!(body["category"], "social.measures");
        assert_eq!(body["basis"], json!({"kind": "consent", "id": consent}));
        assert_eq!(
            body["data"],
            json!({"active": true, "caseworker": {"name": "Sofie Holm", "phone": "+45 33 12 34 56"}}),
            "exactly the flow's fields: nothing undeclared, nothing the flow does not list"
        );
        let redacted: Vec<&str> = body["redacted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for path in [
            "measures[].type",
            "measures[].start",
            "family_notes",
            "reasons",
        ] {
            assert!(
                redacted.contains(&path),
                "{path} listed as withheld: {redacted:?}"
            );
        }
        for invented in ["case_number", "caseworker.email", "internal", "padding"] {
            assert!(
                !redacted.iter().any(|p| p.contains(invented)),
                "`redacted` names only declared fields, never what the record holds: {redacted:?}"
            );
        }

        // The source was asked once, after the permit, with the subject in the body.
        assert_eq!(world.source.calls(), 1);
        let query = &world.source.queries()[0];
        assert_eq!(digits(query["subject"].as_str().unwrap()), digits(&emma));
        assert_eq!(query["category"], "social.measures");
        assert_eq!(query["purpose"], "kui.contact_person");

        // The audit record holds the fields actually disclosed.
        let row = world.audit_row(&body["disclosure_id"]).await;
        assert_eq!(
            (row.decision.as_str(), row.outcome.as_str()),
            ("permit", "disclosed")
        );
        assert_eq!(row.basis_kind.as_deref(), Some("consent"));

        // Explicit consent to special categories does not open a field the flow does not name.
        let (silas, _) = consenting(&world, 19, 4217, &["social.measures"], true).await;
        world
            .source
            .insert(&silas, "social.measures", measures_record());
        let special = world
            .pull_ok(&silas, "social.measures", "social-services")
            .await;
        assert_eq!(special["data"], body["data"]);
        assert_eq!(row.recipient.as_deref(), Some("youth-unit"));
        assert_eq!(
            row.fields_disclosed,
            json!(["active", "caseworker.name", "caseworker.phone"])
        );
    }
}

#[tokio::test]
async fn f4_ppr_status_and_support_pass_and_the_diagnosis_only_with_explicit_consent() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let (plain, _) = consenting(&world, 15, 4305, &["ppr.assessment"], false).await;
        let (explicit, consent) = consenting(&world, 15, 4313, &["ppr.assessment"], true).await;
        world.source.insert(&plain, "ppr.assessment", ppr_record());
        world
            .source
            .insert(&explicit, "ppr.assessment", ppr_record());

        let body = world.pull_ok(&plain, "ppr.assessment", "ppr").await;
        assert_eq!(body["basis"]["kind"], "consent");
        assert_eq!(
            body["data"],
            json!({"status": "done", "recommended_support": "ordblindeundervisning og IT-rygsæk"})
        );
        assert!(
            body["redacted"]
                .as_array()
                .unwrap()
                .contains(&json!("diagnosis"))
        );

        let body = world.pull_ok(&explicit, "ppr.assessment", "ppr").await;
        assert_eq!(body["basis"], json!({"kind": "consent", "id": consent}));
        assert_eq!(
            keys(&body["data"]),
            ["diagnosis", "recommended_support", "status"],
            "explicit consent to special categories lets the diagnosis through, and nothing more"
        );
        assert_eq!(body["data"]["diagnosis"], "dysleksi");
        assert!(
            !body["redacted"]
                .as_array()
                .unwrap()
                .contains(&json!("diagnosis"))
        );
    }
}

#[tokio::test]
async fn f6_job_status_passes_health_notes_only_with_explicit_consent_and_the_criminal_record_never()
 {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let (plain, _) = consenting(&world, 19, 4217, &["job.status"], false).await;
        let (explicit, _) = consenting(&world, 20, 4225, &["job.status"], true).await;
        world.source.insert(&plain, "job.status", job_record());
        world.source.insert(&explicit, "job.status", job_record());

        let body = world.pull_ok(&plain, "job.status", "jobcenter").await;
        assert_eq!(body["basis"]["kind"], "consent");
        assert_eq!(
            body["data"],
            json!({"benefit_type": "uddannelseshjælp", "mentor": true})
        );

        let body = world.pull_ok(&explicit, "job.status", "jobcenter").await;
        assert_eq!(
            body["data"],
            json!({"benefit_type": "uddannelseshjælp", "mentor": true,
                   "health_notes": "ADHD, i medicinsk behandling"})
        );
        let redacted = body["redacted"].as_array().unwrap();
        assert!(redacted.contains(&json!("criminal_record")));
        let row = world.audit_row(&body["disclosure_id"]).await;
        assert!(!row.fields_disclosed.to_string().contains("criminal_record"));
    }
}

#[tokio::test]
async fn a_contact_person_without_consent_is_refused_with_no_consent_and_the_source_is_never_asked()
{
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let silas = world.cpr(19, 4217);
        world.assign(&silas).await;
        world.source.insert(&silas, "job.status", job_record());
        // A consent to another category does not cover this one.
        world.consent(&silas, 19, &["social.measures"], true).await;

        for (category, source) in [
            ("job.status", "jobcenter"),
            ("ppr.assessment", "ppr"),
            ("social.measures", "social-services"),
        ] {
            let response = world.pull(CONTACT, &silas, category, source).await;
            if category == "social.measures" {
                assert_eq!(response.status(), 404, "covered by the consent; no record");
                continue;
            }
            let body = problem(response, 403).await;
            assert_eq!(body["decision"], "deny");
            assert!(
                codes(&body["reasons"]).contains(&"no_consent".to_owned()),
                "{body}"
            );
            assert!(body.get("data").is_none());
            let row = world.audit_row(&body["disclosure_id"]).await;
            assert_eq!(
                (row.decision.as_str(), row.outcome.as_str()),
                ("deny", "denied")
            );
        }
        assert_eq!(
            world.source.calls(),
            1,
            "only the permitted request reached the source"
        );
    }
}

#[tokio::test]
async fn an_unassigned_contact_person_is_refused_with_not_need_to_know_and_the_source_is_never_asked()
 {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let (emma, _) = consenting(&world, 16, 4121, &["social.measures"], false).await;
        world
            .source
            .insert(&emma, "social.measures", measures_record());
        // And a subject with neither assignment nor consent: every reason that applies.
        let stranger = world.cpr(17, 4131);
        world
            .source
            .insert(&stranger, "social.measures", measures_record());

        let body = problem(
            world
                .pull(OTHER_CONTACT, &emma, "social.measures", "social-services")
                .await,
            403,
        )
        .await;
        assert_eq!(body["decision"], "deny");
        assert!(
            body["disclosure_id"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        assert!(codes(&body["reasons"]).contains(&"not_need_to_know".to_owned()));
        assert!(body.get("data").is_none());
        let row = world.audit_row(&body["disclosure_id"]).await;
        assert_eq!(
            (row.decision.as_str(), row.outcome.as_str()),
            ("deny", "denied")
        );
        assert_eq!(row.reason_codes(), codes(&body["reasons"]));

        let body = problem(
            world
                .pull(CONTACT, &stranger, "social.measures", "social-services")
                .await,
            403,
        )
        .await;
        let reasons = codes(&body["reasons"]);
        assert!(
            reasons.contains(&"not_need_to_know".to_owned())
                && reasons.contains(&"no_consent".to_owned()),
            "every reason that applies: {reasons:?}"
        );

        // A caseworker of the youth unit has no role under F3 either.
        let body = problem(
            world
                .pull(CASEWORKER, &emma, "social.measures", "social-services")
                .await,
            403,
        )
        .await;
        assert!(codes(&body["reasons"]).contains(&"role_not_allowed".to_owned()));

        assert_eq!(
            world.source.calls(),
            0,
            "a refusal never reveals whether data exists"
        );
    }
}

#[tokio::test]
async fn a_consent_withdrawn_between_two_requests_refuses_the_second_with_consent_withdrawn() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let (emma, consent) = consenting(&world, 16, 4121, &["social.measures"], false).await;
        world
            .source
            .insert(&emma, "social.measures", measures_record());

        world
            .pull_ok(&emma, "social.measures", "social-services")
            .await;
        world
            .expect(
                &format!("/v1/consents/{consent}/withdraw"),
                CASEWORKER,
                &json!({"reason": "the family asked"}),
                200,
            )
            .await;
        let (reasons, body) = world
            .pull_refused(&emma, "social.measures", "social-services")
            .await;
        assert!(reasons.contains(&"consent_withdrawn".to_owned()), "{body}");
        assert_eq!(world.source.calls(), 1);
        let row = world.audit_row(&body["disclosure_id"]).await;
        assert!(row.reason_codes().contains(&"consent_withdrawn".to_owned()));
    }
}

/// A consent withdrawn while a permitted request waits for its source. The permit was decided on
/// the consent, but its record would be durable only after the withdrawal was answered, and the
/// withdrawal's search for past recipients would have missed it. The batch finds the facts
/// changed (decision 0029): nothing of the first decision is written, the request is decided again
/// on the withdrawn consent, and nothing from the source is released.
#[tokio::test]
async fn a_consent_withdrawn_while_the_source_answers_releases_nothing() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let (emma, consent) = consenting(&world, 16, 4125, &["social.measures"], false).await;
        world
            .source
            .insert(&emma, "social.measures", measures_record());
        world
            .source
            .behave(Behaviour::Sleep(Duration::from_millis(700)));

        let stale_before = stale_decisions(&world).await;
        let pull = world.pull(CONTACT, &emma, "social.measures", "social-services");
        let withdraw = async {
            // Once the permit is decided and the source is asked.
            while world.source.calls() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            world
                .expect(
                    &format!("/v1/consents/{consent}/withdraw"),
                    CASEWORKER,
                    &json!({"reason": "the family asked"}),
                    200,
                )
                .await
        };
        let (pulled, _) = tokio::join!(pull, withdraw);
        let body = problem(pulled, 403).await;
        assert!(
            codes(&body["reasons"]).contains(&"consent_withdrawn".to_owned()),
            "[{}] {body}",
            world.backend
        );
        assert!(body.get("data").is_none(), "{body}");
        assert_eq!(world.source.calls(), 1, "decided again, not asked again");
        // One decision on the record: the refusal. The permit never became durable.
        let rows = world.audit_rows().await;
        assert_eq!(rows.len(), 1, "[{}] {rows:?}", world.backend);
        assert_eq!(rows[0].outcome, "denied");
        assert_eq!(
            rows[0].disclosure_id,
            body["disclosure_id"].as_str().unwrap()
        );
        assert_eq!(world.verify().await["ok"], true);
        // Operators see it (the registry is the process's: other tests may add to it, never take).
        assert!(stale_decisions(&world).await > stale_before);
    }
}

/// `sluse_stale_decisions_total{path="requests"}` from `/metrics`.
async fn stale_decisions(world: &World) -> u64 {
    let metrics = world.app.get("/metrics", None).await.text().await.unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("sluse_stale_decisions_total{path=\"requests\"} "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Each registry write is in force for the very next decision about the subject, although the
/// decision before it read (and, on SQLite, cached) the subject's rows.
#[tokio::test]
async fn a_consent_recorded_or_an_assignment_ended_between_two_requests_decides_the_next() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let emma = world.cpr(16, 4131);
        world
            .source
            .insert(&emma, "social.measures", measures_record());
        let assignment = world
            .expect(
                "/v1/assignments",
                CASEWORKER,
                &json!({"subject": emma, "contact_person": CONTACT.0}),
                201,
            )
            .await;
        let (reasons, _) = world
            .pull_refused(&emma, "social.measures", "social-services")
            .await;
        assert!(reasons.contains(&"no_consent".to_owned()));

        world.consent(&emma, 16, &["social.measures"], false).await;
        world
            .pull_ok(&emma, "social.measures", "social-services")
            .await;

        world
            .expect(
                &format!("/v1/assignments/{}/end", assignment["id"].as_str().unwrap()),
                CASEWORKER,
                &json!({"reason": "moved"}),
                200,
            )
            .await;
        let (reasons, body) = world
            .pull_refused(&emma, "social.measures", "social-services")
            .await;
        assert!(reasons.contains(&"not_need_to_know".to_owned()), "{body}");
        assert_eq!(world.source.calls(), 1);
    }
}

#[tokio::test]
async fn a_subject_aged_25_is_out_of_scope_for_every_youth_unit_purpose() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        // A subject of 25 cannot be assigned a contact person; the purpose is out of scope whatever
        // else holds.
        let older = world.cpr(25, 4411);
        world.source.insert(&older, "job.status", job_record());
        let body = problem(
            world.pull(CONTACT, &older, "job.status", "jobcenter").await,
            403,
        )
        .await;
        assert!(codes(&body["reasons"]).contains(&"subject_out_of_scope".to_owned()));
        assert_eq!(world.source.calls(), 0);
    }
}

// ------------------------------------------------------------------------------------------------
// Redaction of nested and array fields
// ------------------------------------------------------------------------------------------------

/// A copy of the shipped bundle in which F3 also passes `measures[].type` — an array field.
fn bundle_with_measure_types() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&sluse::demo::shipped_policies(), dir.path());
    let flows = dir.path().join("flows/social_services.toml");
    let text = std::fs::read_to_string(&flows).unwrap();
    let changed = text.replace(
        "fields = [\"active\", \"caseworker\"]",
        "fields = [\"active\", \"caseworker.name\", \"measures[].type\"]",
    );
    assert_ne!(text, changed, "the shipped F3 lists its fields as expected");
    std::fs::write(&flows, changed).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn nested_and_array_fields_pass_exactly_as_far_as_the_flow_lists_them() {
    for backend in Backend::all() {
        let policies = bundle_with_measure_types();
        let world = World::start_with(backend, |_| None, Some(policies.path().to_path_buf())).await;
        let (emma, _) = consenting(&world, 16, 4121, &["social.measures"], false).await;
        let mut record = measures_record();
        record["measures"]
            .as_array_mut()
            .unwrap()
            .push(json!({"start": "2026-06-01", "note": "no type: the item is dropped"}));
        record["measures"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": {"nested": "an object where a leaf belongs"}}));
        record["measures"]
            .as_array_mut()
            .unwrap()
            .push(json!("a bare string item"));
        world.source.insert(&emma, "social.measures", record);

        let body = world
            .pull_ok(&emma, "social.measures", "social-services")
            .await;
        assert_eq!(
            body["data"],
            json!({
                "active": true,
                "caseworker": {"name": "Sofie Holm"},
                "measures": [{"type": "familiebehandling"}, {"type": "kontaktperson"}],
            })
        );
        let redacted = body["redacted"].as_array().unwrap();
        assert!(redacted.contains(&json!("caseworker.phone")));
        assert!(redacted.contains(&json!("measures[].start")));
        assert!(!redacted.contains(&json!("measures[].type")));
        let row = world.audit_row(&body["disclosure_id"]).await;
        assert_eq!(
            row.fields_disclosed,
            json!(["active", "caseworker.name", "measures[].type"])
        );
    }
}

#[tokio::test]
async fn fields_the_source_invents_never_pass_at_any_depth() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let (silas, _) = consenting(&world, 19, 4217, &["job.status"], true).await;
        world.source.insert(
            &silas,
            "job.status",
            json!({
                "benefit_type": "uddannelseshjælp",
                "mentor": {"name": "an object where a bool belongs"},
                "cpr": silas,
                "mentor_name": "Lars",
                "benefit_type_history": ["kontanthjælp"],
                "extra": {"benefit_type": "nested copy", "health_notes": "nested copy"},
                "Benefit_Type": "case variant",
                "benefit_type ": "trailing space",
            }),
        );
        let body = world.pull_ok(&silas, "job.status", "jobcenter").await;
        assert_eq!(body["data"], json!({"benefit_type": "uddannelseshjælp"}));
        assert!(!body.to_string().contains(&digits(&silas)[6..]));
    }
}

// ------------------------------------------------------------------------------------------------
// The source's failures
// ------------------------------------------------------------------------------------------------

/// Starts a gateway whose social-services source behaves as told (timeout 400 ms, limit 4 KiB),
/// asks it once for a consenting, assigned subject, and returns the world and the response.
async fn ask_failing_source(
    backend: Backend,
    behaviour: Behaviour,
    refuse: bool,
) -> (World, u16, Value) {
    let refused = refusing_url().await;
    let world = World::start_with(
        backend,
        |url| {
            let url = if refuse { refused.as_str() } else { url };
            Some(source_toml("social-services", url, 400, 4096))
        },
        None,
    )
    .await;
    world.source.behave(behaviour);
    let (emma, _) = consenting(&world, 16, 4121, &["social.measures"], false).await;
    world
        .source
        .insert(&emma, "social.measures", measures_record());
    let response = world
        .pull(CONTACT, &emma, "social.measures", "social-services")
        .await;
    let status = response.status().as_u16();
    let body = problem(response, status).await;
    (world, status, body)
}

/// The checks every `source_unavailable` answer must pass: the status, the reason, no data, and
/// one audit record saying the policy permitted it and the source failed.
async fn assert_source_unavailable(world: &World, status: u16, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert!(
        codes(&body["reasons"]).contains(&"source_unavailable".to_owned()),
        "{body}"
    );
    assert!(body.get("data").is_none());
    assert!(
        !body.to_string().contains("Sofie"),
        "nothing of the answer is released"
    );
    let row = world.audit_row(&body["disclosure_id"]).await;
    assert_eq!(
        (row.decision.as_str(), row.outcome.as_str()),
        ("permit", "source_unavailable")
    );
    assert_eq!(row.fields_disclosed, json!([]));
    assert_eq!(
        world.verify().await["records"],
        world.audit_rows().await.len()
    );
}

#[tokio::test]
async fn a_source_without_the_record_gives_a_404_problem_with_a_disclosure_id_and_is_audited() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let (emma, _) = consenting(&world, 16, 4121, &["social.measures"], false).await;
        let body = problem(
            world
                .pull(CONTACT, &emma, "social.measures", "social-services")
                .await,
            404,
        )
        .await;
        assert!(body.get("data").is_none());
        let row = world.audit_row(&body["disclosure_id"]).await;
        assert_eq!(
            (row.decision.as_str(), row.outcome.as_str()),
            ("permit", "not_found")
        );
        assert_eq!(world.source.calls(), 1);
    }
}

#[tokio::test]
async fn a_source_that_answers_too_late_gives_a_504_with_source_unavailable_and_is_audited() {
    for backend in Backend::all() {
        // No answer in time; then headers in time but the body not: the limit is on the whole
        // answer.
        for behaviour in [
            Behaviour::Sleep(Duration::from_secs(5)),
            Behaviour::StallBody(Duration::from_secs(5)),
        ] {
            let started = std::time::Instant::now();
            let (world, status, body) = ask_failing_source(backend.clone(), behaviour, false).await;
            assert_source_unavailable(&world, status, &body, 504).await;
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "timeout_ms is honoured"
            );
        }
    }
}

#[tokio::test]
async fn a_source_that_refuses_the_connection_gives_a_502_with_source_unavailable_and_is_audited() {
    for backend in Backend::all() {
        let (world, status, body) = ask_failing_source(backend, Behaviour::Records, true).await;
        assert_source_unavailable(&world, status, &body, 502).await;
    }
}

#[tokio::test]
async fn a_source_that_answers_no_json_gives_a_502_with_source_unavailable_and_is_audited() {
    for backend in Backend::all() {
        for behaviour in [Behaviour::NotJson, Behaviour::NotAnObject] {
            let (world, status, body) = ask_failing_source(backend.clone(), behaviour, false).await;
            assert_source_unavailable(&world, status, &body, 502).await;
        }
    }
}

#[tokio::test]
async fn a_source_that_answers_too_much_gives_a_502_with_source_unavailable_and_is_audited() {
    for backend in Backend::all() {
        for behaviour in [
            Behaviour::Oversized(8192),
            Behaviour::OversizedChunked(8192),
        ] {
            let (world, status, body) = ask_failing_source(backend.clone(), behaviour, false).await;
            assert_source_unavailable(&world, status, &body, 502).await;
        }
    }
}

#[tokio::test]
async fn a_source_that_answers_another_status_gives_a_502_with_source_unavailable_and_is_audited() {
    for backend in Backend::all() {
        for status in [500, 401, 302] {
            let (world, got, body) =
                ask_failing_source(backend.clone(), Behaviour::Status(status), false).await;
            assert_source_unavailable(&world, got, &body, 502).await;
        }
    }
}

#[tokio::test]
async fn a_department_without_a_configured_source_gives_a_5xx_problem_not_data() {
    for backend in Backend::all() {
        // Only social services has a source here.
        let world = World::start_with(
            backend,
            |url| Some(source_toml("social-services", url, 2000, 1 << 20)),
            None,
        )
        .await;
        let (silas, _) = consenting(&world, 19, 4217, &["job.status"], false).await;
        let response = world.pull(CONTACT, &silas, "job.status", "jobcenter").await;
        let status = response.status().as_u16();
        let body = problem(response, status).await;
        assert_eq!(status, 502, "{body}");
        assert!(body.get("data").is_none());
        let row = world.audit_row(&body["disclosure_id"]).await;
        assert_eq!(row.outcome, "source_unavailable");
    }
}

// ------------------------------------------------------------------------------------------------
// Concurrency, and failing closed
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_mixed_requests_give_no_5xx_and_exactly_one_audit_record_per_decision()
 {
    for backend in Backend::all() {
        let world = Arc::new(World::start(backend).await);
        let (emma, _) = consenting(
            &world,
            16,
            4121,
            &["social.measures", "school.absence"],
            false,
        )
        .await;
        world
            .source
            .insert(&emma, "social.measures", measures_record());
        let before = world.audit_rows().await.len();
        assert_eq!(before, 0, "the registry writes no audit records here");

        let school = world.token(("nordskolen.system", "nordskolen", "school"));
        let mut tasks = Vec::new();
        for i in 0..64usize {
            let world = world.clone();
            let emma = emma.clone();
            let school = school.clone();
            tasks.push(tokio::spawn(async move {
                match i % 4 {
                    // A permitted pull: one decision.
                    0 => {
                        let r = world
                            .pull(CONTACT, &emma, "social.measures", "social-services")
                            .await;
                        let status = r.status().as_u16();
                        let body: Value = r.json().await.unwrap();
                        assert_eq!(status, 200, "{body}");
                        (1, vec![body["disclosure_id"].clone()])
                    }
                    // A refused pull: one decision.
                    1 => {
                        let r = world
                            .pull(OTHER_CONTACT, &emma, "social.measures", "social-services")
                            .await;
                        let status = r.status().as_u16();
                        let body: Value = r.json().await.unwrap();
                        assert_eq!(status, 403, "{body}");
                        (1, vec![body["disclosure_id"].clone()])
                    }
                    // An absence notice: one decision per recipient (F1 and F2).
                    2 => {
                        let r = world
                            .app
                            .client
                            .post(world.app.url("/v1/notices"))
                            .bearer_auth(&school)
                            .header("Idempotency-Key", format!("mixed-{i}"))
                            .json(&json!({"kind": "absence", "subject": emma,
                                          "data": {"unlawful_absence_pct": 18, "absence_band": ">=15"}}))
                            .send()
                            .await
                            .unwrap();
                        let status = r.status().as_u16();
                        let body: Value = r.json().await.unwrap();
                        assert_eq!(status, 202, "{body}");
                        let ids: Vec<Value> = body["deliveries"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .chain(body["withheld"].as_array().unwrap())
                            .map(|d| d["disclosure_id"].clone())
                            .collect();
                        (ids.len(), ids)
                    }
                    // A notice from a sender no flow starts at: one decision.
                    _ => {
                        let r = world
                            .app
                            .client
                            .post(world.app.url("/v1/notices"))
                            .bearer_auth(world.token(CONTACT))
                            .header("Idempotency-Key", format!("mixed-{i}"))
                            .json(&json!({"kind": "absence", "subject": emma,
                                          "data": {"unlawful_absence_pct": 18}}))
                            .send()
                            .await
                            .unwrap();
                        let status = r.status().as_u16();
                        let body: Value = r.json().await.unwrap();
                        assert_eq!(status, 403, "{body}");
                        (1, vec![body["disclosure_id"].clone()])
                    }
                }
            }));
        }
        let mut decisions = 0;
        let mut ids = Vec::new();
        for task in tasks {
            let (n, mut got) = task.await.unwrap();
            decisions += n;
            ids.append(&mut got);
        }
        assert_eq!(decisions, 16 + 16 + 16 * 2 + 16);

        let rows = world.audit_rows().await;
        assert_eq!(
            rows.len(),
            decisions,
            "exactly one audit record per decision"
        );
        let mut logged: Vec<&str> = rows.iter().map(|r| r.disclosure_id.as_str()).collect();
        logged.sort_unstable();
        let mut answered: Vec<&str> = ids.iter().map(|v| v.as_str().unwrap()).collect();
        answered.sort_unstable();
        assert_eq!(logged, answered, "every answer names its own record");
        let verify = world.verify().await;
        assert_eq!(verify["ok"], true, "{verify}");
        assert_eq!(verify["records"], decisions);
        assert_eq!(
            world.source.calls(),
            16,
            "only the permits reached the source"
        );
    }
}

#[tokio::test]
async fn when_the_audit_log_cannot_be_written_a_permitted_request_gets_503_and_no_data() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let (emma, _) = consenting(&world, 16, 4121, &["social.measures"], false).await;
        world
            .source
            .insert(&emma, "social.measures", measures_record());
        world
            .pull_ok(&emma, "social.measures", "social-services")
            .await;

        // The audit table goes away (an outage, or an operator's mistake).
        execute(
            &world.app.database_url,
            "ALTER TABLE audit_log RENAME TO audit_log_away",
        )
        .await;
        let response = world
            .pull(CONTACT, &emma, "social.measures", "social-services")
            .await;
        let body = problem(response, 503).await;
        assert!(body.get("data").is_none(), "{body}");
        assert!(!body.to_string().contains("Sofie"), "{body}");
        // A refusal cannot be recorded either: it is no 403 without its record.
        let response = world
            .pull(OTHER_CONTACT, &emma, "social.measures", "social-services")
            .await;
        problem(response, 503).await;

        // When it is back, requests pass again and the chain is whole: the failed batches left
        // nothing behind.
        execute(
            &world.app.database_url,
            "ALTER TABLE audit_log_away RENAME TO audit_log",
        )
        .await;
        world
            .pull_ok(&emma, "social.measures", "social-services")
            .await;
        let verify = world.verify().await;
        assert_eq!(verify["ok"], true, "{verify}");
        assert_eq!(verify["records"], 2);
        assert_eq!(world.audit_rows().await.len(), 2);
    }
}

#[tokio::test]
async fn without_an_audit_table_nothing_is_released() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let (emma, _) = consenting(&world, 16, 4121, &["social.measures"], false).await;
        world
            .source
            .insert(&emma, "social.measures", measures_record());
        execute(&world.app.database_url, "DROP TABLE audit_log").await;
        let response = world
            .pull(CONTACT, &emma, "social.measures", "social-services")
            .await;
        let body = problem(response, 503).await;
        assert!(body.get("data").is_none(), "{body}");
    }
}
