//! The shipped policy bundle (`policies/`), compiled into the fuzz targets so that every run starts
//! from the same files without reading the disk. The root test `fuzz_corpus.rs` checks that this
//! list names every policy file of the directory.

use std::sync::OnceLock;

use sluse::policy::PolicyBundle;

/// A policy file's path relative to `policies/`, with its contents.
macro_rules! policy_file {
    ($rel:literal) => {
        ($rel, include_str!(concat!("../../policies/", $rel)))
    };
}

/// Every policy file of `policies/` (README.md is no policy file), sorted by path.
pub const FILES: &[(&str, &str)] = &[
    policy_file!("categories/concern.notification.toml"),
    policy_file!("categories/education.status.toml"),
    policy_file!("categories/job.status.toml"),
    policy_file!("categories/kui.contact.toml"),
    policy_file!("categories/ppr.assessment.toml"),
    policy_file!("categories/school.absence.toml"),
    policy_file!("categories/social.measures.toml"),
    policy_file!("consent_rules.toml"),
    policy_file!("departments.toml"),
    policy_file!("flows/concern.toml"),
    policy_file!("flows/education.toml"),
    policy_file!("flows/job_centre.toml"),
    policy_file!("flows/ppr.toml"),
    policy_file!("flows/school.toml"),
    policy_file!("flows/social_services.toml"),
    policy_file!("flows/youth_unit.toml"),
    policy_file!("legal_bases.toml"),
    policy_file!("purposes.toml"),
];

/// The shipped files as owned (path, contents) pairs, for [`PolicyBundle::from_files`].
pub fn owned() -> Vec<(String, String)> {
    FILES
        .iter()
        .map(|(rel, text)| ((*rel).to_owned(), (*text).to_owned()))
        .collect()
}

/// The shipped bundle, compiled once. Panics if it does not load: the fuzz targets need it valid.
pub fn bundle() -> &'static PolicyBundle {
    static BUNDLE: OnceLock<PolicyBundle> = OnceLock::new();
    BUNDLE.get_or_init(|| match PolicyBundle::from_files(owned()) {
        Ok(bundle) => bundle,
        Err(errors) => panic!("the shipped bundle does not load:\n{errors}"),
    })
}
