//! `git-inventory`: git repositories under given paths as catalog assets.
//!
//! * [`walk`] finds the repositories (bounded, no symbolic links followed).
//! * [`repo`] reads each through the `git` CLI ([`command`]: bounded output
//!   and time, killed when the attempt stops).
//! * This module turns them into assets:
//!
//! | asset | id | relations |
//! |---|---|---|
//! | `repository` | `git/<path>` | |
//! | `branch` | `git/<path>/branch/<name>` | `memberOf` its repository, `contains` its head commit |
//! | `commit` | `git/<path>/commit/<sha>` | `memberOf` its repository, `authoredBy` its author |
//! | `person` | `person/<email, lower case>` | |
//!
//! A missing path fails the attempt; a repository git cannot read (not
//! owned by this user, corrupt) is logged and skipped, and the attempt fails
//! only if every repository found failed.

pub mod command;
pub mod repo;
pub mod walk;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::json;

use self::repo::Repository;
use super::kube::asset::{make_id, Asset};
use crate::executor::Events;
use crate::protocol::Line;

/// Runs `git-inventory` over `paths`.
pub async fn run(paths: &[String], max_commits: u32, events: &Events) -> Result<(), String> {
    let mut found: BTreeSet<PathBuf> = BTreeSet::new();
    for path in paths {
        let walked = walk::repositories(path).await?;
        for note in walked.notes {
            events.log(note);
        }
        found.extend(walked.repositories);
    }
    events.send(Line::Progress {
        percent: 5,
        message: Some(format!("{} repositories found", found.len())),
    });
    let mut people = People::default();
    let mut counts = BTreeMap::from([("repositories", 0u64), ("branches", 0), ("commits", 0)]);
    let mut errors = Vec::new();
    for (done, path) in found.iter().enumerate() {
        match repo::read(path, max_commits).await {
            Ok(repository) => {
                *counts.entry("repositories").or_default() += 1;
                *counts.entry("branches").or_default() += repository.branches.len() as u64;
                *counts.entry("commits").or_default() += repository.commits.len() as u64;
                for asset in repository_assets(&repository, &mut people) {
                    events.send(asset.line());
                }
            }
            Err(e) => {
                events.log(format!("skipped repository: {e}"));
                errors.push(e);
            }
        }
        events.send(Line::Progress {
            percent: (5 + (done + 1) * 95 / found.len()) as u8,
            message: Some(format!("read {}", path.display())),
        });
    }
    if !found.is_empty() && errors.len() == found.len() {
        return Err(format!(
            "no repository could be read: {}",
            errors.join("; ")
        ));
    }
    let persons = people.0.len();
    for asset in people.assets() {
        events.send(asset.line());
    }
    let result = json!({
        "repositories": counts["repositories"],
        "branches": counts["branches"],
        "commits": counts["commits"],
        "persons": persons,
        "errors": errors,
    });
    events.send(Line::Result(result.to_string()));
    Ok(())
}

/// The id of the repository at `path`.
pub fn repository_id(path: &std::path::Path) -> String {
    make_id(&format!("git/{}", path.display()))
}

/// The id of a person, by email (by name when the email is empty).
pub fn person_id(email: &str, name: &str) -> String {
    let key = if email.trim().is_empty() { name } else { email };
    make_id(&format!("person/{}", key.trim().to_lowercase()))
}

/// The repository, branch and commit assets of `repository`; authors are
/// collected in `people`.
pub fn repository_assets(repository: &Repository, people: &mut People) -> Vec<Asset> {
    let repo_id = repository_id(&repository.path);
    let name = repository
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| repository.path.display().to_string());
    let path = repository.path.display().to_string();
    let mut repo = Asset::new(repo_id.clone(), name, "repository");
    repo.set("path", path.as_str());
    repo.set("bare", repository.bare);
    repo.set("head", repository.head.as_deref());
    repo.set("currentBranch", repository.current_branch.as_deref());
    repo.set("defaultBranch", repository.default_branch.as_deref());
    let remotes: Vec<_> = repository
        .remotes
        .iter()
        .map(|(name, url)| json!({"name": name, "url": url}))
        .collect();
    repo.set("remotes", remotes);
    repo.set("branches", repository.branches.len());
    if repository.branches_truncated {
        repo.set("branchesTruncated", true);
    }
    let commit_id = |sha: &str| make_id(&format!("git/{path}/commit/{sha}"));
    let mut assets = vec![repo];
    for branch in &repository.branches {
        let mut asset = Asset::new(
            make_id(&format!("git/{path}/branch/{}", branch.name)),
            branch.name.as_str(),
            "branch",
        );
        asset.set("repository", path.as_str());
        asset.set("head", branch.head.as_str());
        asset.set("committedAt", branch.date.as_str());
        asset.set("upstream", branch.upstream.as_deref());
        asset.set(
            "current",
            repository.current_branch.as_ref() == Some(&branch.name),
        );
        asset.set(
            "default",
            repository.default_branch.as_ref() == Some(&branch.name),
        );
        asset.relate("memberOf", repo_id.clone());
        asset.relate("contains", commit_id(&branch.head));
        assets.push(asset);
    }
    for commit in &repository.commits {
        let short = commit.sha.get(..12).unwrap_or(&commit.sha);
        let mut asset = Asset::new(
            commit_id(&commit.sha),
            format!("{short} {}", commit.subject),
            "commit",
        );
        asset.set("repository", path.as_str());
        asset.set("sha", commit.sha.as_str());
        asset.set("parents", commit.parents.clone());
        asset.set("author", commit.author.as_str());
        asset.set("email", commit.email.as_str());
        asset.set("date", commit.date.as_str());
        asset.set("subject", commit.subject.as_str());
        asset.relate("memberOf", repo_id.clone());
        asset.relate("authoredBy", person_id(&commit.email, &commit.author));
        people.add(commit, &repo_id);
        assets.push(asset);
    }
    assets
}

/// Commit authors seen so far, by person id.
#[derive(Debug, Default)]
pub struct People(BTreeMap<String, Person>);

#[derive(Debug, Default)]
struct Person {
    name: String,
    email: String,
    commits: u64,
    repositories: BTreeSet<String>,
}

impl People {
    /// Counts `commit` for its author.
    pub fn add(&mut self, commit: &repo::Commit, repository: &str) {
        let person = self
            .0
            .entry(person_id(&commit.email, &commit.author))
            .or_default();
        if person.name.is_empty() {
            person.name = commit.author.clone();
            person.email = commit.email.trim().to_lowercase();
        }
        person.commits += 1;
        person.repositories.insert(repository.to_string());
    }

    /// One `person` asset each.
    pub fn assets(self) -> Vec<Asset> {
        self.0
            .into_iter()
            .map(|(id, person)| {
                let mut asset = Asset::new(id, person.name, "person");
                if !person.email.is_empty() {
                    asset.set("email", person.email);
                }
                asset.set("commits", person.commits);
                asset.set("repositories", person.repositories.len());
                asset
            })
            .collect()
    }
}
