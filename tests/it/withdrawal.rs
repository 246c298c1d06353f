//! A withdrawn consent reaches past recipients: each department that received data on it gets one
//! `consent_withdrawn` inbox item naming the consent and the disclosures, itself audited.

use jiff::ToSpan;
use serde_json::{Value, json};
use sluse::{
    clock::{Clock, SystemClock},
    sources::simulated::{self, Records},
};

use crate::helpers::{Backend, Options, spawn_with};

const DPO: (&str, &str, &str) = ("dorte.dpo", "dpo-office", "dpo");

/// A fictitious CPR number for someone who turned `age` 100 days ago.
fn cpr_aged(age: i16, serial: u16) -> String {
    let born = SystemClock.today() - age.years() - 100.days();
    format!(
        "{:02}{:02}{:02}-{serial:04}",
        born.day(),
        born.month(),
        born.year() % 100
    )
}

async fn records_in_chain(app: &crate::helpers::TestApp) -> u64 {
    let token = app.token(DPO.0, DPO.1, DPO.2);
    let verify: Value = app
        .get("/v1/audit/verify", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
    verify["records"].as_u64().unwrap()
}

#[tokio::test]
async fn a_withdrawal_notifies_each_past_recipient_once_and_is_audited() {
    for backend in Backend::all() {
        let emma = cpr_aged(16, 4121);
        let mut records = Records::default();
        records.insert(
            &emma,
            "social.measures",
            json!({"active": true, "caseworker": {"name": "Sofie Holm", "phone": "33 12 34 56"}}),
        );
        let (source_url, _source) = simulated::spawn(records).await.unwrap();
        let app = spawn_with(Options {
            backend: backend.clone(),
            extra_toml: format!(
                "[[sources]]\ndepartment = \"social-services\"\nurl = \"{source_url}\"\n"
            ),
            ..Options::default()
        })
        .await;
        let caseworker = app.token("anna.kui", "youth-unit", "caseworker");
        let contact = app.token("jonas.kp", "youth-unit", "contact_person");

        let assigned = app
            .post_json(
                "/v1/assignments",
                Some(&caseworker),
                &json!({"subject": emma, "contact_person": "jonas.kp"}),
            )
            .await;
        assert_eq!(assigned.status(), 201);
        let until = (SystemClock.today() + 200.days()).to_string();
        let consent: Value = app
            .post_json(
                "/v1/consents",
                Some(&contact),
                &json!({
                    "subject": emma,
                    "given_by": [{"role": "subject"}, {"role": "custody_holder"}],
                    "scope": {"categories": ["social.measures"], "recipients": ["youth-unit"],
                              "purposes": ["kui.contact_person"]},
                    "valid_until": until,
                    "evidence": "journal note 2026-117"
                }),
            )
            .await
            .json()
            .await
            .unwrap();
        let consent_id = consent["id"].as_str().unwrap().to_owned();
        let request = json!({"subject": emma, "category": "social.measures",
                             "purpose": "kui.contact_person", "source": "social-services"});
        let disclosed = app
            .post_json("/v1/requests", Some(&contact), &request)
            .await;
        assert_eq!(disclosed.status(), 200, "{backend:?}");
        let disclosed: Value = disclosed.json().await.unwrap();
        assert_eq!(records_in_chain(&app).await, 1);

        let withdraw = format!("/v1/consents/{consent_id}/withdraw");
        let withdrawn = app
            .post_json(
                &withdraw,
                Some(&caseworker),
                &json!({"reason": "Emma asked"}),
            )
            .await;
        assert_eq!(withdrawn.status(), 200);
        // A retried withdrawal notifies nobody twice.
        let again = app
            .post_json(&withdraw, Some(&caseworker), &json!({}))
            .await;
        assert_eq!(again.status(), 200);

        let inbox: Value = app
            .get("/v1/inbox", Some(&contact))
            .await
            .json()
            .await
            .unwrap();
        let items = inbox["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{inbox}");
        let item = &items[0];
        assert_eq!(item["kind"], "consent_withdrawn");
        assert_eq!(item["notice_id"], consent_id.as_str());
        assert_eq!(item["data"]["consent_id"], consent_id.as_str());
        assert_eq!(item["data"]["categories"], json!(["social.measures"]));
        assert_eq!(
            item["data"]["disclosures"],
            json!([disclosed["disclosure_id"]])
        );
        assert!(
            item.get("subject").is_none_or(Value::is_null),
            "no CPR number in the notification"
        );

        // The department that disclosed is not a recipient and hears nothing.
        let social = app.token("sofie.social", "social-services", "caseworker");
        let inbox: Value = app
            .get("/v1/inbox", Some(&social))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(inbox["items"], json!([]));

        // The notification is audited; the next request is refused and audited too.
        assert_eq!(records_in_chain(&app).await, 2);
        let refused = app
            .post_json("/v1/requests", Some(&contact), &request)
            .await;
        assert_eq!(refused.status(), 403);
        assert_eq!(records_in_chain(&app).await, 3);

        let ack = app
            .client
            .post(app.url(&format!("/v1/inbox/{consent_id}/ack")))
            .bearer_auth(&contact)
            .send()
            .await
            .unwrap();
        assert_eq!(ack.status(), 200);
        let inbox: Value = app
            .get("/v1/inbox", Some(&contact))
            .await
            .json()
            .await
            .unwrap();
        assert!(inbox["items"][0]["acked_at"].is_string(), "{inbox}");
        app.stop().await;
    }
}
