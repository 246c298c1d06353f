//! The DPO console through the real router: sign-in, sessions, CSRF, security headers, and the
//! pages' content.

use regex::Regex;
use reqwest::{Response, header};
use sluse::{audit::Outcome, policy::BasisKind};

use crate::{
    dpo::{DpoApp, EMMA, Rec, at, seed},
    helpers::Backend,
};

/// A browser's view of one signed-in DPO: the session cookie, and the CSRF token of the forms.
struct Browser<'a> {
    app: &'a DpoApp,
    cookie: String,
    csrf: String,
}

fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// An `application/x-www-form-urlencoded` body.
fn form_body(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn csrf_of(html: &str) -> String {
    Regex::new(r#"name="csrf" value="([^"]+)""#)
        .unwrap()
        .captures(html)
        .unwrap_or_else(|| panic!("no csrf field in {html}"))[1]
        .to_owned()
}

fn assert_security_headers(response: &Response) {
    let h = response.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
}

/// GET /dpo/login: the form's double-submit token and its cookie.
async fn login_form(app: &DpoApp) -> (String, String) {
    let response = app
        .client
        .get(format!("{}/dpo/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_security_headers(&response);
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("sluse_dpo_login="))
        .unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let html = response.text().await.unwrap();
    assert!(html.contains("Access token"), "{html}");
    (pair, csrf_of(&html))
}

async fn post_login(app: &DpoApp, token: &str, cookie: &str, csrf: &str) -> Response {
    app.client
        .post(format!("{}/dpo/login", app.base))
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form_body(&[("token", token), ("csrf", csrf)]))
        .send()
        .await
        .unwrap()
}

impl<'a> Browser<'a> {
    async fn sign_in(app: &'a DpoApp) -> Browser<'a> {
        let (login_cookie, csrf) = login_form(app).await;
        let response = post_login(app, &app.dpo(), &login_cookie, &csrf).await;
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/dpo/");
        let session = set_cookies(&response)
            .into_iter()
            .find(|c| c.starts_with("sluse_dpo="))
            .expect("a session cookie");
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/dpo"] {
            assert!(session.contains(attribute), "{session}");
        }
        let cookie = session.split(';').next().unwrap().to_owned();
        // The cookie holds a random id, not the token.
        assert!(!cookie.contains(&app.dpo()[..20]));
        assert!(cookie.len() < 100);
        let mut browser = Browser {
            app,
            cookie,
            csrf: String::new(),
        };
        let (status, html) = browser.get("/dpo/").await;
        assert_eq!(status, 200);
        browser.csrf = csrf_of(&html);
        browser
    }

    async fn get_response(&self, path: &str) -> Response {
        self.app
            .client
            .get(format!("{}{path}", self.app.base))
            .header(header::COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self.get_response(path).await;
        assert_security_headers(&response);
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let response = self
            .app
            .client
            .post(format!("{}{path}", self.app.base))
            .header(header::COOKIE, &self.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_body(form))
            .send()
            .await
            .unwrap();
        assert_security_headers(&response);
        response
    }
}

#[tokio::test]
async fn a_dpo_token_signs_in_and_other_tokens_or_forged_forms_do_not() {
    let app = DpoApp::start(Backend::Sqlite).await;
    // Without a session, every page sends the browser to the sign-in form.
    for path in [
        "/dpo/",
        "/dpo/chain",
        "/dpo/subject",
        "/dpo/stats",
        "/dpo/records/1",
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/dpo/login");
        assert_security_headers(&response);
    }

    let (cookie, csrf) = login_form(&app).await;
    let caseworker = app.keys.token("cw-1", "youth-unit", "caseworker");
    let refused = post_login(&app, &caseworker, &cookie, &csrf).await;
    assert_eq!(refused.status(), 403);
    assert!(
        set_cookies(&refused)
            .iter()
            .all(|c| !c.starts_with("sluse_dpo="))
    );
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Only the data protection officer")
    );

    let forged = post_login(&app, "not.a.token", &cookie, &csrf).await;
    assert_eq!(forged.status(), 401);
    assert!(
        set_cookies(&forged)
            .iter()
            .all(|c| !c.starts_with("sluse_dpo="))
    );

    // A sign-in form posted from elsewhere (no matching double-submit cookie) is refused.
    let cross_site = post_login(&app, &app.dpo(), "sluse_dpo_login=other", &csrf).await;
    assert_eq!(cross_site.status(), 403);
    assert!(
        set_cookies(&cross_site)
            .iter()
            .all(|c| !c.starts_with("sluse_dpo="))
    );

    // A made-up session id is no session.
    let response = app
        .client
        .get(format!("{}/dpo/", app.base))
        .header(header::COOKIE, "sluse_dpo=made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);

    let browser = Browser::sign_in(&app).await;
    let (status, html) = browser.get("/dpo/").await;
    assert_eq!(status, 200);
    assert!(html.contains("Signed in as dpo-1"), "{html}");

    // Signing out needs the CSRF token too; then the session is gone.
    assert_eq!(browser.post("/dpo/logout", &[]).await.status(), 403);
    assert_eq!(
        browser
            .post("/dpo/logout", &[("csrf", "wrong")])
            .await
            .status(),
        403
    );
    let out = browser
        .post("/dpo/logout", &[("csrf", &browser.csrf)])
        .await;
    assert_eq!(out.status(), 303);
    assert!(
        set_cookies(&out)
            .iter()
            .any(|c| c.starts_with("sluse_dpo=;"))
    );
    assert_eq!(browser.get_response("/dpo/").await.status(), 303);
}

#[tokio::test]
async fn the_console_pages_show_the_trail_and_escape_what_they_show() {
    for backend in Backend::all() {
        let app = DpoApp::start(backend.clone()).await;
        seed(&app).await;
        app.append(vec![
            Rec {
                at: at("2026-03-12T10:00:00Z"),
                sub: "<script>alert(1)</script>",
                dept: "youth-unit",
                subject: None,
                category: "school.absence",
                source: "school-north",
                recipient: "youth-unit",
                outcome: Outcome::Denied,
                basis: None,
                reason: Some("no_consent"),
            }
            .build(),
        ])
        .await;
        let browser = Browser::sign_in(&app).await;

        // The search: newest first, 50 a page, a link to older records.
        let (status, html) = browser.get("/dpo/").await;
        assert_eq!(status, 200, "{backend:?}");
        assert!(html.contains(r#"href="/dpo/records/31""#));
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        let (_, html) = browser.get("/dpo/?department=school-north&decision=").await;
        let rows = html.matches("href=\"/dpo/records/").count();
        assert_eq!(rows, 4, "{html}");
        let (_, html) = browser.get("/dpo/?decision=deny").await;
        assert!(html.contains(r#"href="/dpo/records/5""#));
        assert!(!html.contains(r#"href="/dpo/records/1""#));
        // A CPR number is refused as a search term: it belongs in the subject report's form.
        let (_, html) = browser.get("/dpo/?subject=0101104123").await;
        assert!(html.contains("use the subject report"), "{html}");

        // One record in full.
        let (status, html) = browser.get("/dpo/records/2").await;
        assert_eq!(status, 200);
        for text in [
            "no_consent",
            "cw-bo",
            "social-services",
            "Previous hash",
            "test-1",
        ] {
            assert!(html.contains(text), "`{text}` missing");
        }
        assert_eq!(browser.get("/dpo/records/999").await.0, 404);

        // Chain status and "verify now" (CSRF-protected).
        let (_, html) = browser.get("/dpo/chain").await;
        assert!(html.contains("Not verified in this session yet"));
        assert!(html.contains("<dd>31</dd>"), "{html}");
        assert_eq!(browser.post("/dpo/chain/verify", &[]).await.status(), 403);
        // The verification runs in the background; the chain page shows its progress and
        // refreshes itself until it is done.
        let started = browser
            .post("/dpo/chain/verify", &[("csrf", &browser.csrf)])
            .await;
        assert_eq!(started.status(), 303);
        assert_eq!(started.headers()["location"], "/dpo/chain");
        let mut html = String::new();
        for _ in 0..100 {
            html = browser.get("/dpo/chain").await.1;
            if !html.contains("Verifying…") {
                break;
            }
            assert!(html.contains(r#"<meta http-equiv="refresh""#), "{html}");
            assert!(html.contains("records checked"), "{html}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(html.contains("the chain is intact — 31 records"), "{html}");
        assert!(html.contains("Last verified in this session"));
        assert!(!html.contains(r#"http-equiv="refresh""#));

        // Statistics as inline SVG.
        let (status, html) = browser.get("/dpo/stats?weeks=52").await;
        assert_eq!(status, 200);
        assert!(html.contains("<svg"), "{html}");
        assert!(html.contains("Refusals by reason"));
        assert!(html.contains("<title>Disclosures per week by recipient department</title>"));
        let css = browser.get_response("/dpo/console.css").await;
        assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    }
}

#[tokio::test]
async fn the_subject_report_takes_the_cpr_number_in_a_posted_form_only() {
    let app = DpoApp::start(Backend::Sqlite).await;
    seed(&app).await;
    let browser = Browser::sign_in(&app).await;
    let (_, form) = browser.get("/dpo/subject").await;
    assert!(
        form.contains(r#"<form method="post" action="/dpo/subject""#),
        "{form}"
    );
    assert!(!form.contains(r#"method="get" action="/dpo/subject""#));

    assert_eq!(
        browser
            .post("/dpo/subject", &[("cpr", EMMA)])
            .await
            .status(),
        403
    );
    let response = browser
        .post("/dpo/subject", &[("cpr", EMMA), ("csrf", &browser.csrf)])
        .await;
    assert_eq!(response.status(), 200);
    // Answered in place: no redirect to a URL that could carry the number.
    assert_eq!(response.url().path(), "/dpo/subject");
    assert!(response.url().query().is_none());
    let html = response.text().await.unwrap();
    assert!(html.contains(app.pseudonym(EMMA).as_str()));
    assert!(html.contains("2026-03-02T10:00:00.000000Z"));
    assert!(html.contains("barnets-lov-133"));
    assert!(html.contains("social-services"));
    for absent in ["kp-anna", "cw-bo", "school-sys", "010110", "4123"] {
        assert!(!html.contains(absent), "`{absent}` in the report page");
    }
    let bad = browser
        .post(
            "/dpo/subject",
            &[("cpr", "311399-0000"), ("csrf", &browser.csrf)],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(!bad.text().await.unwrap().contains("311399"));
}

#[tokio::test]
async fn statutory_disclosures_wait_for_review_and_a_review_is_an_audit_record() {
    for backend in Backend::all() {
        let app = DpoApp::start(backend).await;
        let seeded = seed(&app).await;
        // A fresh statutory disclosure: in the queue, not overdue.
        let fresh = app
            .append(vec![
                Rec {
                    at: app.state.clock().now(),
                    sub: "kp-anna",
                    dept: "school-north",
                    subject: Some(app.pseudonym(EMMA)),
                    category: "school.absence",
                    source: "school-north",
                    recipient: "social-services",
                    outcome: Outcome::Delivered,
                    basis: Some((BasisKind::Legal, "barnets-lov-133")),
                    reason: None,
                }
                .build(),
            ])
            .await
            .remove(0);
        let statutory: Vec<u64> = seeded
            .iter()
            .chain([&fresh])
            .filter(|c| sluse::audit::review::is_statutory(&c.record))
            .map(|c| c.seq)
            .collect();
        assert!(statutory.len() > 3);

        // The JSON queue: only the DPO; every statutory disclosure; all but the fresh one overdue.
        let caseworker = app.keys.token("cw-1", "youth-unit", "caseworker");
        assert_eq!(app.get("/v1/audit/review", &caseworker).await.status(), 403);
        let queue = |status: &'static str| {
            let app = &app;
            async move {
                let response = app
                    .get(&format!("/v1/audit/review?status={status}"), &app.dpo())
                    .await;
                assert_eq!(response.status(), 200);
                response.json::<serde_json::Value>().await.unwrap()
            }
        };
        let q = queue("pending").await;
        let seqs: Vec<u64> = q["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, statutory);
        assert_eq!(q["overdue_days"], 14);
        assert_eq!(q["pending"], statutory.len());
        assert_eq!(q["overdue"], statutory.len() - 1);
        let last = q["items"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["overdue"], false);
        assert_eq!(last["review"], serde_json::Value::Null);
        assert_eq!(q["items"][0]["overdue"], true);

        // The console's queue, and marking one reviewed (a CSRF-checked form).
        let browser = Browser::sign_in(&app).await;
        let first = statutory[0];
        let (status, html) = browser.get("/dpo/review").await;
        assert_eq!(status, 200);
        assert!(
            html.contains("Statutory disclosures under review"),
            "{html}"
        );
        assert!(html.contains(&format!(r#"action="/dpo/review/{first}""#)));
        assert!(html.contains("Overdue"));
        assert!(html.contains(&format!("{} overdue", statutory.len() - 1)));
        let path = format!("/dpo/review/{first}");
        assert_eq!(browser.post(&path, &[]).await.status(), 403);
        let head = fresh.seq;
        let marked = browser.post(&path, &[("csrf", &browser.csrf)]).await;
        assert_eq!(marked.status(), 303);
        assert_eq!(
            marked.headers()["location"],
            format!("/dpo/review?marked={first}").as_str()
        );
        // The review is the next record of the chain, by the DPO, releasing nothing.
        let review = sluse::audit::report::record_at(app.state.store(), head + 1)
            .await
            .unwrap()
            .expect("the review's audit record");
        assert_eq!(review.record.requester.sub, "dpo-1");
        assert_eq!(review.record.purpose, "dpo.review");
        assert_eq!(review.record.outcome, Outcome::Withheld);
        assert_eq!(review.record.reasons[0].code, "reviewed");
        assert!(
            review.record.reasons[0]
                .message
                .contains(&format!("seq {first}"))
        );
        assert!(review.record.fields_disclosed.is_empty());
        // Marked once only.
        assert_eq!(
            browser
                .post(&path, &[("csrf", &browser.csrf)])
                .await
                .status(),
            303
        );
        assert!(
            sluse::audit::report::record_at(app.state.store(), head + 2)
                .await
                .unwrap()
                .is_none()
        );
        // Not a statutory disclosure: nothing to mark.
        assert_eq!(
            browser
                .post("/dpo/review/2", &[("csrf", &browser.csrf)])
                .await
                .status(),
            404
        );
        let q = queue("pending").await;
        assert_eq!(q["pending"], statutory.len() - 1);
        let q = queue("reviewed").await;
        assert_eq!(q["items"].as_array().unwrap().len(), 1);
        assert_eq!(q["items"][0]["seq"], first);
        assert_eq!(q["items"][0]["review"]["review_seq"], head + 1);
        assert_eq!(q["items"][0]["review"]["reviewed_by"], "dpo-1");
        let (_, html) = browser.get("/dpo/review?status=reviewed").await;
        assert!(html.contains("Reviewed by dpo-1"), "{html}");
        // The chain still verifies.
        let v: serde_json::Value = app
            .get("/v1/audit/verify", &app.dpo())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["ok"], true, "{v}");
    }
}
