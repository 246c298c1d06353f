//! Who is calling: the verified identity every `/v1` handler works with.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The roles a token may carry (API.md §2). Unknown roles are refused at authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A caseworker (sagsbehandler) of any department.
    Caseworker,
    /// A youth-unit contact person (kontaktperson).
    ContactPerson,
    /// A school system or school staff sending notices.
    School,
    /// The data protection officer.
    Dpo,
    /// An administrator of the gateway.
    Admin,
    /// A machine client (a department's case-management system).
    System,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 6] = [
        Role::Caseworker,
        Role::ContactPerson,
        Role::School,
        Role::Dpo,
        Role::Admin,
        Role::System,
    ];

    /// The role's wire name, as in tokens and policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Caseworker => "caseworker",
            Role::ContactPerson => "contact_person",
            Role::School => "school",
            Role::Dpo => "dpo",
            Role::Admin => "admin",
            Role::System => "system",
        }
    }

    /// Parses a wire name; `None` for anything unknown.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticated caller: subject, department and role from a verified token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The acting person or system (`sub`), opaque.
    pub sub: String,
    /// The caller's department id (`dept`), known to the policy bundle.
    pub dept: String,
    /// The caller's role (`role`).
    pub role: Role,
}
