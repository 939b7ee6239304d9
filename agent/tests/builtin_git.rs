//! `git-inventory` on repositories made here with the `git` CLI (working
//! trees, a detached HEAD, an empty and a bare repository, a symbolic-link
//! loop, a repository too deep to be searched) and on this project's own
//! repository.

#[path = "fixtures/support.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use cortex_consensus::plan::BuiltinSpec;
use support::{relates, run};

/// Runs git in `dir` with a fixed identity and clock, so runs are repeatable.
fn git(dir: &Path, args: &[&str], author: (&str, &str), date: &str) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_AUTHOR_NAME", author.0)
        .env("GIT_AUTHOR_EMAIL", author.1)
        .env("GIT_COMMITTER_NAME", author.0)
        .env("GIT_COMMITTER_EMAIL", author.1)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

const ADA: (&str, &str) = ("Ada Lovelace", "ada@example.com");
const GRACE: (&str, &str) = ("Grace Hopper", "Grace@Example.COM");
const REMOTE: &str = "https://ci-bot:ghp_RemoteTokenNeverShown0123@github.com/acme/alpha.git";

fn commit(dir: &Path, message: &str, author: (&str, &str), date: &str) {
    std::fs::write(dir.join("file.txt"), message).unwrap();
    git(dir, &["add", "file.txt"], author, date);
    git(dir, &["commit", "-q", "-m", message], author, date);
}

fn inventory(paths: &[&Path], max_commits: u32) -> BuiltinSpec {
    BuiltinSpec::GitInventory {
        paths: paths.iter().map(|p| p.display().to_string()).collect(),
        max_commits,
    }
}

/// `root/alpha` (main, feature/x, a remote with credentials), `root/group/beta`
/// (detached HEAD), `root/empty` (no commit), `root/gamma.git` (bare), a
/// link `root/group/loop` to `root`, and a repository eight levels down.
fn make_tree(root: &Path) {
    let alpha = root.join("alpha");
    std::fs::create_dir_all(&alpha).unwrap();
    git(&alpha, &["init", "-q"], ADA, "2024-01-01T10:00:00Z");
    commit(&alpha, "Initial commit", ADA, "2024-01-01T10:00:00Z");
    commit(&alpha, "Add the parser", GRACE, "2024-01-02T10:00:00Z");
    commit(&alpha, "Fix\tthe parser", ADA, "2024-01-03T10:00:00Z");
    git(
        &alpha,
        &["checkout", "-q", "-b", "feature/x"],
        ADA,
        "2024-01-04T10:00:00Z",
    );
    commit(&alpha, "Try an idea", GRACE, "2024-01-04T10:00:00Z");
    git(
        &alpha,
        &["checkout", "-q", "main"],
        ADA,
        "2024-01-04T10:00:00Z",
    );
    git(
        &alpha,
        &["remote", "add", "origin", REMOTE],
        ADA,
        "2024-01-04T10:00:00Z",
    );
    git(
        &alpha,
        &[
            "symbolic-ref",
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/main",
        ],
        ADA,
        "2024-01-04T10:00:00Z",
    );

    let beta = root.join("group/beta");
    std::fs::create_dir_all(&beta).unwrap();
    git(&beta, &["init", "-q"], ADA, "2024-02-01T10:00:00Z");
    commit(&beta, "Beta", ADA, "2024-02-01T10:00:00Z");
    git(
        &beta,
        &["checkout", "-q", "--detach"],
        ADA,
        "2024-02-01T10:00:00Z",
    );

    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    git(&empty, &["init", "-q"], ADA, "2024-03-01T10:00:00Z");

    git(
        root,
        &["clone", "-q", "--bare", "alpha", "gamma.git"],
        ADA,
        "2024-03-01T10:00:00Z",
    );
    std::os::unix::fs::symlink(root, root.join("group/loop")).unwrap();

    let deep = root.join("d1/d2/d3/d4/d5/d6/d7/deep");
    std::fs::create_dir_all(&deep).unwrap();
    git(&deep, &["init", "-q"], ADA, "2024-03-01T10:00:00Z");
}

#[tokio::test]
async fn inventories_repositories_branches_commits_and_people() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    make_tree(&root);
    let run = run(inventory(&[&root], 3)).await;
    assert_eq!(run.outcome, Ok(()));
    let assets = run.by_id();
    let id = |rest: &str| format!("git/{}/{rest}", root.display());

    let repositories: Vec<&str> = assets
        .values()
        .filter(|a| a["type"] == "repository")
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(repositories, ["alpha", "empty", "gamma.git", "beta"]);

    let alpha = &assets[&id("alpha")];
    let head = git(
        &root.join("alpha"),
        &["rev-parse", "HEAD"],
        ADA,
        "2024-01-04T10:00:00Z",
    );
    assert_eq!(alpha["metadata"]["head"], head.as_str());
    assert_eq!(alpha["metadata"]["currentBranch"], "main");
    assert_eq!(alpha["metadata"]["defaultBranch"], "main");
    assert_eq!(alpha["metadata"]["bare"], false);
    assert_eq!(
        alpha["metadata"]["remotes"][0]["url"],
        "https://github.com/acme/alpha.git"
    );
    assert!(
        !run.all_text().contains("ghp_RemoteTokenNeverShown"),
        "remote credentials leaked"
    );

    let feature = &assets[&id("alpha/branch/feature/x")];
    let feature_head = git(
        &root.join("alpha"),
        &["rev-parse", "feature/x"],
        ADA,
        "2024-01-04T10:00:00Z",
    );
    assert_eq!(feature["type"], "branch");
    assert!(relates(feature, "memberOf", &id("alpha")));
    assert!(relates(
        feature,
        "contains",
        &id(&format!("alpha/commit/{feature_head}"))
    ));
    assert_eq!(feature["metadata"]["current"], false);
    assert_eq!(
        assets[&id("alpha/branch/main")]["metadata"]["current"],
        true
    );

    let alpha_commits: Vec<&str> = assets
        .values()
        .filter(|a| {
            a["type"] == "commit"
                && a["metadata"]["repository"] == root.join("alpha").display().to_string()
        })
        .map(|a| a["metadata"]["subject"].as_str().unwrap())
        .collect();
    assert_eq!(alpha_commits.len(), 3, "max_commits per repository");
    assert!(
        !alpha_commits.contains(&"Initial commit"),
        "the most recent ones"
    );
    let tip = &assets[&id(&format!("alpha/commit/{feature_head}"))];
    assert!(relates(tip, "authoredBy", "person/grace@example.com"));
    assert!(relates(tip, "memberOf", &id("alpha")));
    assert_eq!(tip["metadata"]["date"], "2024-01-04T10:00:00Z");
    let tabbed = assets
        .values()
        .find(|a| a["metadata"]["subject"] == "Fix\tthe parser")
        .unwrap();
    assert!(tabbed["name"].as_str().unwrap().ends_with("Fix the parser"));

    let beta = &assets[&id("group/beta")];
    assert!(
        beta["metadata"].get("currentBranch").is_none(),
        "detached HEAD"
    );
    let empty = &assets[&id("empty")];
    assert!(empty["metadata"].get("head").is_none());
    assert_eq!(assets[&id("gamma.git")]["metadata"]["bare"], true);

    let grace = &assets["person/grace@example.com"];
    assert_eq!(grace["type"], "person");
    assert_eq!(grace["name"], "Grace Hopper");
    assert_eq!(
        grace["metadata"]["repositories"], 2,
        "alpha and its bare clone"
    );
    assert!(assets.contains_key("person/ada@example.com"));

    let result = run.result();
    assert_eq!(
        result["repositories"], 4,
        "the link loop is not followed, the deep one not reached"
    );
    assert_eq!(result["commits"], 3 + 1 + 3);
    assert_eq!(result["persons"], 2);
    assert_eq!(result["branches"], 2 + 1 + 2);
}

#[tokio::test]
async fn inventories_this_project() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap();
    for path in [repo.clone(), repo.join("agent/src")] {
        let run = run(inventory(&[&path], 5)).await;
        assert_eq!(run.outcome, Ok(()));
        let assets = run.by_id();
        let repository = &assets[&format!("git/{}", repo.display())];
        let head = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap();
        let head = String::from_utf8(head.stdout).unwrap();
        assert_eq!(repository["metadata"]["head"], head.trim());
        let commits = assets.values().filter(|a| a["type"] == "commit").count();
        assert!((1..=5).contains(&commits), "{commits} commits");
        assert!(assets.values().any(|a| a["type"] == "person"));
        assert_eq!(run.result()["repositories"], 1);
    }
}

#[tokio::test]
async fn fails_clearly_on_bad_paths() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent");
    let error = run(inventory(&[&missing], 5)).await.outcome.unwrap_err();
    assert!(error.contains("absent"), "{error}");

    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let error = run(inventory(&[&file], 5)).await.outcome.unwrap_err();
    assert!(error.contains("not a directory"), "{error}");

    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join(".git"), "gitdir: /nowhere\n").unwrap();
    let error = run(inventory(&[dir.path()], 5)).await.outcome.unwrap_err();
    assert!(error.starts_with("no repository could be read"), "{error}");

    let nothing = tempfile::tempdir().unwrap();
    let run = run(inventory(&[nothing.path()], 5)).await;
    assert_eq!(run.outcome, Ok(()));
    assert_eq!(run.result()["repositories"], 0);
}
