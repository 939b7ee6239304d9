//! `security-audit` on fixture manifests: every expected finding on objects
//! with known violations, none on a hardened workload, a chart-like rendered
//! manifest set, the live cluster through recorded API responses, and no
//! secret value in anything it says.

#[path = "fixtures/kube_api.rs"]
mod kube_api;
#[path = "fixtures/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cortex_agent::builtin::audit::RULES;
use cortex_consensus::plan::{BuiltinSpec, KubeTarget};
use support::{relates, run, Run};

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}

fn audit(manifests: &[PathBuf]) -> BuiltinSpec {
    BuiltinSpec::SecurityAudit {
        manifests: manifests.iter().map(|p| p.display().to_string()).collect(),
        cluster: None,
    }
}

/// Rule ids found per object (`Kind/namespace/name`).
fn rules_by_object(run: &Run) -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for asset in run.assets() {
        assert_eq!(asset["type"], "finding");
        let object = &asset["metadata"]["object"];
        let key = format!(
            "{}/{}/{}",
            object["kind"].as_str().unwrap(),
            object["namespace"].as_str().unwrap_or("-"),
            object["name"].as_str().unwrap()
        );
        let rule = asset["metadata"]["rule"].as_str().unwrap().to_string();
        found.entry(key).or_default().insert(rule);
    }
    found
}

fn expect(entries: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
    entries
        .iter()
        .map(|(object, rules)| {
            (
                object.to_string(),
                rules.iter().map(|r| r.to_string()).collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn finds_every_known_violation() {
    let run = run(audit(&[fixture("audit/violations.yaml")])).await;
    assert_eq!(run.outcome, Ok(()));
    let expected = expect(&[
        (
            "Pod/playground/root-shell",
            &[
                "PSS-HOST-NAMESPACES",
                "PSS-HOST-PATH",
                "PSS-SYSCTLS",
                "PSS-SECCOMP-UNCONFINED",
                "PSS-PRIVILEGED",
                "PSS-HOST-PORTS",
                "PSS-CAPABILITIES",
                "PSS-PROC-MOUNT",
                "PSS-PRIVILEGE-ESCALATION",
                "PSS-RUN-AS-NON-ROOT",
                "PSS-RUN-AS-ROOT-USER",
                "PSS-CAPABILITIES-RESTRICTED",
                "RES-LIMITS-MISSING",
                "RES-REQUESTS-MISSING",
                "NETPOL-MISSING",
            ],
        ),
        (
            "Deployment/playground/legacy-api",
            &[
                "SECRET-IN-ENV",
                "PSS-PRIVILEGE-ESCALATION",
                "PSS-RUN-AS-NON-ROOT",
                "PSS-SECCOMP-MISSING",
                "PSS-CAPABILITIES-RESTRICTED",
                "NETPOL-MISSING",
            ],
        ),
        (
            "ConfigMap/playground/legacy-config",
            &["SECRET-IN-CONFIGMAP"],
        ),
        (
            "ClusterRole/-/ops-everything",
            &[
                "RBAC-WILDCARD",
                "RBAC-SECRETS-READ",
                "RBAC-POD-EXEC",
                "RBAC-IMPERSONATE",
                "RBAC-ESCALATE-BIND",
            ],
        ),
        (
            "ClusterRoleBinding/-/ops-admin",
            &["RBAC-CLUSTER-ADMIN-BINDING"],
        ),
        (
            "Role/playground/debugger",
            &["RBAC-POD-EXEC", "RBAC-SECRETS-READ"],
        ),
        ("ClusterRole/-/impersonator", &["RBAC-IMPERSONATE"]),
        ("Role/playground/role-granter", &["RBAC-ESCALATE-BIND"]),
        (
            "DaemonSet/monitoring/node-agent",
            &[
                "PSS-HOST-NAMESPACES",
                "PSS-SELINUX",
                "PSS-APPARMOR",
                "PSS-VOLUME-TYPES",
                "PSS-CAPABILITIES-RESTRICTED",
                "NETPOL-MISSING",
            ],
        ),
        (
            "CronJob/data/backup",
            &["PSS-APPARMOR", "RES-LIMITS-MISSING", "RES-REQUESTS-MISSING"],
        ),
        (
            "Job/data/migrate",
            &[
                "PSS-PRIVILEGE-ESCALATION",
                "PSS-CAPABILITIES-RESTRICTED",
                "RES-LIMITS-MISSING",
                "RES-REQUESTS-MISSING",
            ],
        ),
        ("StatefulSet/data/cache", &["PSS-RUN-AS-NON-ROOT"]),
        ("ReplicaSet/data/bare-rs", &["PSS-HOST-PORTS"]),
    ]);
    assert_eq!(rules_by_object(&run), expected);

    let all_rules: BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
    let found: BTreeSet<String> = rules_by_object(&run).into_values().flatten().collect();
    let found: BTreeSet<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(found, all_rules, "the fixture exercises every rule");

    let assets = run.by_id();
    let env_findings: Vec<&str> = assets
        .values()
        .filter(|a| a["metadata"]["rule"] == "SECRET-IN-ENV")
        .map(|a| a["metadata"]["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        env_findings,
        [
            "env/AWS_ACCESS_KEY_ID",
            "env/AWS_SECRET_ACCESS_KEY",
            "env/DATABASE_URL",
            "env/UPSTREAM_AUTH"
        ]
    );
    let result = run.result();
    assert_eq!(result["findings"], assets.len());
    assert_eq!(result["bySeverity"]["critical"], 2);
    assert_eq!(result["byRule"]["SECRET-IN-ENV"], 4);
    assert_eq!(result["byRule"]["SECRET-IN-CONFIGMAP"], 3);
}

#[tokio::test]
async fn findings_are_assets_linked_to_their_object() {
    let run = run(audit(&[fixture("audit/violations.yaml")])).await;
    let assets = run.by_id();
    let privileged = &assets["finding/PSS-PRIVILEGED/k8s/playground/Pod/root-shell#shell"];
    assert!(relates(
        privileged,
        "findingOf",
        "k8s/playground/Pod/root-shell"
    ));
    assert_eq!(privileged["health"]["status"], "unhealthy");
    assert_eq!(privileged["namespace"], "playground");
    assert_eq!(privileged["metadata"]["severity"], "critical");
    assert_eq!(privileged["metadata"]["container"], "shell");
    assert!(privileged["metadata"]["remediation"]
        .as_str()
        .unwrap()
        .contains("privileged"));
    assert!(privileged["metadata"]["source"]
        .as_str()
        .unwrap()
        .ends_with("violations.yaml"));
    let binding =
        &assets["finding/RBAC-CLUSTER-ADMIN-BINDING/k8s/_cluster/ClusterRoleBinding/ops-admin"];
    assert!(relates(
        binding,
        "findingOf",
        "k8s/_cluster/ClusterRoleBinding/ops-admin"
    ));
    let netpol = &assets["finding/NETPOL-MISSING/k8s/playground/Deployment/legacy-api"];
    assert_eq!(netpol["health"]["status"], "degraded");

    let again = support::run(audit(&[fixture("audit/violations.yaml")])).await;
    let ids: Vec<&String> = assets.keys().collect();
    assert_eq!(
        again.by_id().keys().collect::<Vec<_>>(),
        ids,
        "ids are stable across runs"
    );
}

#[tokio::test]
async fn secret_values_never_appear_in_what_it_says() {
    let run = run(audit(&[
        fixture("audit/violations.yaml"),
        fixture("audit/hardened.yaml"),
    ]))
    .await;
    assert_eq!(run.outcome, Ok(()));
    let text = run.all_text();
    for secret in [
        "AKIAIOSFODNN7EXAMPLE",
        "IOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "Tr0ub4dor-and-3",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "Sup3rS3cretDbPass",
        "LegacyPrivateKeyMaterial",
        "LegacySlackBotTokenValue",
        "Vault-Only-Db-Passw0rd",
        "HardenedPrivateKeyNeverPrinted",
    ] {
        assert!(!text.contains(secret), "{secret} leaked");
        let window: String = secret.chars().skip(4).take(8).collect();
        assert!(!text.contains(&window), "part of {secret} leaked");
    }
    let assets = run.by_id();
    let aws = &assets
        ["finding/SECRET-IN-ENV/k8s/playground/Deployment/legacy-api#api/env/AWS_ACCESS_KEY_ID"];
    let message = aws["metadata"]["message"].as_str().unwrap();
    assert!(
        message.contains("an AWS access key id (AKIA… (20 chars))"),
        "{message}"
    );
}

#[tokio::test]
async fn a_hardened_workload_has_no_findings() {
    let run = run(audit(&[fixture("audit/hardened.yaml")])).await;
    assert_eq!(run.outcome, Ok(()));
    assert_eq!(rules_by_object(&run), BTreeMap::new());
    let result = run.result();
    assert_eq!(result["findings"], 0);
    assert_eq!(result["objects"], 11);
}

#[tokio::test]
async fn audits_a_rendered_chart_directory() {
    let run = run(audit(&[fixture("audit/chart")])).await;
    assert_eq!(run.outcome, Ok(()));
    let expected = expect(&[
        ("ClusterRole/-/cortex-discovery", &["RBAC-SECRETS-READ"]),
        ("DaemonSet/cortex-system/cortex", &["PSS-HOST-PATH"]),
        (
            "StatefulSet/cortex-system/cortex-redis",
            &["PSS-PRIVILEGE-ESCALATION", "PSS-CAPABILITIES-RESTRICTED"],
        ),
        (
            "Pod/cortex-system/cortex-test-connection",
            &[
                "PSS-PRIVILEGE-ESCALATION",
                "PSS-RUN-AS-NON-ROOT",
                "PSS-SECCOMP-MISSING",
                "PSS-CAPABILITIES-RESTRICTED",
                "RES-LIMITS-MISSING",
                "RES-REQUESTS-MISSING",
            ],
        ),
    ]);
    assert_eq!(rules_by_object(&run), expected);
    assert_eq!(run.result()["objects"], 13);
}

#[tokio::test]
async fn audits_the_live_cluster_through_the_api() {
    let api = kube_api::FakeApi::start(&fixture("k8s"), &[]).await;
    let spec = BuiltinSpec::SecurityAudit {
        manifests: Vec::new(),
        cluster: Some(KubeTarget {
            kubeconfig: Some(api.kubeconfig.display().to_string()),
            ..KubeTarget::default()
        }),
    };
    let run = run(spec).await;
    assert_eq!(run.outcome, Ok(()));
    let found = rules_by_object(&run);
    let restricted_gaps: BTreeSet<String> = [
        "PSS-PRIVILEGE-ESCALATION",
        "PSS-RUN-AS-NON-ROOT",
        "PSS-SECCOMP-MISSING",
        "PSS-CAPABILITIES-RESTRICTED",
    ]
    .map(String::from)
    .into();
    assert_eq!(found["DaemonSet/cortex-system/cortex"], restricted_gaps);
    let mut coredns = restricted_gaps.clone();
    coredns.remove("PSS-PRIVILEGE-ESCALATION");
    coredns.insert("NETPOL-MISSING".into());
    coredns.insert("RES-LIMITS-MISSING".into());
    assert_eq!(found["Deployment/kube-system/coredns"], coredns);
    assert_eq!(
        found["ClusterRole/-/cortex-inventory"],
        BTreeSet::from(["RBAC-SECRETS-READ".to_string()])
    );
    assert!(
        !found.contains_key("ClusterRole/-/cluster-admin"),
        "bootstrap roles are the cluster's"
    );
    assert!(
        !found.keys().any(|k| k.starts_with("Pod/")),
        "controller-owned pods are audited through their controller"
    );
    assert!(
        !found.keys().any(|k| k.starts_with("ReplicaSet/")),
        "so are a Deployment's ReplicaSets"
    );
    assert!(
        !api.requests().iter().any(|r| r.path.contains("secrets")),
        "the audit reads no Secret"
    );
}

#[tokio::test]
async fn fails_clearly_on_bad_input() {
    let missing = run(audit(&[fixture("audit/absent.yaml")])).await;
    let error = missing.outcome.unwrap_err();
    assert!(
        error.starts_with("manifest path") && error.contains("absent.yaml"),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "kind: Secret\nstringData:\n  password: NotInTheError123\n bad: [\n",
    )
    .unwrap();
    let error = run(audit(&[broken])).await.outcome.unwrap_err();
    assert!(
        error.contains("broken.yaml") && error.contains("not valid YAML"),
        "{error}"
    );
    assert!(!error.contains("NotInTheError123"), "{error}");
}

#[test]
fn the_docs_list_every_rule() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/builtins.md"))
        .unwrap();
    for rule in RULES {
        let row = format!("| `{}` | {} |", rule.id, rule.severity.as_str());
        assert!(docs.contains(&row), "docs/builtins.md lacks the row {row}");
    }
}
