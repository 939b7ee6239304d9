//! What one repository says about itself, through a handful of read-only
//! git commands, and the pure parsing of their output.

use std::path::{Path, PathBuf};

use super::command::git;

/// Branches read per repository (the most recently committed).
pub const MAX_BRANCHES: usize = 256;
/// Commits read per repository, whatever the plan asks.
pub const MAX_COMMITS: u32 = 10_000;

/// A repository as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// Its directory (working tree top, or the bare directory).
    pub path: PathBuf,
    /// Whether it has no working tree.
    pub bare: bool,
    /// The commit `HEAD` points at; none in an empty repository.
    pub head: Option<String>,
    /// The checked-out branch; none when `HEAD` is detached.
    pub current_branch: Option<String>,
    /// `origin`'s default branch if known, else the current branch.
    pub default_branch: Option<String>,
    /// Remotes with their fetch URLs, credentials removed.
    pub remotes: Vec<(String, String)>,
    /// Local branches, most recently committed first.
    pub branches: Vec<Branch>,
    /// Whether there were more than [`MAX_BRANCHES`].
    pub branches_truncated: bool,
    /// The most recent commits of all local branches and `HEAD`.
    pub commits: Vec<Commit>,
}

/// A local branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    /// Short name (`main`, `feature/x`).
    pub name: String,
    /// The commit it points at.
    pub head: String,
    /// Committer date of that commit (ISO 8601).
    pub date: String,
    /// Its upstream (`origin/main`), if any.
    pub upstream: Option<String>,
}

/// A commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Full hash.
    pub sha: String,
    /// Parent hashes.
    pub parents: Vec<String>,
    /// Author name.
    pub author: String,
    /// Author email.
    pub email: String,
    /// Author date (ISO 8601).
    pub date: String,
    /// First line of the message.
    pub subject: String,
}

/// Reads the repository at `path`, with at most `max_commits` commits.
pub async fn read(path: &Path, max_commits: u32) -> Result<Repository, String> {
    let bare = git(path, &["rev-parse", "--is-bare-repository"])
        .await?
        .trim()
        == "true";
    let head = git(path, &["rev-parse", "--verify", "-q", "HEAD"])
        .await
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty());
    let current_branch = optional(git(path, &["symbolic-ref", "-q", "--short", "HEAD"]).await);
    let origin_head = optional(
        git(
            path,
            &["symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"],
        )
        .await,
    );
    let default_branch = origin_head
        .map(|h| h.strip_prefix("origin/").unwrap_or(&h).to_string())
        .or_else(|| current_branch.clone());
    let remotes = parse_remotes(&git(path, &["remote", "-v"]).await?);
    let count = format!("--count={}", MAX_BRANCHES + 1);
    let refs = git(
        path,
        &[
            "for-each-ref",
            "--sort=-committerdate",
            &count,
            "--format=%(refname:short)%00%(objectname)%00%(committerdate:iso-strict)%00%(upstream:short)",
            "refs/heads",
        ],
    )
    .await?;
    let mut branches = parse_branches(&refs);
    let branches_truncated = branches.len() > MAX_BRANCHES;
    branches.truncate(MAX_BRANCHES);
    let commits = match (&head, max_commits.min(MAX_COMMITS)) {
        (None, _) | (_, 0) => Vec::new(),
        (Some(_), n) => {
            let limit = format!("--max-count={n}");
            let log = git(
                path,
                &[
                    "-c",
                    "log.showSignature=false",
                    "log",
                    "HEAD",
                    "--branches",
                    "--date-order",
                    &limit,
                    "--format=%H%x00%P%x00%an%x00%ae%x00%aI%x00%s%x1e",
                ],
            )
            .await?;
            parse_log(&log)
        }
    };
    Ok(Repository {
        path: path.to_path_buf(),
        bare,
        head,
        current_branch,
        default_branch,
        remotes,
        branches,
        branches_truncated,
        commits,
    })
}

fn optional(output: Result<String, String>) -> Option<String> {
    output
        .ok()
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty())
}

/// `git remote -v` lines (`name\turl (fetch)`), fetch URLs only.
pub fn parse_remotes(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once('\t')?;
            let url = rest.strip_suffix(" (fetch)")?;
            Some((name.to_string(), redact_url(url)))
        })
        .collect()
}

/// A remote URL without the credentials it may embed
/// (`https://user:token@host/x` becomes `https://host/x`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// `for-each-ref` lines: name, object, date, upstream, NUL-separated.
pub fn parse_branches(output: &str) -> Vec<Branch> {
    output
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\0');
            let name = fields.next().filter(|n| !n.is_empty())?;
            let head = fields.next().filter(|h| !h.is_empty())?;
            let date = fields.next().unwrap_or_default();
            let upstream = fields.next().filter(|u| !u.is_empty());
            Some(Branch {
                name: name.to_string(),
                head: head.to_string(),
                date: date.to_string(),
                upstream: upstream.map(str::to_string),
            })
        })
        .collect()
}

/// `git log` records (`%x1e`-terminated, fields NUL-separated).
pub fn parse_log(output: &str) -> Vec<Commit> {
    output
        .split('\u{1e}')
        .filter_map(|record| {
            let mut fields = record.trim_start_matches('\n').split('\0');
            let sha = fields.next().filter(|s| !s.is_empty())?;
            let parents = fields.next()?;
            let author = fields.next()?;
            let email = fields.next()?;
            let date = fields.next()?;
            let subject = fields.next().unwrap_or_default();
            Some(Commit {
                sha: sha.to_string(),
                parents: parents.split_whitespace().map(str::to_string).collect(),
                author: author.to_string(),
                email: email.to_string(),
                date: date.to_string(),
                subject: subject.to_string(),
            })
        })
        .collect()
}
