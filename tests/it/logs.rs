//! Log hygiene: the log output of requests carrying a CPR number and a token contains neither.

use serde_json::json;

use crate::{
    cli::serve,
    helpers::{Options, prepare},
};

#[tokio::test]
async fn logs_never_contain_cpr_numbers_or_tokens() {
    let (_dir, config, keys, _) = prepare(&Options::default()).await;
    let (process, base) = serve(&config).await;
    let client = reqwest::Client::new();
    let token = keys.token("anna.kui", "youth-unit", "caseworker");
    let cpr = "150109-4321";

    for body in [
        json!({"subject": cpr, "contact_person": "jonas.kp"}),
        json!({"subject": "1501094321", "contact_person": "jonas.kp", "unknown": cpr}),
        json!({"subject": 1501094321u64, "contact_person": "jonas.kp"}),
        json!({"subject": "310209-1234", "contact_person": "jonas.kp"}),
    ] {
        client
            .post(format!("{base}/v1/assignments"))
            .bearer_auth(&token)
            .header("x-request-id", cpr)
            .json(&body)
            .send()
            .await
            .unwrap();
    }
    client
        .get(format!("{base}/v1/me"))
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .unwrap();
    client
        .get(format!("{base}/v1/nothing/{cpr}"))
        .send()
        .await
        .unwrap();

    let (_, lines) = process.terminate();
    let log = lines.join("\n");
    assert!(
        log.contains("request finished"),
        "the requests were logged:\n{log}"
    );
    assert!(log.contains("\"route\""), "{log}");
    for secret in [cpr, "1501094321", "150109 4321", "310209", token.as_str()] {
        assert!(
            !log.contains(secret),
            "`{secret}` leaked into the log:\n{log}"
        );
    }
    let signature = token.rsplit('.').next().unwrap();
    assert!(!log.contains(signature));
}
