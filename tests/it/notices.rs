//! Notices (push) and inboxes (API.md §5 "Notices", §8 F1, F2, F5, F7, §9): through the real router,
//! on every backend. One notice is decided once per recipient; each recipient's inbox holds its own
//! redacted copy; a refused recipient is listed in `withheld`; every decision has one audit record;
//! the `Idempotency-Key` makes retries — also concurrent ones — deliver once.

use std::sync::Arc;

use serde_json::{Value, json};
use sluse::redact::{CPR_MARKER, EMAIL_MARKER, PHONE_MARKER};

use crate::{
    exchange::{CASEWORKER, CONTACT, World, codes, execute, keys},
    helpers::{Backend, problem},
};

/// Nordskolen's school system.
const SCHOOL: (&str, &str, &str) = ("nordskolen.system", "nordskolen", "school");
/// FGU Nord's student system.
const FGU: (&str, &str, &str) = ("fgu.system", "fgu-nord", "system");
/// PPR's case system.
const PPR: (&str, &str, &str) = ("ppr.system", "ppr", "system");
/// The job centre's system.
const JOBCENTER: (&str, &str, &str) = ("jobcenter.system", "jobcenter", "system");
/// A social-services caseworker, who reads social services' inbox.
const SOCIAL: (&str, &str, &str) = ("sofie.social", "social-services", "caseworker");

/// `POST /v1/notices` by `who`, with `key` as `Idempotency-Key` if given.
async fn send(
    world: &World,
    who: (&str, &str, &str),
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = world
        .app
        .client
        .post(world.app.url("/v1/notices"))
        .bearer_auth(world.token(who))
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

/// Sends a notice that must be accepted (202); returns the answer.
async fn accepted(world: &World, who: (&str, &str, &str), key: &str, body: &Value) -> Value {
    let response = send(world, who, Some(key), body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 202, "[{}] {body}: {text}", world.backend);
    serde_json::from_str(&text).unwrap()
}

/// The items in `who`'s department's inbox.
async fn inbox(world: &World, who: (&str, &str, &str)) -> Vec<Value> {
    let response = world.app.get("/v1/inbox", Some(&world.token(who))).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(
        status, 200,
        "[{}] inbox of {}: {text}",
        world.backend, who.1
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    body["items"].as_array().unwrap().clone()
}

/// The recipients of `answer[list]`, sorted.
fn recipients<'a>(answer: &'a Value, list: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = answer[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["recipient"].as_str().unwrap())
        .collect();
    out.sort_unstable();
    out
}

/// The `withheld` entry for `recipient`.
fn withheld<'a>(answer: &'a Value, recipient: &str) -> &'a Value {
    answer["withheld"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["recipient"] == recipient)
        .unwrap_or_else(|| panic!("{recipient} not withheld: {answer}"))
}

/// Free text full of identifiers, in the spellings people write them.
fn identifiers(cpr: &str) -> String {
    let digits: String = cpr.chars().filter(char::is_ascii_digit).collect();
    format!(
        "Eleven ({cpr}, også skrevet {digits}, {} {} og cpr{digits}x) har været væk 3 dage i uge 42. \
         Mor: 22334455 / 22 33 44 55 / +45 22 33 44 55 / +4522334455 / 0045 22334455 / 2233-4455. \
         Skriv til mor.hansen+skole@example.dk eller far@skolen.",
        &digits[..6],
        &digits[6..]
    )
}

/// Asserts that `text` went through the scrubber: no identifier of [`identifiers`] left, the
/// markers there, and the ordinary words kept.
fn assert_scrubbed(text: &str, cpr: &str) {
    let digits: String = cpr.chars().filter(char::is_ascii_digit).collect();
    for leak in [
        cpr,
        &digits,
        &digits[6..],
        "4455",
        "2233",
        "@",
        "mor.hansen",
        "example.dk",
    ] {
        assert!(!text.contains(leak), "`{leak}` left in {text:?}");
    }
    for marker in [CPR_MARKER, PHONE_MARKER, EMAIL_MARKER] {
        assert!(text.contains(marker), "no {marker} in {text:?}");
    }
    assert!(
        text.contains("3 dage i uge 42"),
        "ordinary text kept: {text:?}"
    );
}

/// Emma's school's absence notice: the data a school system sends, more than any recipient gets.
fn absence(subject: &str, pct: u32) -> Value {
    json!({
        "kind": "absence",
        "subject": subject,
        "data": {
            "period": {"from": "2026-08-11", "to": "2026-10-31"},
            "unlawful_absence_pct": pct,
            "absence_band": if pct >= 15 { ">=15" } else if pct >= 10 { "10-15" } else { "<10" },
            "parent_contacts": 3,
            "actions_taken": identifiers(subject),
            "absence_reasons": "migræne; angst",
            "teacher_remarks": "not a declared field",
        }
    })
}

// ------------------------------------------------------------------------------------------------
// F1 and F2: a school's absence notice
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn f1_and_f2_emmas_absence_reaches_social_services_and_the_youth_unit_as_different_copies() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let emma = world.cpr(16, 4121);
        world.assign(&emma).await;
        let consent = world.consent(&emma, 16, &["school.absence"], false).await;

        let answer = accepted(&world, SCHOOL, "emma-q3", &absence(&emma, 18)).await;
        assert!(answer["notice_id"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(
            recipients(&answer, "deliveries"),
            ["social-services", "youth-unit"]
        );
        assert!(answer["withheld"].as_array().unwrap().is_empty());

        let social = inbox(&world, SOCIAL).await;
        assert_eq!(social.len(), 1, "{social:?}");
        let item = &social[0];
        assert_eq!(item["notice_id"], answer["notice_id"]);
        assert_eq!(item["kind"], "absence");
        assert_eq!(item["subject"], emma);
        assert_eq!(
            item["basis"],
            json!({"kind": "legal", "id": "absence-15pct"}),
            "F1: the duty to notify, no consent needed"
        );
        assert_eq!(
            keys(&item["data"]),
            [
                "actions_taken",
                "parent_contacts",
                "period",
                "unlawful_absence_pct"
            ]
        );
        assert_eq!(
            item["data"]["period"],
            json!({"from": "2026-08-11", "to": "2026-10-31"})
        );
        assert_eq!(item["data"]["unlawful_absence_pct"], 18);
        assert_scrubbed(item["data"]["actions_taken"].as_str().unwrap(), &emma);
        assert!(
            item["redacted"]
                .as_array()
                .unwrap()
                .contains(&json!("absence_reasons"))
        );

        let youth = inbox(&world, CONTACT).await;
        assert_eq!(youth.len(), 1, "{youth:?}");
        let item = &youth[0];
        assert_eq!(item["basis"], json!({"kind": "consent", "id": consent}));
        assert_eq!(
            item["data"],
            json!({"period": {"from": "2026-08-11", "to": "2026-10-31"}, "absence_band": ">=15"}),
            "F2: only the band, not the number"
        );
        assert_eq!(
            inbox(&world, CASEWORKER).await,
            youth,
            "the inbox is the department's"
        );

        // Each delivery has its own audit record.
        for delivery in answer["deliveries"].as_array().unwrap() {
            let row = world.audit_row(&delivery["disclosure_id"]).await;
            assert_eq!(
                (row.decision.as_str(), row.outcome.as_str()),
                ("permit", "delivered")
            );
            assert_eq!(row.recipient.as_ref().unwrap(), &delivery["recipient"]);
        }
        assert_eq!(world.audit_rows().await.len(), 2);

        // Nobody else received anything.
        for other in [SCHOOL, FGU, PPR, JOBCENTER] {
            assert!(inbox(&world, other).await.is_empty(), "{}", other.1);
        }
    }
}

#[tokio::test]
async fn f1_below_15_percent_social_services_is_withheld_with_basis_condition_failed() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let emma = world.cpr(16, 4121);
        world.consent(&emma, 16, &["school.absence"], false).await;

        for (i, pct) in [14, 0].into_iter().enumerate() {
            let answer = accepted(&world, SCHOOL, &format!("low-{i}"), &absence(&emma, pct)).await;
            assert_eq!(recipients(&answer, "deliveries"), ["youth-unit"]);
            assert_eq!(recipients(&answer, "withheld"), ["social-services"]);
            let refused = withheld(&answer, "social-services");
            assert_eq!(codes(&refused["reasons"]), ["basis_condition_failed"]);
            let row = world.audit_row(&refused["disclosure_id"]).await;
            assert_eq!(
                (row.decision.as_str(), row.outcome.as_str()),
                ("deny", "withheld")
            );
        }
        // Exactly 15 % is a duty to notify.
        let answer = accepted(&world, SCHOOL, "at-15", &absence(&emma, 15)).await;
        assert_eq!(
            recipients(&answer, "deliveries"),
            ["social-services", "youth-unit"]
        );

        // A notice without the percentage cannot meet the condition.
        let mut body = absence(&emma, 18);
        body["data"]
            .as_object_mut()
            .unwrap()
            .remove("unlawful_absence_pct");
        let answer = accepted(&world, SCHOOL, "no-pct", &body).await;
        let refused = withheld(&answer, "social-services");
        assert!(codes(&refused["reasons"]).contains(&"basis_condition_failed".to_owned()));

        assert_eq!(inbox(&world, SOCIAL).await.len(), 1);
    }
}

#[tokio::test]
async fn f1_at_18_social_services_is_withheld_with_basis_condition_failed() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let adult = world.cpr(18, 4139);
        let answer = accepted(&world, SCHOOL, "adult", &absence(&adult, 40)).await;
        let refused = withheld(&answer, "social-services");
        assert!(
            codes(&refused["reasons"]).contains(&"basis_condition_failed".to_owned()),
            "{answer}"
        );
        assert!(inbox(&world, SOCIAL).await.is_empty());
    }
}

#[tokio::test]
async fn f2_without_consent_the_youth_unit_is_withheld_and_social_services_still_notified() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let emma = world.cpr(16, 4121);
        world.assign(&emma).await;
        let answer = accepted(&world, SCHOOL, "k1", &absence(&emma, 22)).await;
        assert_eq!(recipients(&answer, "deliveries"), ["social-services"]);
        let refused = withheld(&answer, "youth-unit");
        assert!(codes(&refused["reasons"]).contains(&"no_consent".to_owned()));
        assert!(inbox(&world, CONTACT).await.is_empty());
        assert_eq!(inbox(&world, SOCIAL).await.len(), 1);
        let row = world.audit_row(&refused["disclosure_id"]).await;
        assert_eq!(row.outcome, "withheld");
    }
}

// ------------------------------------------------------------------------------------------------
// F5 and F7: legal bases that consent cannot block
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn f5_an_education_event_reaches_the_youth_unit_without_consent_without_the_personal_reason()
{
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let silas = world.cpr(19, 4217);
        let body = json!({"kind": "education", "subject": silas, "data": {
            "institution": "FGU Nord", "programme": "AGU", "event": "dropout",
            "date": "2026-11-02", "personal_reason": "hashmisbrug; ring 22 33 44 55",
            "counsellor": "not declared"
        }});
        let answer = accepted(&world, FGU, "fgu-1", &body).await;
        assert_eq!(recipients(&answer, "deliveries"), ["youth-unit"]);
        let items = inbox(&world, CONTACT).await;
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["basis"], json!({"kind": "legal", "id": "kui-12c"}));
        assert_eq!(
            items[0]["data"],
            json!({"institution": "FGU Nord", "programme": "AGU", "event": "dropout",
                   "date": "2026-11-02"})
        );

        // From 25 the youth unit has no business with the young person.
        let older = world.cpr(25, 4225);
        let mut body = body.clone();
        body["subject"] = json!(older);
        let answer = accepted(&world, FGU, "fgu-2", &body).await;
        assert_eq!(recipients(&answer, "withheld"), ["youth-unit"]);
        assert!(
            codes(&withheld(&answer, "youth-unit")["reasons"])
                .contains(&"subject_out_of_scope".to_owned())
        );
        assert_eq!(inbox(&world, CONTACT).await.len(), 1);
    }
}

#[tokio::test]
async fn f7_a_concern_reaches_social_services_from_every_sender_kind_without_consent_and_scrubbed()
{
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let child = world.cpr(12, 4147);
        // A withdrawn consent does not stop a notification of concern either.
        let consent = world.consent(&child, 12, &["school.absence"], false).await;
        world
            .expect(
                &format!("/v1/consents/{consent}/withdraw"),
                CASEWORKER,
                &json!({}),
                200,
            )
            .await;

        for (i, sender) in [SCHOOL, PPR, CONTACT, JOBCENTER].into_iter().enumerate() {
            let body = json!({"kind": "concern", "subject": child, "data": {
                "concern": identifiers(&child),
                "observations": format!("Blå mærker; naboen ringede fra 40 50 60 70 ({i})"),
                "diagnosis": "never a concern field",
            }});
            let answer = accepted(&world, sender, &format!("concern-{i}"), &body).await;
            assert_eq!(
                recipients(&answer, "deliveries"),
                ["social-services"],
                "{}: {answer}",
                sender.1
            );
        }
        let items = inbox(&world, SOCIAL).await;
        assert_eq!(items.len(), 4);
        for item in &items {
            assert_eq!(item["kind"], "concern");
            assert_eq!(
                item["basis"],
                json!({"kind": "legal", "id": "barnets-lov-133"})
            );
            assert_eq!(keys(&item["data"]), ["concern", "observations"]);
            assert_scrubbed(item["data"]["concern"].as_str().unwrap(), &child);
            let observations = item["data"]["observations"].as_str().unwrap();
            assert!(
                !observations.contains("40 50 60 70") && observations.contains(PHONE_MARKER),
                "{observations}"
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------
// No flow; inboxes; acks
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_sender_no_flow_starts_at_is_refused_with_no_flow_and_nothing_is_delivered() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let emma = world.cpr(16, 4121);
        world.assign(&emma).await;
        world.consent(&emma, 16, &["school.absence"], false).await;

        let body = problem(
            send(&world, CONTACT, Some("kp-1"), &absence(&emma, 30)).await,
            403,
        )
        .await;
        assert_eq!(body["decision"], "deny");
        assert_eq!(codes(&body["reasons"]), ["no_flow"]);
        let row = world.audit_row(&body["disclosure_id"]).await;
        assert_eq!(
            (row.decision.as_str(), row.outcome.as_str()),
            ("deny", "denied")
        );
        assert_eq!(row.reason_codes(), ["no_flow"]);
        for dept in [SOCIAL, CONTACT, SCHOOL] {
            assert!(inbox(&world, dept).await.is_empty(), "{}", dept.1);
        }

        // The refusal is the answer to that key: a retry gets it again and is not decided again.
        let again = problem(
            send(&world, CONTACT, Some("kp-1"), &absence(&emma, 30)).await,
            403,
        )
        .await;
        assert_eq!(again, body);
        assert_eq!(world.audit_rows().await.len(), 1);

        // Social services sending an education notice: no flow either.
        let body = json!({"kind": "education", "subject": emma,
                          "data": {"institution": "x", "event": "admission"}});
        let answer = problem(send(&world, SOCIAL, Some("s-1"), &body).await, 403).await;
        assert_eq!(codes(&answer["reasons"]), ["no_flow"]);
        assert_eq!(world.audit_rows().await.len(), 2);
    }
}

#[tokio::test]
async fn an_ack_is_200_for_an_item_of_ones_own_inbox_and_404_otherwise() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let emma = world.cpr(16, 4121);
        let answer = accepted(&world, SCHOOL, "ack-1", &absence(&emma, 20)).await;
        let notice = answer["notice_id"].as_str().unwrap();

        // Another department cannot ack (nor learn of) social services' item.
        let response = world
            .app
            .client
            .post(world.app.url(&format!("/v1/inbox/{notice}/ack")))
            .bearer_auth(world.token(CONTACT))
            .send()
            .await
            .unwrap();
        problem(response, 404).await;

        let response = world
            .app
            .client
            .post(world.app.url(&format!("/v1/inbox/{notice}/ack")))
            .bearer_auth(world.token(SOCIAL))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let items = inbox(&world, SOCIAL).await;
        assert!(items[0]["acked_at"].is_string(), "{items:?}");

        let response = world
            .app
            .client
            .post(world.app.url("/v1/inbox/no-such-notice/ack"))
            .bearer_auth(world.token(SOCIAL))
            .send()
            .await
            .unwrap();
        problem(response, 404).await;
    }
}

/// Sends concern notices `numbers` about different children; their notice ids, in order.
async fn concerns(world: &World, numbers: std::ops::Range<u16>) -> Vec<String> {
    let mut sent = Vec::new();
    for i in numbers {
        let child = world.cpr(10 + i as i16, 4500 + i);
        let body =
            json!({"kind": "concern", "subject": child, "data": {"concern": format!("nr {i}")}});
        let answer = accepted(world, SCHOOL, &format!("page-{i}"), &body).await;
        sent.push(answer["notice_id"].as_str().unwrap().to_owned());
    }
    sent
}

#[tokio::test]
async fn an_inbox_is_paged_oldest_first_without_gaps_or_repeats_and_polled_from_its_last_cursor() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let sent = concerns(&world, 0..5).await;
        let mut seen = Vec::new();
        let mut path = "/v1/inbox?limit=2".to_owned();
        for _ in 0..10 {
            let response = world.app.get(&path, Some(&world.token(SOCIAL))).await;
            assert_eq!(response.status(), 200);
            let page: Value = response.json().await.unwrap();
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 2);
            seen.extend(
                items
                    .iter()
                    .map(|i| i["notice_id"].as_str().unwrap().to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/inbox?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, sent);

        // The last cursor given is where a poller waits: an empty page gives none to replace it,
        // and the items delivered later come after it.
        let last = path.clone();
        let page: Value = world
            .app
            .get(&last, Some(&world.token(SOCIAL)))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["items"], json!([]), "{page}");
        assert!(page.get("next_cursor").is_none(), "{page}");
        let later = concerns(&world, 5..7).await;
        let page: Value = world
            .app
            .get(
                &last.replace("limit=2", "limit=10"),
                Some(&world.token(SOCIAL)),
            )
            .await
            .json()
            .await
            .unwrap();
        let got: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["notice_id"].as_str().unwrap())
            .collect();
        assert_eq!(got, later, "{page}");
        assert!(page["next_cursor"].is_string(), "{page}");

        // Strangers are refused naming the field: garbage, a negative position, and the
        // `received_at|id` cursors of earlier versions.
        let old = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            format!("1772356500000000|{}", sent[0]),
        );
        let negative = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            "inbox:-1",
        );
        for cursor in ["bogus", old.as_str(), negative.as_str()] {
            let response = world
                .app
                .get(
                    &format!("/v1/inbox?cursor={cursor}"),
                    Some(&world.token(SOCIAL)),
                )
                .await;
            let problem = problem(response, 400).await;
            assert!(problem.to_string().contains("cursor"), "{problem}");
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Idempotency
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_same_key_and_body_again_gives_the_same_answer_and_delivers_once() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let emma = world.cpr(16, 4121);
        world.consent(&emma, 16, &["school.absence"], false).await;
        let body = absence(&emma, 18);
        let first = accepted(&world, SCHOOL, "retry-1", &body).await;
        let second = accepted(&world, SCHOOL, "retry-1", &body).await;
        assert_eq!(first, second);
        // The same body with its keys in another order and other whitespace is the same body.
        let data = &body["data"];
        let raw = format!(
            "{{\n  \"data\": {{\"teacher_remarks\": {}, \"period\": {},\n \"parent_contacts\": 3, \
             \"unlawful_absence_pct\": 18, \"actions_taken\": {}, \"absence_reasons\": {}, \
             \"absence_band\": \">=15\"}},\n  \"subject\": \"{emma}\", \"kind\": \"absence\"\n}}",
            data["teacher_remarks"], data["period"], data["actions_taken"], data["absence_reasons"],
        );
        assert_eq!(serde_json::from_str::<Value>(&raw).unwrap(), body);
        let response = world
            .app
            .client
            .post(world.app.url("/v1/notices"))
            .bearer_auth(world.token(SCHOOL))
            .header("Idempotency-Key", "retry-1")
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        assert_eq!(response.json::<Value>().await.unwrap(), first);
        assert_eq!(inbox(&world, SOCIAL).await.len(), 1);
        assert_eq!(inbox(&world, CONTACT).await.len(), 1);
        assert_eq!(world.audit_rows().await.len(), 2, "decided once");

        // The key belongs to the sender's department: another sender's key is its own.
        let other = json!({"kind": "concern", "subject": emma, "data": {"concern": "x"}});
        accepted(&world, PPR, "retry-1", &other).await;
    }
}

#[tokio::test]
async fn the_same_key_with_another_body_is_409_and_delivers_nothing_more() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let emma = world.cpr(16, 4121);
        accepted(&world, SCHOOL, "k", &absence(&emma, 18)).await;
        problem(
            send(&world, SCHOOL, Some("k"), &absence(&emma, 19)).await,
            409,
        )
        .await;
        assert_eq!(inbox(&world, SOCIAL).await.len(), 1);
        assert_eq!(world.audit_rows().await.len(), 2);
    }
}

#[tokio::test]
async fn a_notice_without_an_idempotency_key_is_refused_before_anything_is_decided() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let emma = world.cpr(16, 4121);
        let response = send(&world, SCHOOL, None, &absence(&emma, 18)).await;
        let status = response.status().as_u16();
        assert!(status == 400 || status == 428, "{status}");
        let body = problem(response, status).await;
        assert!(body["detail"].as_str().unwrap().contains("Idempotency-Key"));
        assert!(inbox(&world, SOCIAL).await.is_empty());
        assert!(world.audit_rows().await.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_identical_notices_get_identical_answers_and_deliver_once() {
    for backend in Backend::all() {
        let world = Arc::new(World::start(backend).await);
        let emma = world.cpr(16, 4121);
        world.consent(&emma, 16, &["school.absence"], false).await;
        for round in 0..5 {
            let key = format!("twin-{round}");
            let body = absence(&emma, 18);
            let (a, b) = tokio::join!(
                accepted(&world, SCHOOL, &key, &body),
                accepted(&world, SCHOOL, &key, &body)
            );
            assert_eq!(a, b, "round {round}");
        }
        assert_eq!(inbox(&world, SOCIAL).await.len(), 5);
        assert_eq!(inbox(&world, CONTACT).await.len(), 5);
        assert_eq!(world.audit_rows().await.len(), 10);
        assert_eq!(world.verify().await["ok"], true);
    }
}

// ------------------------------------------------------------------------------------------------
// Failing closed
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn when_the_audit_log_cannot_be_written_a_notice_gets_503_and_nothing_is_delivered() {
    for backend in Backend::all() {
        let world = World::start(backend).await;
        let emma = world.cpr(16, 4121);
        world.consent(&emma, 16, &["school.absence"], false).await;
        execute(
            &world.app.database_url,
            "ALTER TABLE audit_log RENAME TO audit_log_away",
        )
        .await;

        problem(
            send(&world, SCHOOL, Some("down-1"), &absence(&emma, 18)).await,
            503,
        )
        .await;
        assert!(inbox(&world, SOCIAL).await.is_empty());
        assert!(inbox(&world, CONTACT).await.is_empty());
        problem(
            send(&world, CONTACT, Some("down-2"), &absence(&emma, 18)).await,
            503,
        )
        .await;

        // Once the log is back, the client's retry with the same key is decided afresh.
        execute(
            &world.app.database_url,
            "ALTER TABLE audit_log_away RENAME TO audit_log",
        )
        .await;
        let answer = accepted(&world, SCHOOL, "down-1", &absence(&emma, 18)).await;
        assert_eq!(
            recipients(&answer, "deliveries"),
            ["social-services", "youth-unit"]
        );
        assert_eq!(inbox(&world, SOCIAL).await.len(), 1);
        let verify = world.verify().await;
        assert_eq!(verify["ok"], true, "{verify}");
        assert_eq!(verify["records"], 2);
    }
}
