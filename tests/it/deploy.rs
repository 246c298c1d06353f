//! `deploy/`: the shipped configuration passes the gateway's own checks, and `deploy/check.sh`
//! (YAML, Kubernetes objects, generated ConfigMaps, Dockerfile guarantees, systemd unit) passes.

use std::path::Path;

#[test]
fn the_deploy_configuration_passes_the_configuration_checks() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/config/sluse.toml");
    let config = sluse::config::Config::load_with_env(&path, std::iter::empty()).unwrap();
    assert_eq!(config.server.listen, "0.0.0.0:8443");
    assert!(!config.server.plain_http && config.server.tls.is_some());
    assert!(config.limits.per_principal_per_s > 0.0);
}

#[test]
fn deploy_check_passes() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/check.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .env("SLUSE_BIN", env!("CARGO_BIN_EXE_sluse"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(output.status.success(), "{stdout}{stderr}");
}
