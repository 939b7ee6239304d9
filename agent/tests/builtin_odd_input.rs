//! The discovery builtins never panic on odd input: arbitrary JSON shaped
//! like Kubernetes objects (the right keys with the wrong types), arbitrary
//! text as a manifest or as a value to scan for secrets. Every asset they
//! make still fits the catalog.

use cortex_agent::builtin::audit::manifest::{parse, Manifest};
use cortex_agent::builtin::audit::{audit, secrets};
use cortex_agent::builtin::kube::inventory;
use cortex_agent::protocol::Line;
use cortex_consensus::catalog::AssetInput;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Keys the builtins look at, so random objects reach their code paths.
const KEYS: [&str; 40] = [
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "ownerReferences",
    "controller",
    "spec",
    "template",
    "jobTemplate",
    "containers",
    "initContainers",
    "ephemeralContainers",
    "securityContext",
    "privileged",
    "capabilities",
    "add",
    "drop",
    "volumes",
    "hostPath",
    "env",
    "value",
    "valueFrom",
    "data",
    "rules",
    "verbs",
    "resources",
    "apiGroups",
    "roleRef",
    "subjects",
    "selector",
    "podSelector",
    "matchExpressions",
    "status",
    "phase",
    "conditions",
    "image",
    "seccompProfile",
    "type",
];
const WORDS: [&str; 16] = [
    "Pod",
    "Deployment",
    "CronJob",
    "Role",
    "ClusterRoleBinding",
    "Service",
    "ConfigMap",
    "NetworkPolicy",
    "*",
    "secrets",
    "ALL",
    "Unconfined",
    "cluster-admin",
    "default",
    "AKIAIOSFODNN7EXAMPLE",
    "password=é€𝄞",
];

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(&WORDS[..]).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(&KEYS[..]), inner), 0..6).prop_map(
                |fields| {
                    Value::Object(
                        fields
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect::<Map<_, _>>(),
                    )
                }
            ),
        ]
    })
}

/// An object of a kind the builtins know, with random contents.
fn object() -> impl Strategy<Value = Value> {
    let kinds = prop::sample::select(&WORDS[..8]);
    (kinds, value(), value(), value(), value(), "[a-z]{1,3}").prop_map(
        |(kind, metadata, spec, status, data, name)| {
            let mut metadata = match metadata {
                Value::Object(fields) => fields,
                _ => Map::new(),
            };
            metadata.insert("name".into(), Value::from(name));
            serde_json::json!({"kind": kind, "metadata": metadata, "spec": spec,
                               "status": status, "data": data, "rules": data})
        },
    )
}

/// Whether the catalog would take the asset of `line`.
fn fits(line: &Line) {
    let Line::Asset(text) = line else {
        panic!("not an asset")
    };
    let asset: AssetInput = serde_json::from_str(text).unwrap();
    if let Err(problem) = asset.validate() {
        panic!("{problem}: {text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn inventory_and_audit_take_any_object(
        objects in prop::collection::vec(prop_oneof![value(), object()], 0..8),
    ) {
        for asset in inventory(&objects, &[]) {
            fits(&asset.line());
        }
        let manifests: Vec<Manifest> = objects
            .into_iter()
            .map(|object| Manifest { object, source: "fuzz".into() })
            .collect();
        for finding in audit(&manifests) {
            fits(&finding.asset().line());
        }
    }

    #[test]
    fn any_text_is_parsed_or_refused(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn any_value_is_scanned(name in "\\PC{0,20}", value in "\\PC{0,120}") {
        if let Some(found) = secrets::detect(&name, &value) {
            prop_assert!(value.chars().count() < 12 || !found.contains(&value), "{found}");
        }
    }
}
