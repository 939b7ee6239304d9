//! The tokens file: named bearer tokens with roles, beside the admin token.
//!
//! ```yaml
//! tokens:
//!   - name: ci-bot        # shows in the audit trail; letters, digits, . _ -
//!     role: operator      # viewer | operator | admin
//!     token: "…"          # at least 16 characters; `cortex token` makes one
//! ```
//!
//! On Kubernetes the file is a Secret mounted into the pod. It is read once
//! at start; rotating a token means editing the file and restarting the
//! daemons one at a time (SECURITY.md). Every problem in the file is
//! reported at once, by entry, and the daemon refuses to start.

use std::collections::BTreeSet;
use std::path::Path;

use cortex_consensus::audit::{Actor, Role};
use serde::Deserialize;

use super::token::MIN_TOKEN_LEN;

/// Name of the actor the admin token acts as; taken, so a file cannot use it.
pub const ADMIN_NAME: &str = "admin";
/// Most tokens in a file (each request is compared with every one).
const MAX_TOKENS: usize = 256;
/// Largest tokens file.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// A named token as read from the file.
pub struct NamedToken {
    /// Who presents it.
    pub actor: Actor,
    /// The secret.
    pub secret: String,
}

impl std::fmt::Debug for NamedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NamedToken({:?}, <redacted>)", self.actor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tokens: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    role: String,
    token: String,
}

/// Reads and checks the tokens file at `path`.
pub fn read(path: &Path) -> anyhow::Result<Vec<NamedToken>> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("tokens file {shown}: {e}"))?
        .len();
    if size > MAX_FILE_BYTES {
        anyhow::bail!("tokens file {shown} is {size} bytes; at most {MAX_FILE_BYTES}");
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("tokens file {shown}: {e}"))?;
    parse(&text).map_err(|problems| anyhow::anyhow!("tokens file {shown}: {problems}"))
}

/// Parses a tokens file; every problem found, one per line, otherwise.
pub fn parse(text: &str) -> Result<Vec<NamedToken>, String> {
    let options = serde_saphyr::options! { with_snippet: false, strict_booleans: true };
    // The library's message may quote the input, and so a token: say only where.
    let file: File = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" at line {}", l.line()))
            .unwrap_or_default();
        format!("not a valid tokens file{at} (expected `tokens:` with name, role and token)")
    })?;
    let mut problems = Vec::new();
    if file.tokens.len() > MAX_TOKENS {
        problems.push(format!(
            "{} tokens; at most {MAX_TOKENS}",
            file.tokens.len()
        ));
    }
    let mut names = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    let mut tokens = Vec::new();
    for (n, entry) in file.tokens.into_iter().enumerate() {
        let at = format!("tokens[{n}]");
        if !Actor::valid_name(&entry.name) {
            problems.push(format!(
                "{at}: name must be 1 to {} of A-Z a-z 0-9 . _ -",
                Actor::MAX_NAME_LEN
            ));
        } else if entry.name == ADMIN_NAME {
            problems.push(format!(
                "{at}: the name {ADMIN_NAME:?} is the admin token's"
            ));
        } else if !names.insert(entry.name.clone()) {
            problems.push(format!("{at}: the name {:?} is used twice", entry.name));
        }
        let role = Role::parse(&entry.role);
        if role.is_none() {
            problems.push(format!("{at}: role must be viewer, operator or admin"));
        }
        if entry.token.trim().len() < MIN_TOKEN_LEN {
            problems.push(format!(
                "{at}: token must be at least {MIN_TOKEN_LEN} characters"
            ));
        } else if !secrets.insert(entry.token.trim().to_string()) {
            problems.push(format!("{at}: the same token is given twice"));
        }
        if let Some(role) = role {
            tokens.push(NamedToken {
                actor: Actor {
                    name: entry.name,
                    role,
                },
                secret: entry.token.trim().to_string(),
            });
        }
    }
    if problems.is_empty() {
        Ok(tokens)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "
tokens:
  - name: ci-bot
    role: operator
    token: 0123456789abcdef-ci
  - name: grafana
    role: viewer
    token: \"0123456789abcdef-viewer\"
";

    #[test]
    fn a_good_file_gives_named_roles() {
        let tokens = parse(GOOD).unwrap();
        let actors: Vec<_> = tokens
            .iter()
            .map(|t| (t.actor.name.as_str(), t.actor.role))
            .collect();
        assert_eq!(
            actors,
            [("ci-bot", Role::Operator), ("grafana", Role::Viewer)]
        );
        assert_eq!(tokens[1].secret, "0123456789abcdef-viewer");
        assert!(!format!("{tokens:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn every_problem_is_reported_by_entry() {
        let bad = "
tokens:
  - {name: admin, role: viewer, token: 0123456789abcdef-1}
  - {name: 'a b', role: root, token: short}
  - {name: x, role: viewer, token: 0123456789abcdef-2}
  - {name: x, role: viewer, token: 0123456789abcdef-2}
";
        let problems = parse(bad).unwrap_err();
        for expected in [
            "tokens[0]: the name \"admin\" is the admin token's",
            "tokens[1]: name must be",
            "tokens[1]: role must be viewer, operator or admin",
            "tokens[1]: token must be at least 16",
            "tokens[3]: the name \"x\" is used twice",
            "tokens[3]: the same token is given twice",
        ] {
            assert!(problems.contains(expected), "{expected:?} in {problems}");
        }
    }

    #[test]
    fn a_malformed_file_never_echoes_its_content() {
        for text in [
            "tokens:\n  - name: a\n    role: viewer\n    token: secret-secret-secret\n    extra: 1\n",
            "tokens: [",
            "nothing: here",
        ] {
            let problem = parse(text).unwrap_err();
            assert!(problem.starts_with("not a valid tokens file"), "{problem}");
            assert!(!problem.contains("secret-secret"), "{problem}");
        }
    }
}
