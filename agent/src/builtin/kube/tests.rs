//! Unit tests of the pure parts: ids and limits, image references,
//! selectors, health, and assets from odd objects.

use serde_json::{json, Value};

use cortex_consensus::catalog::{MAX_ID_LEN, MAX_RELATIONS};

use super::asset::{image_id, make_id, object_id, object_type, Asset};
use super::health::health;
use super::inventory;
use super::lineage::matches_selector;
use super::objects::ImageReference;
use crate::protocol::Line;

#[test]
fn ids_stay_within_limits_and_stable() {
    assert_eq!(
        object_id("Pod", Some("default"), "web-1"),
        "k8s/default/Pod/web-1"
    );
    assert_eq!(object_id("Node", None, "n1"), "k8s/_cluster/Node/n1");
    assert_eq!(object_id("Node", Some(""), "n1"), "k8s/_cluster/Node/n1");
    assert_eq!(image_id("redis:7"), "image/redis:7");
    let long = format!("git/{}", "é".repeat(400));
    let id = make_id(&long);
    assert!(id.len() <= MAX_ID_LEN);
    assert_eq!(id, make_id(&long));
    assert_ne!(id, make_id(&format!("{long}x")));
    assert_eq!(make_id("git/a\nb "), "git/a%0Ab%20");
    assert_eq!(object_type("ClusterRoleBinding"), "k8s.clusterrolebinding");
    assert_eq!(object_type("--"), "k8s.object");
}

#[test]
fn lines_fit_the_catalog() {
    let mut asset = Asset::new("a".into(), "\u{7}", "k8s.pod");
    asset.set("big", "x".repeat(20_000));
    asset.set("small", 1);
    asset.set("nothing", Value::Null);
    for i in 0..300 {
        asset.relate("selects", format!("t{i}"));
    }
    asset.relate("selects", "t1".into());
    asset.relate("selects", "a".into());
    let Line::Asset(text) = asset.line() else {
        panic!("not an asset line")
    };
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["name"], "(unnamed)");
    assert_eq!(value["metadata"]["small"], 1);
    assert_eq!(value["metadata"]["truncated"], true);
    assert!(value["metadata"].get("big").is_none());
    assert!(value["metadata"].get("nothing").is_none());
    assert_eq!(value["relations"].as_array().unwrap().len(), MAX_RELATIONS);
}

#[test]
fn image_references_split_like_docker_pull() {
    let parse = |r: &'static str| {
        let p = ImageReference::parse(r);
        (p.registry, p.repository, p.tag, p.digest)
    };
    assert_eq!(parse("redis"), ("docker.io", "redis", Some("latest"), None));
    assert_eq!(
        parse("redis:7.2-alpine"),
        ("docker.io", "redis", Some("7.2-alpine"), None)
    );
    assert_eq!(
        parse("ghcr.io/a/b:1@sha256:ab"),
        ("ghcr.io", "a/b", Some("1"), Some("sha256:ab"))
    );
    assert_eq!(
        parse("registry:5000/app"),
        ("registry:5000", "app", Some("latest"), None)
    );
    assert_eq!(
        parse("localhost/app@sha256:ff"),
        ("localhost", "app", None, Some("sha256:ff"))
    );
    assert_eq!(parse(""), ("docker.io", "", Some("latest"), None));
}

#[test]
fn label_selectors_match_like_kubernetes() {
    let labels = json!({"app": "web", "tier": "front"});
    let labels = labels.as_object().unwrap();
    let matches = |selector: Value| matches_selector(&selector, labels);
    assert!(matches(json!({})));
    assert!(matches(json!({"matchLabels": {"app": "web"}})));
    assert!(!matches(json!({"matchLabels": {"app": "db"}})));
    let expression = |operator: &str, values: Value| json!({"matchExpressions": [{"key": "tier", "operator": operator, "values": values}]});
    assert!(matches(expression("In", json!(["front", "back"]))));
    assert!(!matches(expression("NotIn", json!(["front"]))));
    assert!(matches(expression("Exists", json!(null))));
    assert!(!matches(expression("DoesNotExist", json!(null))));
    assert!(!matches(expression("Gt", json!(["1"]))));
    assert!(matches(
        json!({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]})
    ));
}

#[test]
fn health_reads_status() {
    let status = |object: Value| health(&object).map(|h| h.status);
    assert_eq!(
        status(json!({"kind": "Deployment", "spec": {"replicas": 0}})),
        Some("healthy")
    );
    assert_eq!(
        status(
            json!({"kind": "StatefulSet", "spec": {"replicas": 3}, "status": {"readyReplicas": 0}})
        ),
        Some("unhealthy")
    );
    let cordoned = json!({"kind": "Node", "spec": {"unschedulable": true},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    assert_eq!(status(cordoned), Some("degraded"));
    let pressured = json!({"kind": "Node", "status": {"conditions": [
        {"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "True"}]}});
    assert_eq!(
        health(&pressured).unwrap().message.as_deref(),
        Some("Ready; DiskPressure")
    );
    let pending = json!({"kind": "Pod", "status": {"phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}});
    assert_eq!(
        health(&pending).unwrap().message.as_deref(),
        Some("Pending: Unschedulable")
    );
    assert_eq!(
        status(json!({"kind": "PersistentVolumeClaim", "status": {"phase": "Lost"}})),
        Some("unhealthy")
    );
    assert_eq!(
        status(
            json!({"kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True"}]}})
        ),
        Some("unhealthy")
    );
    assert_eq!(status(json!({"kind": "Pod"})), Some("unknown"));
    assert_eq!(status(json!({"kind": "ConfigMap"})), None);
}

#[test]
fn odd_objects_are_skipped_or_read_safely() {
    let objects = vec![
        json!(null),
        json!("pod"),
        json!({"kind": "Pod"}),
        json!({"metadata": {"name": "no-kind"}}),
        json!({"kind": "Pod", "metadata": {"name": "", "namespace": "x"}}),
        json!({"kind": "Pod", "metadata": {"name": "odd", "namespace": "x", "labels": "nope",
            "annotations": {"secret": "s3cr3t"},
            "ownerReferences": [{"kind": "Node", "name": "n1"}, "junk", {"name": "no-kind"}]},
            "spec": {"containers": "nope", "volumes": [{"configMap": 3}], "nodeName": 7},
            "status": {"containerStatuses": [{"image": 1}]}}),
        json!({"kind": "Service", "metadata": {"name": "s", "namespace": "x"}, "spec": {"selector": {}}}),
    ];
    let assets = inventory(&objects, &[]);
    let ids: Vec<&str> = assets.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["k8s/x/Pod/odd", "k8s/x/Service/s"]);
    let pod = &assets[0];
    assert!(pod
        .relations
        .iter()
        .any(|r| r.kind == "ownedBy" && r.target == "k8s/_cluster/Node/n1"));
    assert!(
        !serde_json::to_string(pod).unwrap().contains("s3cr3t"),
        "annotations are never kept"
    );
    assert!(
        assets[1].relations.iter().all(|r| r.kind != "selects"),
        "an empty selector selects nothing"
    );
}
