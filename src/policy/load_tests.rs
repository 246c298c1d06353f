//! Loading and validation: one test per kind of problem, each on a small bundle written to a
//! temporary directory, and a snapshot of the `policy check` listing of a bundle with many problems.

use std::path::Path;

use super::*;

/// A small valid bundle, file by file. Tests replace or add files to break it.
const BASE: &[(&str, &str)] = &[
    (
        "departments.toml",
        r#"[[department]]
id = "youth-unit"
name = "Youth unit"
kind = "youth_unit"

[[department]]
id = "nordskolen"
name = "Nordskolen"
kind = "school"
"#,
    ),
    (
        "purposes.toml",
        r#"[[purpose]]
id = "kui.contact_person"
name = "Contact person"
owner = "youth_unit"
subject_under = 25
"#,
    ),
    (
        "legal_bases.toml",
        r#"[[basis]]
id = "duty"
title = "A duty"
citation = "Lov § 1"
permits = "notices"
conditions = "under 18"
verified = true
source = "the law"
"#,
    ),
    (
        "consent_rules.toml",
        r#"[[band]]
from = 0
to = 17
may_give = ["custody_holder"]
required = ["custody_holder"]

[[band]]
from = 18
may_give = ["subject"]
required = ["subject"]
"#,
    ),
    (
        "categories/absence.toml",
        r#"id = "school.absence"
name = "Absence"
notice_kind = "absence"

[[field]]
path = "pct"
sensitivity = "ordinary"
type = "number"

[[field]]
path = "band"
sensitivity = "ordinary"
values = ["low", "high"]

[[field]]
path = "reasons"
sensitivity = "special"
special = "health"

[[field]]
path = "record"
sensitivity = "criminal"
"#,
    ),
    (
        "flows/school.toml",
        r#"[[flow]]
id = "absence-to-youth-unit"
name = "Absence"
from = ["school"]
to = "youth_unit"
category = "school.absence"
purpose = "kui.contact_person"
mode = "notice"
roles = ["school"]
need_to_know = "role"
fields = ["pct", "band"]
never = ["record"]

[[flow.basis]]
legal = "duty"
subject_age = { under = 18 }
when = ["pct >= 15"]

[[flow.basis]]
consent = true
special_fields = ["reasons"]
"#,
    ),
];

/// Writes the base bundle with `changes` applied (a file's new contents, or `None` to delete it)
/// and loads it.
fn load_with(changes: &[(&str, Option<&str>)]) -> Result<PolicyBundle, PolicyErrors> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), changes);
    PolicyBundle::load(dir.path())
}

fn write(dir: &Path, changes: &[(&str, Option<&str>)]) {
    let mut files: Vec<(&str, Option<&str>)> = BASE.iter().map(|(p, t)| (*p, Some(*t))).collect();
    for (path, text) in changes {
        match files.iter_mut().find(|(p, _)| p == path) {
            Some(slot) => slot.1 = *text,
            None => files.push((path, *text)),
        }
    }
    for (path, text) in files {
        if let Some(text) = text {
            let full = dir.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
    }
}

/// The errors of loading the base bundle with `changes`, one string each.
fn errors(changes: &[(&str, Option<&str>)]) -> Vec<String> {
    match load_with(changes) {
        Ok(_) => panic!("the bundle loaded, but errors were expected"),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

/// The base flow with one line replaced (`from` → `to`, which must occur once).
fn flow_with(from: &str, to: &str) -> String {
    let base = BASE[5].1;
    assert_eq!(base.matches(from).count(), 1, "`{from}` must occur once");
    base.replace(from, to)
}

fn category_with(from: &str, to: &str) -> String {
    let base = BASE[4].1;
    assert_eq!(base.matches(from).count(), 1, "`{from}` must occur once");
    base.replace(from, to)
}

#[test]
fn the_base_bundle_is_valid() {
    let bundle = load_with(&[]).unwrap();
    assert_eq!(bundle.flows().len(), 1);
    assert!(bundle.flow("absence-to-youth-unit").is_some());
}

#[test]
fn the_version_is_stable_and_follows_every_byte() {
    let a = load_with(&[]).unwrap();
    let b = load_with(&[]).unwrap();
    assert_eq!(a.version(), b.version());
    let changed = load_with(&[(
        "purposes.toml",
        Some(&BASE[1].1.replace("Contact person", "Contact")),
    )])
    .unwrap();
    assert_ne!(a.version(), changed.version());
    // Not policy: a README does not change the version.
    let readme = load_with(&[("README.md", Some("# notes"))]).unwrap();
    assert_eq!(a.version(), readme.version());
}

#[test]
fn toml_syntax_errors_point_at_the_line() {
    let e = errors(&[(
        "purposes.toml",
        Some("[[purpose]]\nid = \"a\"\nname = \"unterminated\n"),
    )]);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("purposes.toml:3: toml syntax: "), "{e:?}");
}

#[test]
fn unknown_and_missing_keys_are_named() {
    let e = errors(&[(
        "departments.toml",
        Some("[[department]]\nid = \"a\"\nname = \"A\"\nkindd = \"school\"\n"),
    )]);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("departments.toml:4: in `[[department]]`: unknown field `kindd`"),
        "{e:?}"
    );
    let e = errors(&[(
        "departments.toml",
        Some("[[department]]\nid = \"a\"\nname = \"A\"\n"),
    )]);
    assert!(
        e[0].starts_with("departments.toml:1: in `[[department]]`: missing field `kind`"),
        "{e:?}"
    );
    let e = errors(&[("departments.toml", Some("[[departments]]\nid = \"a\"\n"))]);
    assert_eq!(
        e,
        ["departments.toml:1: unknown key `departments`: expected `[[department]]`"]
    );
}

#[test]
fn a_missing_file_and_an_unknown_file_are_errors() {
    let e = errors(&[("purposes.toml", None), ("flow.toml", Some(""))]);
    assert_eq!(
        e,
        [
            "flow.toml: unknown policy file `flow.toml`: expected one of `departments.toml`, `legal_bases.toml`, `consent_rules.toml`, `purposes.toml`, or a file in `categories/` or `flows/`",
            // Without purposes.toml the flow's purpose cannot be checked; it is not reported.
            "purposes.toml: missing policy file `purposes.toml`",
        ]
    );
}

#[test]
fn an_unknown_department_kind_is_named() {
    let e = errors(&[(
        "departments.toml",
        Some("[[department]]\nid = \"a\"\nname = \"A\"\nkind = \"marketing\"\n"),
    )]);
    assert_eq!(
        e,
        [
            "departments.toml:4: unknown department kind `marketing`: expected one of `youth_unit`, `social_services`, `school`, `ppr`, `education_institution`, `job_centre`, `oversight`"
        ]
    );
}

#[test]
fn duplicate_ids_are_refused() {
    let twice = format!(
        "{}\n{}",
        BASE[0].1, "[[department]]\nid = \"nordskolen\"\nname = \"Again\"\nkind = \"school\"\n"
    );
    let e = errors(&[("departments.toml", Some(&twice))]);
    assert_eq!(
        e,
        [
            "departments.toml:12: duplicate department id `nordskolen` (first defined at departments.toml:7)"
        ]
    );

    let copy = flow_with("name = \"Absence\"", "name = \"Copy\"");
    let e = errors(&[("flows/copy.toml", Some(&copy))]);
    assert_eq!(
        e,
        [
            "flows/school.toml:2: duplicate flow id `absence-to-youth-unit` (first defined at flows/copy.toml:2)",
        ]
    );

    let e = errors(&[(
        "categories/again.toml",
        Some(
            "id = \"school.absence\"\nname = \"x\"\n[[field]]\npath = \"x\"\nsensitivity = \"ordinary\"\n",
        ),
    )]);
    assert_eq!(
        e,
        [
            "categories/again.toml:1: duplicate category id `school.absence` (first defined at categories/absence.toml:1)"
        ]
    );

    let e = errors(&[(
        "categories/absence.toml",
        Some(&category_with("path = \"band\"", "path = \"pct\"")),
    )]);
    assert_eq!(
        e[0],
        "categories/absence.toml:11: duplicate field `pct` in category `school.absence`"
    );
}

#[test]
fn unknown_references_in_a_flow_are_named() {
    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with(
            "category = \"school.absence\"",
            "category = \"school.absense\"",
        )),
    )]);
    assert_eq!(
        e,
        ["flows/school.toml:6: unknown category `school.absense`"]
    );

    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with(
            "purpose = \"kui.contact_person\"",
            "purpose = \"marketing\"",
        )),
    )]);
    assert_eq!(e, ["flows/school.toml:7: unknown purpose `marketing`"]);

    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with(
            "legal = \"duty\"",
            "legal = \"barnets-lov-999\"",
        )),
    )]);
    assert_eq!(
        e,
        ["flows/school.toml:15: unknown legal basis `barnets-lov-999`"]
    );

    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with(
            "fields = [\"pct\", \"band\"]",
            "fields = [\"pct\", \"bandd\"]",
        )),
    )]);
    assert_eq!(
        e,
        [
            "flows/school.toml:11: unknown field `bandd`: category `school.absence` has no such field"
        ]
    );

    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with("to = \"youth_unit\"", "to = \"youth-unit\"")),
    )]);
    assert_eq!(
        e,
        [
            "flows/school.toml:5: unknown department kind `youth-unit`: expected one of `youth_unit`, `social_services`, `school`, `ppr`, `education_institution`, `job_centre`, `oversight`"
        ]
    );

    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with("roles = [\"school\"]", "roles = [\"teacher\"]")),
    )]);
    assert_eq!(
        e,
        [
            "flows/school.toml:9: unknown role `teacher`: expected one of `caseworker`, `contact_person`, `school`, `dpo`, `admin`, `system`"
        ]
    );

    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with("mode = \"notice\"", "mode = \"push\"")),
    )]);
    assert_eq!(
        e,
        ["flows/school.toml:8: unknown mode `push`: expected `pull` or `notice`"]
    );
}

#[test]
fn a_special_or_criminal_field_needs_a_basis_that_covers_it() {
    // Listed with the ordinary fields.
    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with(
            "fields = [\"pct\", \"band\"]",
            "fields = [\"pct\", \"band\", \"reasons\"]",
        )),
    )]);
    assert_eq!(
        e,
        [
            "flows/school.toml:11: field `reasons` is special (health) and may pass only under a basis that covers it: list it in a `[[flow.basis]]`'s `special_fields`, not in `fields`"
        ]
    );
    // Under a legal basis that does not cover special categories.
    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with(
            "when = [\"pct >= 15\"]",
            "when = [\"pct >= 15\"]\nspecial_fields = [\"reasons\"]",
        )),
    )]);
    assert_eq!(
        e,
        [
            "flows/school.toml:18: legal basis `duty` does not cover special-category data (`special_categories` is not set in legal_bases.toml), so field `reasons` cannot pass under it"
        ]
    );
    // Criminal offences under consent.
    let e = errors(&[(
        "flows/school.toml",
        Some(
            &flow_with(
                "special_fields = [\"reasons\"]",
                "special_fields = [\"reasons\", \"record\"]",
            )
            .replace("never = [\"record\"]\n", ""),
        ),
    )]);
    assert_eq!(
        e,
        [
            "flows/school.toml:20: field `record` concerns criminal offences: explicit consent does not cover it here, only a legal basis with `criminal_offences = true`"
        ]
    );
    // A criminal field with the ordinary ones.
    let e = errors(&[(
        "flows/school.toml",
        Some(
            &flow_with(
                "fields = [\"pct\", \"band\"]",
                "fields = [\"pct\", \"record\"]",
            )
            .replace("never = [\"record\"]\n", ""),
        ),
    )]);
    assert_eq!(
        e,
        [
            "flows/school.toml:11: field `record` concerns criminal offences and may pass only under a legal basis that covers them: list it in the `special_fields` of such a `[[flow.basis]]`, or in `never`"
        ]
    );
    // A legal basis that does cover them may carry them.
    let covering = BASE[2].1.replace(
        "verified = true",
        "verified = true\nspecial_categories = true",
    );
    let ok = load_with(&[
        ("legal_bases.toml", Some(&covering)),
        (
            "flows/school.toml",
            Some(&flow_with(
                "when = [\"pct >= 15\"]",
                "when = [\"pct >= 15\"]\nspecial_fields = [\"reasons\"]",
            )),
        ),
    ]);
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn a_field_cannot_be_both_allowed_and_never() {
    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with(
            "never = [\"record\"]",
            "never = [\"record\", \"band\"]",
        )),
    )]);
    assert_eq!(
        e,
        ["flows/school.toml:12: field `band` is both in `fields` and in `never`"]
    );
}

#[test]
fn conditions_are_checked_against_the_category() {
    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with(
            "when = [\"pct >= 15\"]",
            "when = [\"percent >= 15\"]",
        )),
    )]);
    assert_eq!(
        e,
        [
            "flows/school.toml:17: condition on unknown field `percent`: category `school.absence` has no such field"
        ]
    );

    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with(
            "when = [\"pct >= 15\"]",
            "when = [\"pct >= 'a lot'\"]",
        )),
    )]);
    assert_eq!(
        e,
        ["flows/school.toml:17: invalid condition `pct >= 'a lot'`: `>=` compares numbers only"]
    );

    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with(
            "when = [\"pct >= 15\"]",
            "when = [\"band == 'medium'\"]",
        )),
    )]);
    assert_eq!(
        e,
        [
            "flows/school.toml:17: condition `band == 'medium'` compares `band` with `medium`, which is not one of its values `low`, `high`"
        ]
    );

    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with(
            "when = [\"pct >= 15\"]",
            "when = [\"band == 15\"]",
        )),
    )]);
    assert_eq!(
        e,
        ["flows/school.toml:17: condition `band == 15` compares `band`, a string, with a number"]
    );

    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with("when = [\"pct >= 15\"]", "when = [\"pct\"]")),
    )]);
    assert_eq!(
        e,
        [
            "flows/school.toml:17: invalid condition `pct`: expected `<field> <op> <value>` with one of `<`, `<=`, `>`, `>=`, `==`, `!=`"
        ]
    );

    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with("mode = \"notice\"", "mode = \"pull\"")),
    )]);
    assert_eq!(
        e,
        [
            "flows/school.toml:17: condition `pct >= 15` needs a payload, and only notice flows have one"
        ]
    );
}

#[test]
fn overlapping_flows_are_refused() {
    let other = flow_with("id = \"absence-to-youth-unit\"", "id = \"absence-again\"")
        .replace("from = [\"school\"]", "from = [\"ppr\", \"school\"]");
    let e = errors(&[("flows/zz.toml", Some(&other))]);
    assert_eq!(
        e,
        [
            "flows/zz.toml:1: flow `absence-again` overlaps flow `absence-to-youth-unit` (flows/school.toml:1): both carry `school.absence` from `school` to `youth_unit` for `kui.contact_person` as notice; one exchange must have one rule"
        ]
    );
    // The same exchange as a pull is another rule, not an overlap.
    let pull = flow_with("id = \"absence-to-youth-unit\"", "id = \"absence-pull\"")
        .replace("mode = \"notice\"", "mode = \"pull\"")
        .replace("when = [\"pct >= 15\"]\n", "");
    assert!(load_with(&[("flows/zz.toml", Some(&pull))]).is_ok());
}

#[test]
fn bad_categories_are_refused() {
    let e = errors(&[(
        "categories/absence.toml",
        Some(&category_with(
            "sensitivity = \"criminal\"",
            "sensitivity = \"secret\"",
        )),
    )]);
    assert_eq!(
        e,
        [
            "categories/absence.toml:22: unknown sensitivity `secret`: expected one of `ordinary`, `cpr`, `special`, `criminal`, `free_text`"
        ]
    );
    let e = errors(&[(
        "categories/absence.toml",
        Some(&category_with("special = \"health\"\n", "")),
    )]);
    assert_eq!(
        e,
        [
            "categories/absence.toml:16: special field `reasons` must say which special category it is, e.g. `special = \"health\"`"
        ]
    );
    let e = errors(&[(
        "categories/absence.toml",
        Some(&category_with("path = \"record\"", "path = \"Record!\"")),
    )]);
    assert!(
        e[0].starts_with("categories/absence.toml:21: invalid field path `Record!`"),
        "{e:?}"
    );
    let e = errors(&[(
        "categories/absence.toml",
        Some(&category_with("path = \"band\"", "path = \"pct.band\"")),
    )]);
    assert_eq!(
        e,
        [
            "categories/absence.toml:6: field `pct` is also the object of `pct.band`: declare only the leaves, a flow may name the object",
            // The flow's `band` is gone indeed.
            "flows/school.toml:11: unknown field `band`: category `school.absence` has no such field",
        ]
    );
}

#[test]
fn an_unverified_legal_basis_must_say_why() {
    let e = errors(&[(
        "legal_bases.toml",
        Some(&BASE[2].1.replace("verified = true", "verified = false")),
    )]);
    assert_eq!(
        e,
        [
            "legal_bases.toml:7: legal basis `duty` is not verified: say why, and what a lawyer must confirm, in `verification_note`"
        ]
    );
}

#[test]
fn consent_bands_must_cover_every_age_once() {
    let gap = BASE[3].1.replace("from = 18", "from = 19");
    assert_eq!(
        errors(&[("consent_rules.toml", Some(&gap))]),
        [
            "consent_rules.toml:7: consent band from age `19` leaves a gap or overlap: the previous band ends before age `18`"
        ]
    );
    let closed = BASE[3].1.replace("from = 18\n", "from = 18\nto = 99\n");
    assert_eq!(
        errors(&[("consent_rules.toml", Some(&closed))]),
        ["consent_rules.toml:7: the last consent band must have no `to`: every age needs a rule"]
    );
    let stranger = BASE[3].1.replace(
        "required = [\"subject\"]",
        "required = [\"custody_holder\"]",
    );
    assert_eq!(
        errors(&[("consent_rules.toml", Some(&stranger))]),
        ["consent_rules.toml:7: `required` lists `custody_holder`, who is not in `may_give`"]
    );
    assert_eq!(
        errors(&[("consent_rules.toml", Some("# nothing yet\n"))]),
        ["consent_rules.toml: no consent bands: write at least one `[[band]]`"]
    );
}

#[test]
fn oversight_neither_sends_nor_receives() {
    let e = errors(&[(
        "flows/school.toml",
        Some(&flow_with("to = \"youth_unit\"", "to = \"oversight\"")),
    )]);
    assert_eq!(
        e,
        [
            "flows/school.toml:5: department kind `oversight` neither sends nor receives personal data: the DPO reads the audit trail"
        ]
    );
}

#[test]
fn a_flow_needs_a_basis_of_one_kind() {
    let bare = flow_with(
        "[[flow.basis]]\nlegal = \"duty\"\nsubject_age = { under = 18 }\nwhen = [\"pct >= 15\"]\n\n",
        "",
    );
    let bare = bare.replace(
        "[[flow.basis]]\nconsent = true\nspecial_fields = [\"reasons\"]\n",
        "",
    );
    assert_eq!(
        errors(&[("flows/school.toml", Some(&bare))]),
        [
            "flows/school.toml:1: flow `absence-to-youth-unit` rests on no basis: add a `[[flow.basis]]`"
        ]
    );
    let both = flow_with("legal = \"duty\"", "legal = \"duty\"\nconsent = true");
    assert_eq!(
        errors(&[("flows/school.toml", Some(&both))]),
        [
            "flows/school.toml:14: a `[[flow.basis]]` is either `consent = true` or `legal = \"<legal basis id>\"`"
        ]
    );
}

#[test]
fn policy_check_lists_every_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let flow = flow_with(
        "purpose = \"kui.contact_person\"",
        "purpose = \"marketing\"",
    )
    .replace(
        "fields = [\"pct\", \"band\"]",
        "fields = [\"pct\", \"band\", \"reasons\", \"colour\"]",
    )
    .replace("when = [\"pct >= 15\"]", "when = [\"percent >= 15\"]")
    .replace("legal = \"duty\"", "legal = \"duty-to-gossip\"");
    write(
        dir.path(),
        &[
            (
                "departments.toml",
                Some(&format!(
                    "{}\n[[department]]\nid = \"nordskolen\"\nname = \"Again\"\nkind = \"shop\"\n",
                    BASE[0].1
                )),
            ),
            (
                "legal_bases.toml",
                Some(&BASE[2].1.replace("verified = true", "verified = false")),
            ),
            ("flows/school.toml", Some(&flow)),
            ("flows/broken.toml", Some("[[flow]\nid = \"x\"\n")),
        ],
    );
    let listing = match check(dir.path()) {
        Ok(summary) => panic!("expected errors, got {summary}"),
        Err(e) => e.to_string(),
    };
    insta::assert_snapshot!(listing);
}

// ---- in memory (`PolicyBundle::from_files`, for the fuzz targets) ----

/// The base bundle with `changes`, as (path, contents) pairs.
fn in_memory(changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let mut files: Vec<(String, Option<String>)> = BASE
        .iter()
        .map(|(p, t)| ((*p).to_owned(), Some((*t).to_owned())))
        .collect();
    for (path, text) in changes {
        match files.iter_mut().find(|(p, _)| p == path) {
            Some(slot) => slot.1 = text.map(str::to_owned),
            None => files.push(((*path).to_owned(), text.map(str::to_owned))),
        }
    }
    files
        .into_iter()
        .filter_map(|(p, t)| t.map(|t| (p, t)))
        .collect()
}

#[test]
fn a_bundle_in_memory_loads_as_the_same_files_on_disk_do() {
    let broken = flow_with(
        "purpose = \"kui.contact_person\"",
        "purpose = \"marketing\"",
    );
    let cases: [&[(&str, Option<&str>)]; 5] = [
        &[],
        &[("flows/school.toml", Some(&broken))],
        &[("purposes.toml", None)],
        &[("rules.toml", Some("x = 1")), ("README.md", Some("notes"))],
        &[("categories/absence.toml", Some("id = ["))],
    ];
    for changes in cases {
        let from_disk = load_with(changes);
        let from_memory = PolicyBundle::from_files(in_memory(changes));
        match (from_disk, from_memory) {
            (Ok(disk), Ok(memory)) => assert_eq!(disk.version(), memory.version(), "{changes:?}"),
            (Err(disk), Err(memory)) => assert_eq!(disk, memory, "{changes:?}"),
            (disk, memory) => panic!("{changes:?}: {disk:?} vs {memory:?}"),
        }
    }
}

#[test]
fn the_shipped_bundle_in_memory_has_the_version_of_the_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut files = Vec::new();
    for sub in ["", "categories", "flows"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let rel = if sub.is_empty() {
                    name
                } else {
                    format!("{sub}/{name}")
                };
                files.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let from_memory = PolicyBundle::from_files(files).unwrap();
    assert_eq!(
        from_memory.version(),
        PolicyBundle::load(&dir).unwrap().version()
    );
}

#[test]
fn a_file_given_twice_in_memory_is_an_error_and_nested_paths_are_not_policy() {
    let mut files = in_memory(&[]);
    files.push(files[0].clone());
    files.push(("flows/old/school.toml".into(), "not toml".into()));
    files.push(("notes/flows.toml".into(), "not toml".into()));
    let errors: Vec<String> = PolicyBundle::from_files(files)
        .unwrap_err()
        .errors()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        ["departments.toml: duplicate policy file `departments.toml`"]
    );
}
