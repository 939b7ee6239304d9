//! Unit tests of the parsing of git's output and of remote URL redaction.

use super::repo::{parse_branches, parse_log, parse_remotes, redact_url};
use super::{person_id, repository_id};

#[test]
fn remote_urls_lose_their_credentials() {
    assert_eq!(
        redact_url("https://user:tok@github.com/a/b.git"),
        "https://github.com/a/b.git"
    );
    assert_eq!(
        redact_url("https://ghp_x@github.com/a/b"),
        "https://github.com/a/b"
    );
    assert_eq!(redact_url("ssh://git@host:22/a.git"), "ssh://host:22/a.git");
    assert_eq!(
        redact_url("git@github.com:a/b.git"),
        "git@github.com:a/b.git"
    );
    assert_eq!(redact_url("https://host/path@v1"), "https://host/path@v1");
    assert_eq!(redact_url("/srv/git/a.git"), "/srv/git/a.git");
    let remotes = parse_remotes(
        "origin\thttps://u:p@h/x (fetch)\norigin\thttps://u:p@h/x (push)\nbad line\nup\t/srv/y (fetch)\n",
    );
    assert_eq!(
        remotes,
        [
            ("origin".to_string(), "https://h/x".to_string()),
            ("up".to_string(), "/srv/y".to_string())
        ]
    );
}

#[test]
fn log_and_refs_parse_whatever_git_prints() {
    let log =
        "a1\0p1 p2\0Ada\0ada@x\x002024-01-01T00:00:00Z\0Merge\x1e\nb2\0\0Bob\0\0d\0\x1e\njunk\x1e\n";
    let commits = parse_log(log);
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[0].parents, ["p1", "p2"]);
    assert_eq!(commits[1].email, "");
    assert!(parse_log("").is_empty());
    let branches =
        parse_branches("main\0abc\0d\0origin/main\nfeature\0def\0d\0\n\0\0\0\nonly-name\n");
    assert_eq!(branches.len(), 2);
    assert_eq!(branches[0].upstream.as_deref(), Some("origin/main"));
    assert_eq!(branches[1].upstream, None);
}

#[test]
fn ids_are_stable_and_bounded() {
    assert_eq!(
        person_id(" Ada@Example.com ", "Ada"),
        "person/ada@example.com"
    );
    assert_eq!(person_id("", "Ada Lovelace"), "person/ada lovelace");
    let long = std::path::PathBuf::from(format!("/{}", "d/".repeat(400)));
    assert!(repository_id(&long).len() <= 512);
}
