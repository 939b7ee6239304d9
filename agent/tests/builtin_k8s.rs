//! `k8s-inventory` against recorded API responses of a small K3s cluster
//! (three nodes; namespaces default, kube-system, cortex-system), served by
//! a fake API server that a kubeconfig points at: asset counts, lineage,
//! health, paging, namespace limits, Secret values never read, errors.

#[path = "fixtures/kube_api.rs"]
mod kube_api;
#[path = "fixtures/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;

use cortex_consensus::plan::{BuiltinSpec, KubeTarget};
use kube_api::FakeApi;
use support::{relates, run};

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/k8s"))
}

fn inventory(api: &FakeApi, namespaces: &[&str]) -> BuiltinSpec {
    BuiltinSpec::K8sInventory(KubeTarget {
        kubeconfig: Some(api.kubeconfig.display().to_string()),
        context: None,
        namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
    })
}

#[tokio::test]
async fn inventories_a_k3s_cluster_with_lineage() {
    let api = FakeApi::start(fixtures(), &[]).await;
    let run = run(inventory(&api, &[])).await;
    assert_eq!(run.outcome, Ok(()));
    let assets = run.by_id();

    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for asset in assets.values() {
        *by_type.entry(asset["type"].as_str().unwrap()).or_default() += 1;
    }
    let expected = BTreeMap::from([
        ("image", 5),
        ("k8s.clusterrole", 3),
        ("k8s.clusterrolebinding", 2),
        ("k8s.configmap", 6),
        ("k8s.cronjob", 1),
        ("k8s.daemonset", 1),
        ("k8s.deployment", 2),
        ("k8s.ingress", 1),
        ("k8s.job", 1),
        ("k8s.namespace", 3),
        ("k8s.networkpolicy", 2),
        ("k8s.node", 3),
        ("k8s.persistentvolumeclaim", 1),
        ("k8s.pod", 8),
        ("k8s.replicaset", 3),
        ("k8s.role", 1),
        ("k8s.rolebinding", 1),
        ("k8s.secret", 5),
        ("k8s.service", 5),
        ("k8s.serviceaccount", 5),
        ("k8s.statefulset", 1),
    ]);
    assert_eq!(by_type, expected);
    let result = run.result();
    assert_eq!(result["assets"], 60);
    assert_eq!(result["byType"]["k8s.pod"], 8);

    let pod = &assets["k8s/cortex-system/Pod/catalog-5d8f7b9c4-abcde"];
    let replica_set = "k8s/cortex-system/ReplicaSet/catalog-5d8f7b9c4";
    let deployment = "k8s/cortex-system/Deployment/catalog";
    assert!(relates(pod, "ownedBy", replica_set));
    assert!(relates(&assets[replica_set], "ownedBy", deployment));
    assert!(relates(
        pod,
        "runs",
        "image/ghcr.io/cortex-ai/catalog:0.1.0"
    ));
    assert!(relates(
        pod,
        "scheduledOn",
        "k8s/_cluster/Node/k3s-worker01"
    ));
    assert!(relates(
        pod,
        "memberOf",
        "k8s/_cluster/Namespace/cortex-system"
    ));
    assert!(relates(
        pod,
        "uses",
        "k8s/cortex-system/ConfigMap/catalog-config"
    ));
    assert!(relates(pod, "uses", "k8s/cortex-system/Secret/ghcr-pull"));
    assert!(relates(
        pod,
        "uses",
        "k8s/cortex-system/ServiceAccount/cortex"
    ));

    let service = &assets["k8s/cortex-system/Service/catalog"];
    let selected: Vec<&str> = service["relations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "selects")
        .map(|r| r["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        selected,
        [
            "k8s/cortex-system/Pod/catalog-5d8f7b9c4-abcde",
            "k8s/cortex-system/Pod/catalog-5d8f7b9c4-fghij"
        ]
    );
    assert!(relates(
        &assets["k8s/kube-system/Service/kube-dns"],
        "selects",
        "k8s/kube-system/Pod/coredns-6799fbcd5-q8w2x"
    ));
    let default_service = &assets["k8s/default/Service/kubernetes"];
    assert!(!relates(
        default_service,
        "selects",
        "k8s/kube-system/Pod/coredns-6799fbcd5-q8w2x"
    ));

    let redis = &assets["k8s/cortex-system/Pod/redis-0"];
    assert!(relates(
        redis,
        "ownedBy",
        "k8s/cortex-system/StatefulSet/redis"
    ));
    assert!(relates(
        redis,
        "uses",
        "k8s/cortex-system/Secret/redis-auth"
    ));
    assert!(relates(
        redis,
        "uses",
        "k8s/cortex-system/PersistentVolumeClaim/data-redis-0"
    ));
    assert!(relates(
        redis,
        "uses",
        "k8s/cortex-system/ConfigMap/redis-config"
    ));
    assert!(relates(redis, "runs", "image/redis:7.2-alpine"));
    let scan = &assets["k8s/cortex-system/Pod/nightly-scan-28765432-xk2lp"];
    assert!(relates(
        scan,
        "ownedBy",
        "k8s/cortex-system/Job/nightly-scan-28765432"
    ));
    assert!(relates(
        &assets["k8s/cortex-system/Job/nightly-scan-28765432"],
        "ownedBy",
        "k8s/cortex-system/CronJob/nightly-scan"
    ));
    assert!(relates(
        &assets["k8s/cortex-system/Pod/cortex-zz9tt"],
        "ownedBy",
        "k8s/cortex-system/DaemonSet/cortex"
    ));
    let ingress = &assets["k8s/cortex-system/Ingress/catalog"];
    assert!(relates(
        ingress,
        "dependsOn",
        "k8s/cortex-system/Service/catalog"
    ));
    assert!(relates(
        ingress,
        "uses",
        "k8s/cortex-system/Secret/catalog-tls"
    ));
    let binding = &assets["k8s/cortex-system/RoleBinding/cortex-leases"];
    assert!(relates(
        binding,
        "uses",
        "k8s/cortex-system/Role/cortex-leases"
    ));
    assert!(relates(
        binding,
        "selects",
        "k8s/cortex-system/ServiceAccount/cortex"
    ));
    assert!(relates(
        &assets["k8s/_cluster/ClusterRoleBinding/cortex-inventory"],
        "uses",
        "k8s/_cluster/ClusterRole/cortex-inventory"
    ));
    let deny_all = &assets["k8s/cortex-system/NetworkPolicy/default-deny"];
    let deny_all_selects = deny_all["relations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "selects")
        .count();
    assert_eq!(deny_all_selects, 7, "every pod of cortex-system");

    let image = &assets["image/ghcr.io/cortex-ai/catalog:0.1.0"];
    assert_eq!(image["metadata"]["registry"], "ghcr.io");
    assert_eq!(image["metadata"]["repository"], "cortex-ai/catalog");
    assert_eq!(image["metadata"]["tag"], "0.1.0");
    assert!(image["metadata"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:9f8e7d6c"));
}

#[tokio::test]
async fn health_follows_status() {
    let api = FakeApi::start(fixtures(), &[]).await;
    let assets = run(inventory(&api, &[])).await.by_id();
    let health = |id: &str| assets[id]["health"]["status"].as_str().unwrap().to_string();
    assert_eq!(health("k8s/_cluster/Node/k3s-worker01"), "healthy");
    assert_eq!(health("k8s/_cluster/Node/k3s-worker02"), "unhealthy");
    assert_eq!(health("k8s/cortex-system/Deployment/catalog"), "degraded");
    assert_eq!(health("k8s/kube-system/Deployment/coredns"), "healthy");
    assert_eq!(
        health("k8s/cortex-system/ReplicaSet/catalog-7f6c5d4b3"),
        "healthy"
    );
    assert_eq!(
        health("k8s/cortex-system/Pod/catalog-5d8f7b9c4-fghij"),
        "unhealthy"
    );
    assert_eq!(health("k8s/cortex-system/Pod/cortex-zz9tt"), "degraded");
    assert_eq!(
        health("k8s/cortex-system/Pod/nightly-scan-28765432-xk2lp"),
        "healthy"
    );
    assert_eq!(health("k8s/cortex-system/DaemonSet/cortex"), "degraded");
    assert_eq!(
        health("k8s/cortex-system/Job/nightly-scan-28765432"),
        "healthy"
    );
    assert_eq!(
        health("k8s/cortex-system/PersistentVolumeClaim/data-redis-0"),
        "healthy"
    );
    let message = &assets["k8s/cortex-system/Pod/catalog-5d8f7b9c4-fghij"]["health"]["message"];
    assert_eq!(message, "container catalog: CrashLoopBackOff");
}

#[tokio::test]
async fn secret_values_are_never_read_or_reported() {
    let api = FakeApi::start(fixtures(), &[]).await;
    let run = run(inventory(&api, &[])).await;
    assert_eq!(run.outcome, Ok(()));
    let text = run.all_text();
    let values = kube_api::secret_values(fixtures());
    assert!(values.len() > 10);
    for value in values {
        assert!(!text.contains(&value), "{value} leaked");
    }
    let secret = &run.by_id()["k8s/cortex-system/Secret/redis-auth"];
    assert_eq!(
        secret["metadata"]["labels"]["app.kubernetes.io/name"],
        "redis"
    );
    let secret_requests: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/secrets"))
        .collect();
    assert!(!secret_requests.is_empty());
    for request in secret_requests {
        assert!(
            request
                .accept
                .starts_with("application/json;as=PartialObjectMetadataList"),
            "secrets listed as metadata only, got Accept {}",
            request.accept
        );
    }
}

#[tokio::test]
async fn lists_are_paged() {
    let api = FakeApi::start(fixtures(), &[]).await;
    let run = run(inventory(&api, &[])).await;
    let pod_pages: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/pods")
        .map(|r| r.query)
        .collect();
    assert_eq!(pod_pages.len(), 4, "8 pods in pages of 2: {pod_pages:?}");
    assert!(pod_pages[1].contains("continue=2"));
    assert_eq!(run.result()["byType"]["k8s.pod"], 8);
}

#[tokio::test]
async fn stays_within_the_given_namespaces() {
    let api = FakeApi::start(fixtures(), &[]).await;
    let run = run(inventory(&api, &["cortex-system"])).await;
    assert_eq!(run.outcome, Ok(()));
    let assets = run.by_id();
    let namespaces: Vec<&str> = assets
        .values()
        .filter(|a| a["type"] == "k8s.namespace")
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, ["cortex-system"]);
    assert!(assets
        .values()
        .all(|a| a["namespace"].is_null() || a["namespace"] == "cortex-system"));
    assert!(assets.contains_key("k8s/cortex-system/Pod/redis-0"));
    assert!(!assets.contains_key("k8s/kube-system/Pod/coredns-6799fbcd5-q8w2x"));
    assert!(api
        .requests()
        .iter()
        .any(|r| r.path == "/apis/apps/v1/namespaces/cortex-system/deployments"));
    assert!(!api.requests().iter().any(|r| r.path == "/api/v1/pods"));
}

#[tokio::test]
async fn a_refused_kind_is_skipped_and_named() {
    let api = FakeApi::start(fixtures(), &["clusterroles", "clusterrolebindings"]).await;
    let run = run(inventory(&api, &[])).await;
    assert_eq!(run.outcome, Ok(()));
    let result = run.result();
    let skipped = result["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2);
    assert!(skipped[0].as_str().unwrap().contains("clusterroles"));
    assert_eq!(result["byType"].get("k8s.clusterrole"), None);
    assert_eq!(result["byType"]["k8s.pod"], 8);
}

#[tokio::test]
async fn fails_clearly_when_nothing_can_be_listed() {
    let forbidden = [
        "namespaces",
        "nodes",
        "pods",
        "deployments",
        "replicasets",
        "daemonsets",
        "statefulsets",
        "jobs",
        "cronjobs",
        "services",
        "ingresses",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "roles",
        "rolebindings",
        "clusterroles",
        "clusterrolebindings",
        "networkpolicies",
        "persistentvolumeclaims",
    ];
    let api = FakeApi::start(fixtures(), &forbidden).await;
    let run = run(inventory(&api, &[])).await;
    let error = run.outcome.unwrap_err();
    assert!(error.contains("refused every listing"), "{error}");
}

#[tokio::test]
async fn fails_clearly_when_the_api_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kube_api::write_kubeconfig(dir.path(), &format!("http://{addr}"));
    let spec = BuiltinSpec::K8sInventory(KubeTarget {
        kubeconfig: Some(kubeconfig.display().to_string()),
        ..KubeTarget::default()
    });
    let error = run(spec).await.outcome.unwrap_err();
    assert!(error.contains("listing namespaces"), "{error}");
}

#[tokio::test]
async fn fails_clearly_on_a_bad_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let spec = |kubeconfig: &Path, context: Option<&str>| {
        BuiltinSpec::K8sInventory(KubeTarget {
            kubeconfig: Some(kubeconfig.display().to_string()),
            context: context.map(str::to_string),
            namespaces: Vec::new(),
        })
    };
    let error = run(spec(&missing, None)).await.outcome.unwrap_err();
    assert!(error.starts_with("cannot read kubeconfig"), "{error}");

    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, "clusters: [[[\n\u{0}").unwrap();
    assert!(run(spec(&garbage, None)).await.outcome.is_err());

    let api = FakeApi::start(fixtures(), &[]).await;
    let error = run(spec(&api.kubeconfig, Some("absent")))
        .await
        .outcome
        .unwrap_err();
    assert!(error.contains("absent"), "{error}");
    let other = run(spec(&api.kubeconfig, Some("other"))).await;
    assert_eq!(other.outcome, Ok(()));
}

#[tokio::test]
#[ignore = "needs a Kubernetes cluster"]
async fn inventories_the_cluster_of_the_current_kubeconfig() {
    let run = run(BuiltinSpec::K8sInventory(KubeTarget::default())).await;
    assert_eq!(run.outcome, Ok(()));
    let assets = run.by_id();
    assert!(assets.values().any(|a| a["type"] == "k8s.namespace"));
    assert!(assets.values().any(|a| a["type"] == "k8s.node"));
}
