//! The registry endpoints (API.md §5): contact-person assignments and consents, through the real
//! router, on every backend, on a clock the test sets, so that age rules are tested on exact
//! birthdays. Subjects always travel in the JSON body; no URL here carries a CPR number.

use std::sync::{Arc, Mutex};

use jiff::{Timestamp, ToSpan};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use sluse::clock::Clock;

use crate::{
    helpers::{Backend, Options, TestApp, problem, spawn_with},
    tokens::claims_at,
};

/// "Now" in most tests: noon in Copenhagen on Monday 15 June 2026 (10:00 UTC, summer time).
const NOW: &str = "2026-06-15T10:00:00Z";
/// Today's date at [`NOW`].
const TODAY: &str = "2026-06-15";

/// Aged 20 at [`NOW`] (born 2 February 2006).
const AGED_20: &str = "020206-4121";
/// Another young person aged 20 at [`NOW`] (born 3 March 2006).
const OTHER_20: &str = "030306-4127";
/// Turns 25 on [`TODAY`] (born 15 June 2001).
const TURNS_25_TODAY: &str = "150601-4121";
/// Turns 18 on [`TODAY`] (born 15 June 2008).
const TURNS_18_TODAY: &str = "150608-4121";
/// Turns 18 tomorrow: 17 today (born 16 June 2008).
const AGED_17: &str = "160608-4121";
/// Turns 15 on [`TODAY`] (born 15 June 2011).
const TURNS_15_TODAY: &str = "150611-4121";
/// Turns 15 tomorrow: 14 today (born 16 June 2011).
const AGED_14: &str = "160611-4121";
/// A custody holder (born 1 January 1980).
const PARENT: &str = "010180-1234";

const REASONS: [&str; 5] = [
    "anchored_education",
    "anchored_employment",
    "turned_25",
    "moved",
    "other",
];

/// A clock the test moves; the gateway reads it on every request.
#[derive(Debug)]
struct TestClock(Mutex<Timestamp>);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// A gateway on one backend with a test clock, and tokens valid at that clock's "now".
struct Gateway {
    app: TestApp,
    clock: Arc<TestClock>,
}

impl Gateway {
    /// A fresh gateway whose clock says [`NOW`].
    async fn start(backend: Backend) -> Gateway {
        Gateway::start_at(backend, NOW).await
    }

    async fn start_at(backend: Backend, now: &str) -> Gateway {
        // Printed with a failure's output, so it is clear which backend failed.
        eprintln!(
            "backend: {}",
            match backend {
                Backend::Sqlite => "sqlite",
                Backend::Postgres(_) => "postgres",
            }
        );
        let clock = Arc::new(TestClock(Mutex::new(now.parse().unwrap())));
        let app = spawn_with(Options {
            backend,
            clock: clock.clone(),
            ..Options::default()
        })
        .await;
        Gateway { app, clock }
    }

    fn set_clock(&self, now: &str) {
        *self.clock.0.lock().unwrap() = now.parse().unwrap();
    }

    fn advance_days(&self, days: i64) {
        let mut now = self.clock.0.lock().unwrap();
        *now = now.checked_add((days * 24).hours()).unwrap();
    }

    /// A token issued at the gateway's "now", valid for an hour of it.
    fn token(&self, sub: &str, dept: &str, role: &str) -> String {
        let now = self.clock.now().as_second();
        self.app
            .keys
            .sign(Algorithm::EdDSA, &claims_at(sub, dept, role, now))
    }

    /// The youth unit's caseworker.
    fn caseworker(&self) -> String {
        self.token("anna.kui", "youth-unit", "caseworker")
    }

    /// A youth-unit contact person.
    fn contact_person(&self) -> String {
        self.token("bo.kontakt", "youth-unit", "contact_person")
    }

    async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.app.post_json(path, Some(token), body).await
    }

    /// POSTs and asserts the status, returning the JSON body.
    async fn expect(&self, path: &str, token: &str, body: &Value, status: u16) -> Value {
        let response = self.post(path, token, body).await;
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "POST {path} {body}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Assigns `contact_person` to `subject` as the caseworker; returns the assignment.
    async fn assign(&self, subject: &str, contact_person: &str) -> Value {
        self.expect(
            "/v1/assignments",
            &self.caseworker(),
            &json!({"subject": subject, "contact_person": contact_person}),
            201,
        )
        .await
    }

    async fn end(&self, id: &str, reason: &str) -> reqwest::Response {
        self.post(
            &format!("/v1/assignments/{id}/end"),
            &self.caseworker(),
            &json!({"reason": reason}),
        )
        .await
    }

    async fn assignments(&self, token: &str, subject: &str) -> Vec<Value> {
        let body = self
            .expect(
                "/v1/assignments/query",
                token,
                &json!({"subject": subject}),
                200,
            )
            .await;
        body["assignments"].as_array().unwrap().clone()
    }

    /// Records `body` as the youth unit's caseworker; returns the consent.
    async fn record(&self, body: &Value) -> Value {
        self.expect("/v1/consents", &self.caseworker(), body, 201)
            .await
    }

    async fn withdraw(&self, id: &str, body: Option<&Value>) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .post(self.app.url(&format!("/v1/consents/{id}/withdraw")))
            .bearer_auth(self.caseworker());
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    async fn consents(&self, subject: &str) -> Vec<Value> {
        let body = self
            .expect(
                "/v1/consents/query",
                &self.caseworker(),
                &json!({"subject": subject}),
                200,
            )
            .await;
        body["consents"].as_array().unwrap().clone()
    }
}

/// A consent for `subject` given by `given_by`: social measures to the youth unit for the contact
/// person's work, for a year.
fn consent(subject: &str, given_by: Value) -> Value {
    json!({
        "subject": subject,
        "given_by": given_by,
        "scope": {
            "categories": ["social.measures"],
            "recipients": ["youth-unit"],
            "purposes": ["kui.contact_person"]
        },
        "valid_until": "2027-06-14",
        "evidence": "journal KUI-2026-0117, signed form"
    })
}

fn by_subject() -> Value {
    json!([{"role": "subject"}])
}

fn by_subject_and_parent() -> Value {
    json!([{"role": "subject"}, {"role": "custody_holder", "cpr": PARENT}])
}

fn by_parent() -> Value {
    json!([{"role": "custody_holder", "cpr": PARENT}])
}

fn ids(list: &[Value]) -> Vec<&str> {
    list.iter().map(|v| v["id"].as_str().unwrap()).collect()
}

// ------------------------------------------------------------------------------------------------
// Assignments
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_youth_unit_caseworker_assigns_a_contact_person() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let body = gw
            .expect(
                "/v1/assignments",
                &gw.caseworker(),
                &json!({"subject": "0202064121", "contact_person": "bo.kontakt"}),
                201,
            )
            .await;
        assert!(!body["id"].as_str().unwrap().is_empty());
        assert_eq!(body["subject"], AGED_20);
        assert_eq!(body["contact_person"], "bo.kontakt");
        assert_eq!(body["department"], "youth-unit");
        assert_eq!(body["start"], TODAY, "start defaults to today");
        assert_eq!(body["status"], "active");

        let body = gw
            .expect(
                "/v1/assignments",
                &gw.caseworker(),
                &json!({"subject": AGED_20, "contact_person": "cille.kontakt", "start": "2026-07-01"}),
                201,
            )
            .await;
        assert_eq!(body["start"], "2026-07-01");
    }
}

#[tokio::test]
async fn only_a_youth_unit_caseworker_may_assign_or_end() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let assignment = gw.assign(AGED_20, "bo.kontakt").await;
        let end = format!("/v1/assignments/{}/end", assignment["id"].as_str().unwrap());
        for (sub, dept, role) in [
            ("bo.kontakt", "youth-unit", "contact_person"),
            ("sofie.social", "social-services", "caseworker"),
            ("skole.system", "nordskolen", "school"),
            ("dpo", "dpo-office", "dpo"),
            ("jens.job", "jobcenter", "caseworker"),
        ] {
            let token = gw.token(sub, dept, role);
            let create = json!({"subject": AGED_20, "contact_person": "x.kontakt"});
            problem(gw.post("/v1/assignments", &token, &create).await, 403).await;
            problem(
                gw.post(&end, &token, &json!({"reason": "moved"})).await,
                403,
            )
            .await;
        }
        let anonymous = gw
            .app
            .post_json(
                "/v1/assignments",
                None,
                &json!({"subject": AGED_20, "contact_person": "x"}),
            )
            .await;
        problem(anonymous, 401).await;
        // Nothing was created or ended by the refused calls.
        let list = gw.assignments(&gw.caseworker(), AGED_20).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["status"], "active");
    }
}

#[tokio::test]
async fn a_subject_who_turns_25_today_cannot_be_assigned() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let create = json!({"subject": TURNS_25_TODAY, "contact_person": "bo.kontakt"});
        let body = problem(
            gw.post("/v1/assignments", &gw.caseworker(), &create).await,
            422,
        )
        .await;
        assert_eq!(body["field"], "subject");
        assert_eq!(body["code"], "subject_out_of_scope");

        // Nor the day after the 25th birthday.
        gw.advance_days(1);
        problem(
            gw.post("/v1/assignments", &gw.caseworker(), &create).await,
            422,
        )
        .await;
        assert!(
            gw.assignments(&gw.caseworker(), TURNS_25_TODAY)
                .await
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_subject_aged_24_and_364_days_can_be_assigned() {
    for backend in Backend::all() {
        // The day before the 25th birthday.
        let gw = Gateway::start_at(backend, "2026-06-14T10:00:00Z").await;
        let body = gw.assign(TURNS_25_TODAY, "bo.kontakt").await;
        assert_eq!(body["status"], "active");
    }
}

#[tokio::test]
async fn the_25th_birthday_begins_at_midnight_in_copenhagen() {
    for backend in Backend::all() {
        // 23:59:59 on 14 June in Copenhagen (UTC+2): still 24.
        let gw = Gateway::start_at(backend, "2026-06-14T21:59:59Z").await;
        gw.assign(TURNS_25_TODAY, "bo.kontakt").await;
        // 00:00:00 on 15 June in Copenhagen, still 14 June in UTC: 25.
        gw.set_clock("2026-06-14T22:00:00Z");
        let create = json!({"subject": TURNS_25_TODAY, "contact_person": "cille.kontakt"});
        problem(
            gw.post("/v1/assignments", &gw.caseworker(), &create).await,
            422,
        )
        .await;
    }
}

#[tokio::test]
async fn the_same_contact_person_cannot_be_assigned_twice() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        gw.assign(AGED_20, "bo.kontakt").await;
        // However the number is spelled.
        let again = json!({"subject": "0202064121", "contact_person": "bo.kontakt"});
        problem(
            gw.post("/v1/assignments", &gw.caseworker(), &again).await,
            409,
        )
        .await;
        // Another contact person, or the same one for another young person, is fine.
        gw.assign(AGED_20, "cille.kontakt").await;
        gw.assign(OTHER_20, "bo.kontakt").await;
        assert_eq!(gw.assignments(&gw.caseworker(), AGED_20).await.len(), 2);
    }
}

#[tokio::test]
async fn concurrent_identical_assignments_make_one_and_conflict_for_the_rest() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let token = gw.caseworker();
        let body = json!({"subject": AGED_20, "contact_person": "bo.kontakt"});
        let statuses: Vec<u16> = futures_util::future::join_all(
            (0..4).map(|_| gw.post("/v1/assignments", &token, &body)),
        )
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
        let mut sorted = statuses.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [201, 409, 409, 409], "{statuses:?}");
        assert_eq!(gw.assignments(&token, AGED_20).await.len(), 1);
    }
}

#[tokio::test]
async fn an_assignment_ends_with_each_reason() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        for reason in REASONS {
            let assignment = gw.assign(AGED_20, &format!("{reason}.kontakt")).await;
            let id = assignment["id"].as_str().unwrap();
            let response = gw.end(id, reason).await;
            assert_eq!(response.status(), 200, "{reason}");
            let ended: Value = response.json().await.unwrap();
            assert_eq!(ended["id"], id);
            assert_eq!(ended["status"], "ended");
            assert_eq!(ended["end_reason"], reason);
            assert_eq!(ended["contact_person"], format!("{reason}.kontakt"));
            assert_eq!(ended["department"], "youth-unit");
            let at: Timestamp = ended["ended_at"].as_str().unwrap().parse().unwrap();
            assert_eq!(at, NOW.parse::<Timestamp>().unwrap());
        }
        let list = gw.assignments(&gw.caseworker(), AGED_20).await;
        assert_eq!(list.len(), REASONS.len());
        assert!(list.iter().all(|a| a["status"] == "ended"));
    }
}

#[tokio::test]
async fn an_ended_assignment_cannot_be_ended_again() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let id = gw.assign(AGED_20, "bo.kontakt").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(gw.end(&id, "moved").await.status(), 200);
        gw.advance_days(1);
        problem(gw.end(&id, "other").await, 409).await;
        // The first ending stands.
        let list = gw.assignments(&gw.caseworker(), AGED_20).await;
        assert_eq!(list[0]["end_reason"], "moved");
        let at: Timestamp = list[0]["ended_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(at, NOW.parse::<Timestamp>().unwrap());
    }
}

#[tokio::test]
async fn an_unknown_end_reason_is_a_bad_request_naming_reason() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let id = gw.assign(AGED_20, "bo.kontakt").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // `turned25` is how a derived `snake_case` would spell `turned_25`.
        for body in [
            json!({"reason": "bored"}),
            json!({"reason": "Moved"}),
            json!({"reason": "turned25"}),
        ] {
            let response = gw
                .post(
                    &format!("/v1/assignments/{id}/end"),
                    &gw.caseworker(),
                    &body,
                )
                .await;
            let problem = problem(response, 400).await;
            assert_eq!(problem["field"], "reason", "{body}");
        }
        assert_eq!(
            gw.assignments(&gw.caseworker(), AGED_20).await[0]["status"],
            "active"
        );
    }
}

#[tokio::test]
async fn ending_an_unknown_assignment_is_not_found() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        for id in [uuid::Uuid::now_v7().to_string(), "no-such-id".to_owned()] {
            problem(gw.end(&id, "moved").await, 404).await;
        }
    }
}

#[tokio::test]
async fn an_ended_assignment_can_be_re_established_while_under_25() {
    for backend in Backend::all() {
        let gw = Gateway::start_at(backend, "2026-06-01T10:00:00Z").await;
        let first = gw.assign(TURNS_25_TODAY, "bo.kontakt").await;
        assert_eq!(
            gw.end(first["id"].as_str().unwrap(), "anchored_education")
                .await
                .status(),
            200
        );
        gw.advance_days(7);
        let second = gw.assign(TURNS_25_TODAY, "bo.kontakt").await;
        assert_ne!(second["id"], first["id"]);
        assert_eq!(second["status"], "active");
        assert_eq!(second["start"], "2026-06-08");

        // Ended again, it cannot be re-established once the young person is 25.
        assert_eq!(
            gw.end(second["id"].as_str().unwrap(), "other")
                .await
                .status(),
            200
        );
        gw.set_clock(NOW);
        let again = json!({"subject": TURNS_25_TODAY, "contact_person": "bo.kontakt"});
        let body = problem(
            gw.post("/v1/assignments", &gw.caseworker(), &again).await,
            422,
        )
        .await;
        assert_eq!(body["code"], "subject_out_of_scope");
        assert_eq!(
            gw.assignments(&gw.caseworker(), TURNS_25_TODAY).await.len(),
            2
        );
    }
}

#[tokio::test]
async fn the_caseworker_and_a_contact_person_see_active_and_ended_assignments() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let ended = gw.assign(AGED_20, "bo.kontakt").await;
        assert_eq!(
            gw.end(ended["id"].as_str().unwrap(), "moved")
                .await
                .status(),
            200
        );
        let active = gw.assign(AGED_20, "cille.kontakt").await;
        for token in [gw.caseworker(), gw.contact_person()] {
            let list = gw.assignments(&token, AGED_20).await;
            let mut got = ids(&list);
            got.sort_unstable();
            let mut want = vec![
                ended["id"].as_str().unwrap(),
                active["id"].as_str().unwrap(),
            ];
            want.sort_unstable();
            assert_eq!(got, want);
            for a in &list {
                assert_eq!(a["subject"], AGED_20);
                let status = if a["id"] == ended["id"] {
                    "ended"
                } else {
                    "active"
                };
                assert_eq!(a["status"], status);
            }
        }
    }
}

#[tokio::test]
async fn only_the_youth_unit_may_query_assignments() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        gw.assign(AGED_20, "bo.kontakt").await;
        for (sub, dept, role) in [
            ("sofie.social", "social-services", "caseworker"),
            ("skole.system", "nordskolen", "school"),
            ("dpo", "dpo-office", "dpo"),
        ] {
            let response = gw
                .post(
                    "/v1/assignments/query",
                    &gw.token(sub, dept, role),
                    &json!({"subject": AGED_20}),
                )
                .await;
            problem(response, 403).await;
        }
    }
}

#[tokio::test]
async fn an_assignment_query_never_returns_another_subjects_assignments() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let mine = gw.assign(AGED_20, "bo.kontakt").await;
        gw.assign(OTHER_20, "bo.kontakt").await;
        gw.assign(OTHER_20, "cille.kontakt").await;
        let list = gw.assignments(&gw.caseworker(), AGED_20).await;
        assert_eq!(ids(&list), [mine["id"].as_str().unwrap()]);
        assert!(!serde_json::to_string(&list).unwrap().contains(OTHER_20));
        assert!(gw.assignments(&gw.caseworker(), AGED_17).await.is_empty());
    }
}

// ------------------------------------------------------------------------------------------------
// Consents
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_recorded_consent_comes_with_a_receipt() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let body = gw.record(&consent(AGED_20, by_subject())).await;
        let id = body["id"].as_str().unwrap();
        assert!(!id.is_empty());
        assert_eq!(body["status"], "active");
        let receipt = &body["receipt"];
        assert_eq!(receipt["receipt_id"], id);
        let pseudonym = receipt["subject_pseudonym"].as_str().unwrap();
        assert!(pseudonym.starts_with("ps_"), "{pseudonym}");
        assert_eq!(receipt["given_by"], json!(["subject"]));
        assert_eq!(
            receipt["scope"],
            json!({
                "categories": ["social.measures"],
                "recipients": ["youth-unit"],
                "purposes": ["kui.contact_person"],
                "special_categories": false
            })
        );
        assert_eq!(receipt["valid_from"], TODAY, "valid_from defaults to today");
        assert_eq!(receipt["valid_until"], "2027-06-14");
        assert_eq!(receipt["evidence"], "journal KUI-2026-0117, signed form");
        assert_eq!(receipt["recorded_by_department"], "youth-unit");
        let version = receipt["policy_version"].as_str().unwrap();
        assert_eq!(version.len(), 64, "the bundle's SHA-256: {version}");
        let at: Timestamp = receipt["consent_timestamp"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(at, NOW.parse::<Timestamp>().unwrap());
        assert!(receipt["withdrawal"].as_str().unwrap().contains("withdraw"));
        // The receipt is safe to hand on: a pseudonym, never the number.
        // (Whole numbers only: a short run of digits can occur in a random hex pseudonym or id.)
        for spelling in ["020206-4121", "0202064121"] {
            assert!(!body.to_string().contains(spelling), "{body}");
        }
    }
}

#[tokio::test]
async fn a_youth_unit_contact_person_and_a_social_services_caseworker_may_record_consents() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        for (sub, dept, role) in [
            ("bo.kontakt", "youth-unit", "contact_person"),
            ("sofie.social", "social-services", "caseworker"),
        ] {
            let body = gw
                .expect(
                    "/v1/consents",
                    &gw.token(sub, dept, role),
                    &consent(AGED_20, by_subject()),
                    201,
                )
                .await;
            assert_eq!(body["receipt"]["recorded_by_department"], dept);
            // And they may query and withdraw.
            let token = gw.token(sub, dept, role);
            let list = gw
                .expect(
                    "/v1/consents/query",
                    &token,
                    &json!({"subject": AGED_20}),
                    200,
                )
                .await;
            assert!(
                ids(list["consents"].as_array().unwrap()).contains(&body["id"].as_str().unwrap())
            );
            let path = format!("/v1/consents/{}/withdraw", body["id"].as_str().unwrap());
            gw.expect(&path, &token, &json!({}), 200).await;
        }
    }
}

#[tokio::test]
async fn schools_the_dpo_and_the_job_centre_may_not_record_withdraw_or_query_consents() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let recorded = gw.record(&consent(AGED_20, by_subject())).await;
        let withdraw = format!("/v1/consents/{}/withdraw", recorded["id"].as_str().unwrap());
        for (sub, dept, role) in [
            ("skole.system", "nordskolen", "school"),
            ("lise.laerer", "nordskolen", "caseworker"),
            ("dpo", "dpo-office", "dpo"),
            ("jens.job", "jobcenter", "caseworker"),
            ("ole.kontakt", "social-services", "contact_person"),
            ("ppr.psykolog", "ppr", "caseworker"),
        ] {
            let token = gw.token(sub, dept, role);
            let record = gw
                .post("/v1/consents", &token, &consent(AGED_20, by_subject()))
                .await;
            problem(record, 403).await;
            problem(gw.post(&withdraw, &token, &json!({})).await, 403).await;
            let query = gw
                .post("/v1/consents/query", &token, &json!({"subject": AGED_20}))
                .await;
            problem(query, 403).await;
        }
        let list = gw.consents(AGED_20).await;
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["status"], "active");
    }
}

#[tokio::test]
async fn a_giver_who_may_not_consent_on_the_day_of_recording_is_refused() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        for (case, body, field) in [
            (
                "a 14-year-old alone",
                consent(AGED_14, by_subject()),
                "given_by[0].role",
            ),
            (
                "a 14-year-old with a custody holder",
                consent(AGED_14, by_subject_and_parent()),
                "given_by[0].role",
            ),
            (
                "a custody holder for an 18-year-old",
                consent(TURNS_18_TODAY, by_parent()),
                "given_by[0].role",
            ),
            (
                "a 20-year-old with a custody holder",
                consent(AGED_20, by_subject_and_parent()),
                "given_by[1].role",
            ),
            ("nobody", consent(AGED_20, json!([])), "given_by"),
            (
                "someone else as the subject",
                consent(AGED_20, json!([{"role": "subject", "cpr": OTHER_20}])),
                "given_by[0].cpr",
            ),
        ] {
            let response = gw.post("/v1/consents", &gw.caseworker(), &body).await;
            let problem = problem(response, 422).await;
            assert_eq!(problem["code"], "consent_giver_invalid", "{case}");
            assert_eq!(problem["field"], field, "{case}");
        }
        for subject in [AGED_14, TURNS_18_TODAY, AGED_20] {
            assert!(gw.consents(subject).await.is_empty());
        }
    }
}

#[tokio::test]
async fn who_may_consent_follows_the_subjects_age_on_the_day_of_recording() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        // Under 15: a custody holder.
        gw.record(&consent(AGED_14, by_parent())).await;
        // 15 to 17: the young person and a custody holder (from the 15th birthday to the day
        // before the 18th).
        for subject in [TURNS_15_TODAY, AGED_17] {
            let body = gw.record(&consent(subject, by_subject_and_parent())).await;
            assert_eq!(
                body["receipt"]["given_by"],
                json!(["subject", "custody_holder"])
            );
        }
        // 18 and over: the young person, from the 18th birthday.
        gw.record(&consent(TURNS_18_TODAY, by_subject())).await;
        gw.record(&consent(
            AGED_20,
            json!([{"role": "subject", "cpr": AGED_20}]),
        ))
        .await;
    }
}

#[tokio::test]
async fn an_unknown_category_recipient_or_purpose_is_refused_naming_the_field() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        for (list, value, field) in [
            (
                "categories",
                json!(["social.measures", "social.secrets"]),
                "scope.categories[1]",
            ),
            ("recipients", json!(["the-press"]), "scope.recipients[0]"),
            ("purposes", json!(["curiosity"]), "scope.purposes[0]"),
            ("categories", json!([]), "scope.categories"),
        ] {
            let mut body = consent(AGED_20, by_subject());
            body["scope"][list] = value;
            let response = gw.post("/v1/consents", &gw.caseworker(), &body).await;
            let problem = problem(response, 422).await;
            assert_eq!(problem["field"], field);
        }
        assert!(gw.consents(AGED_20).await.is_empty());
    }
}

#[tokio::test]
async fn a_consent_that_ends_before_it_begins_is_refused() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let mut body = consent(AGED_20, by_subject());
        body["valid_from"] = json!("2026-09-01");
        body["valid_until"] = json!("2026-08-31");
        let problem_body =
            problem(gw.post("/v1/consents", &gw.caseworker(), &body).await, 422).await;
        assert_eq!(problem_body["field"], "valid_until");
        // Without `valid_from` it begins today.
        let mut body = consent(AGED_20, by_subject());
        body["valid_until"] = json!("2026-06-14");
        let problem_body =
            problem(gw.post("/v1/consents", &gw.caseworker(), &body).await, 422).await;
        assert_eq!(problem_body["field"], "valid_until");
        // A date that does not exist is malformed, and named.
        body["valid_until"] = json!("2027-02-29");
        let problem_body =
            problem(gw.post("/v1/consents", &gw.caseworker(), &body).await, 400).await;
        assert_eq!(problem_body["field"], "valid_until");
        // A one-day consent is fine.
        body["valid_until"] = json!(TODAY);
        gw.record(&body).await;
    }
}

#[tokio::test]
async fn a_consent_is_withdrawn_with_or_without_a_body() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let with_reason = json!({"reason": "the young person asked"});
        for body in [Some(&with_reason), Some(&json!({})), None] {
            let id = gw.record(&consent(AGED_20, by_subject())).await["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let response = gw.withdraw(&id, body).await;
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(status, 200, "{body:?}: {text}");
            let withdrawn: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(withdrawn["id"], id.as_str());
            assert_eq!(withdrawn["status"], "withdrawn");
            let at: Timestamp = withdrawn["withdrawn_at"].as_str().unwrap().parse().unwrap();
            assert_eq!(at, NOW.parse::<Timestamp>().unwrap());
        }
        let list = gw.consents(AGED_20).await;
        assert_eq!(list.len(), 3);
        assert!(list.iter().all(|c| c["status"] == "withdrawn"));
        assert_eq!(list[0]["withdraw_reason"], "the young person asked");
    }
}

#[tokio::test]
async fn withdrawing_again_keeps_the_first_withdrawal() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let id = gw.record(&consent(AGED_20, by_subject())).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let first: Value = gw
            .withdraw(&id, Some(&json!({"reason": "first"})))
            .await
            .json()
            .await
            .unwrap();
        gw.advance_days(3);
        let response = gw.withdraw(&id, Some(&json!({"reason": "second"}))).await;
        assert_eq!(response.status(), 200);
        let second: Value = response.json().await.unwrap();
        assert_eq!(second["status"], "withdrawn");
        assert_eq!(second["withdrawn_at"], first["withdrawn_at"]);
        let list = gw.consents(AGED_20).await;
        assert_eq!(list[0]["withdrawn_at"], first["withdrawn_at"]);
        assert_eq!(list[0]["withdraw_reason"], "first");
    }
}

#[tokio::test]
async fn concurrent_withdrawals_record_one_withdrawal() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend.clone()).await;
        let id = gw.record(&consent(AGED_20, by_subject())).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let reasons: Vec<Value> = (0..4).map(|i| json!({"reason": format!("r{i}")})).collect();
        let answers =
            futures_util::future::join_all(reasons.iter().map(|r| gw.withdraw(&id, Some(r)))).await;
        let mut times = Vec::new();
        for answer in answers {
            assert_eq!(answer.status(), 200);
            let body: Value = answer.json().await.unwrap();
            times.push(body["withdrawn_at"].clone());
        }
        let list = gw.consents(AGED_20).await;
        assert!(
            times.iter().all(|t| *t == list[0]["withdrawn_at"]),
            "{times:?}"
        );
        // Exactly one `withdrawn` event, whichever request won.
        let url = gw.app.database_url.clone();
        let events: i64 = match backend {
            Backend::Sqlite => {
                use sqlx::Connection;
                let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query_scalar(
                    "SELECT count(*) FROM consent_events WHERE consent_id = $1 AND event = 'withdrawn'",
                )
                .bind(&id)
                .fetch_one(&mut db)
                .await
                .unwrap()
            }
            Backend::Postgres(_) => {
                use sqlx::Connection;
                let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query_scalar(
                    "SELECT count(*) FROM consent_events WHERE consent_id = $1::uuid AND event = 'withdrawn'",
                )
                .bind(&id)
                .fetch_one(&mut db)
                .await
                .unwrap()
            }
        };
        assert_eq!(events, 1);
    }
}

#[tokio::test]
async fn withdrawing_an_unknown_consent_is_not_found() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        for id in [uuid::Uuid::now_v7().to_string(), "no-such-id".to_owned()] {
            problem(gw.withdraw(&id, None).await, 404).await;
        }
    }
}

#[tokio::test]
async fn a_query_returns_active_expired_and_withdrawn_consents() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let mut short = consent(AGED_20, by_subject());
        short["valid_until"] = json!("2026-06-30");
        let expiring = gw.record(&short).await;
        let withdrawn = gw.record(&consent(AGED_20, by_subject())).await;
        let active = gw.record(&consent(AGED_20, by_subject())).await;
        assert_eq!(
            gw.withdraw(withdrawn["id"].as_str().unwrap(), None)
                .await
                .status(),
            200
        );
        // The last day of a consent is still covered...
        gw.set_clock("2026-06-30T21:59:59Z");
        let list = gw.consents(AGED_20).await;
        assert_eq!(list[0]["status"], "active");
        // ...the next day (in Copenhagen) it has expired.
        gw.set_clock("2026-06-30T22:00:00Z");
        let list = gw.consents(AGED_20).await;
        let status = |id: &Value| {
            list.iter()
                .find(|c| c["id"] == *id)
                .map(|c| c["status"].clone())
                .unwrap()
        };
        assert_eq!(list.len(), 3);
        assert_eq!(status(&expiring["id"]), "expired");
        assert_eq!(status(&withdrawn["id"]), "withdrawn");
        assert_eq!(status(&active["id"]), "active");
        // Every consent carries its receipt.
        assert!(list.iter().all(|c| c["receipt"]["receipt_id"] == c["id"]));
        // A year later they are all still there.
        gw.advance_days(400);
        let list = gw.consents(AGED_20).await;
        assert_eq!(list.len(), 3);
        assert!(list.iter().all(|c| c["status"] != "active"));
    }
}

#[tokio::test]
async fn a_consent_query_never_returns_another_subjects_consents() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend).await;
        let mine = gw.record(&consent(AGED_20, by_subject())).await;
        let theirs = gw.record(&consent(OTHER_20, by_subject())).await;
        gw.record(&consent(AGED_17, by_subject_and_parent())).await;
        // However the number is spelled.
        for spelling in [AGED_20, "0202064121", " 020206-4121 "] {
            let list = gw.consents(spelling).await;
            assert_eq!(ids(&list), [mine["id"].as_str().unwrap()], "{spelling}");
            assert_eq!(
                list[0]["subject_pseudonym"],
                mine["receipt"]["subject_pseudonym"]
            );
        }
        assert_ne!(
            mine["receipt"]["subject_pseudonym"],
            theirs["receipt"]["subject_pseudonym"]
        );
        assert!(gw.consents(TURNS_25_TODAY).await.is_empty());
    }
}

#[tokio::test]
async fn what_the_record_answer_says_is_what_the_query_returns() {
    for backend in Backend::all() {
        // A clock with nanoseconds, as the system clock has.
        let gw = Gateway::start_at(backend, "2026-06-15T10:00:00.123456789Z").await;
        let recorded = gw.record(&consent(AGED_20, by_subject())).await;
        let listed = gw.consents(AGED_20).await;
        assert_eq!(listed[0]["receipt"], recorded["receipt"]);
        assert_eq!(listed[0]["recorded_at"], recorded["recorded_at"]);

        let assigned = gw.assign(AGED_20, "bo.kontakt").await;
        let listed = gw.assignments(&gw.caseworker(), AGED_20).await;
        assert_eq!(listed[0], assigned);
    }
}

#[tokio::test]
async fn a_withdrawn_consent_cannot_be_deleted_in_the_database() {
    for backend in Backend::all() {
        let gw = Gateway::start(backend.clone()).await;
        let id = gw.record(&consent(AGED_20, by_subject())).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(gw.withdraw(&id, None).await.status(), 200);
        let url = gw.app.database_url.clone();
        match backend {
            Backend::Sqlite => {
                use sqlx::Connection;
                let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
                for sql in [
                    "DELETE FROM consents WHERE id = $1",
                    "DELETE FROM consent_events WHERE consent_id = $1",
                ] {
                    let error = sqlx::query(sql)
                        .bind(&id)
                        .execute(&mut db)
                        .await
                        .unwrap_err();
                    assert!(error.to_string().contains("never deleted"), "{error}");
                }
                db.close().await.unwrap();
            }
            Backend::Postgres(_) => {
                use sqlx::Connection;
                let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
                for sql in [
                    "DELETE FROM consents WHERE id = $1::uuid",
                    "DELETE FROM consent_events WHERE consent_id = $1::uuid",
                ] {
                    let error = sqlx::query(sql)
                        .bind(&id)
                        .execute(&mut db)
                        .await
                        .unwrap_err();
                    assert!(error.to_string().contains("never deleted"), "{error}");
                }
                db.close().await.unwrap();
            }
        }
        let list = gw.consents(AGED_20).await;
        assert_eq!(ids(&list), [id.as_str()]);
        assert_eq!(list[0]["status"], "withdrawn");
    }
}
