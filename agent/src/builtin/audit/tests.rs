//! Unit tests of the rules on small objects: secret shapes and redaction,
//! RBAC edge cases, effective security contexts, manifest parsing.

use serde_json::{json, Value};

use super::audit;
use super::manifest::{parse, Manifest};
use super::secrets::{detect, looks_random, preview};

/// The objects of `yaml`, as if read from a manifest file.
fn manifests(yaml: &str) -> Vec<Manifest> {
    parse(yaml)
        .unwrap()
        .into_iter()
        .map(|object| Manifest {
            object,
            source: "test".into(),
        })
        .collect()
}

/// The rule ids found on `objects` (as YAML), sorted, with duplicates.
fn rules(yaml: &str) -> Vec<&'static str> {
    let mut ids: Vec<&str> = audit(&manifests(yaml)).iter().map(|f| f.rule.id).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn recognises_credentials_by_shape() {
    let cases = [
        ("X", "AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
        (
            "X",
            "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "a GitHub token",
        ),
        ("X", "xoxp-1234567890-abcdefghij", "a Slack token"),
        (
            "X",
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
            "a Google API key",
        ),
        ("X", "sk_live_abcdefghijklmnop1234", "a Stripe secret key"),
        (
            "X",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXZhbHVlLWhlcmU",
            "a JSON Web Token",
        ),
        (
            "X",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n",
            "a private key",
        ),
        (
            "X",
            "Authorization: Bearer abcdefghijklmnop0123",
            "a bearer token",
        ),
        (
            "X",
            "amqp://guest:hunter22@rabbit:5672/",
            "credentials in a amqp URL",
        ),
        (
            "X",
            r#"{"db": {"password": "c0rrect-horse"}}"#,
            "a password assignment",
        ),
        ("X", "api_key=0123456789", "a api_key assignment"),
        ("ADMIN_PASSWORD", "hunter22", "a password"),
        (
            "GITHUB_TOKEN",
            "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5",
            "a high-entropy value",
        ),
    ];
    for (name, value, what) in cases {
        let found = detect(name, value).unwrap_or_else(|| panic!("{value} not detected"));
        assert!(found.starts_with(what), "{value}: {found}");
    }
}

#[test]
fn leaves_references_and_plain_settings_alone() {
    let cases = [
        ("DB_PASSWORD", "${DB_PASSWORD}"),
        ("DB_PASSWORD", "$(DB_PASSWORD)"),
        ("DB_PASSWORD", "{{ .Values.password }}"),
        ("DB_PASSWORD", "<password>"),
        ("TLS_KEY", "/etc/tls/tls.key"),
        ("PUBLIC_KEY", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"),
        ("CACHE_KEY", "users-v1"),
        ("X", "password_policy: strong"),
        ("X", "password:"),
        ("X", "https://example.com/path"),
        ("X", "-----BEGIN CERTIFICATE-----"),
        ("X", "Bearer short"),
        ("X", "héllo wörld ünïcode://ä@b"),
    ];
    for (name, value) in cases {
        assert_eq!(detect(name, value), None, "{name}={value}");
    }
}

#[test]
fn previews_show_at_most_four_characters() {
    assert_eq!(preview("AKIAIOSFODNN7EXAMPLE"), "AKIA… (20 chars)");
    assert_eq!(preview("hunter22"), "hu… (8 chars)");
    assert_eq!(preview("abc"), "… (3 chars)");
    assert_eq!(preview("ééééééééé"), "éé… (9 chars)");
    assert!(looks_random("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
    assert!(!looks_random("aaaaaaaaaaaaaaaaaaaaaaaa"));
    assert!(!looks_random("short"));
}

#[test]
fn rbac_rules_respect_resource_names_and_bootstrap_roles() {
    let role = |name: &str, labels: Value, rules: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": name, "labels": labels}, "rules": rules})
        .to_string()
    };
    let named_get = json!([{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["tls"], "verbs": ["get"]}]);
    assert!(rules(&role("narrow", json!({}), named_get)).is_empty());
    let named_list = json!([{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["tls"], "verbs": ["list"]}]);
    assert_eq!(
        rules(&role("lister", json!({}), named_list)),
        ["RBAC-SECRETS-READ"]
    );
    let other_group = json!([{"apiGroups": ["apps"], "resources": ["secrets"], "verbs": ["get"]}]);
    assert!(rules(&role("apps", json!({}), other_group)).is_empty());
    let everything = json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]);
    let bootstrap = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    assert!(rules(&role("admin", bootstrap, everything.clone())).is_empty());
    assert!(rules(&role("system:controller:x", json!({}), everything)).is_empty());
}

#[test]
fn container_settings_override_the_pod() {
    let pod = |pod_context: Value, container_context: Value| {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "p", "namespace": "ns1"},
               "spec": {"securityContext": pod_context,
                        "containers": [{"name": "c", "image": "i",
                                        "securityContext": container_context,
                                        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}})
        .to_string()
            + "\n---\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: ns1}\nspec: {podSelector: {}}\n"
    };
    let hardened = json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}});
    let restricted_pod =
        json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
    assert_eq!(
        rules(&pod(restricted_pod.clone(), hardened.clone())),
        Vec::<&str>::new()
    );

    let mut root = hardened.clone();
    root["runAsNonRoot"] = json!(false);
    root["runAsUser"] = json!(0);
    assert_eq!(
        rules(&pod(restricted_pod, root)),
        ["PSS-RUN-AS-NON-ROOT", "PSS-RUN-AS-ROOT-USER"]
    );

    let mut own_seccomp = hardened.clone();
    own_seccomp["seccompProfile"] = json!({"type": "Localhost", "localhostProfile": "p.json"});
    own_seccomp["runAsNonRoot"] = json!(true);
    assert!(rules(&pod(json!({}), own_seccomp)).is_empty());

    let unconfined = json!({"runAsNonRoot": true, "seccompProfile": {"type": "Unconfined"}});
    assert_eq!(
        rules(&pod(unconfined, hardened.clone())),
        ["PSS-SECCOMP-UNCONFINED"]
    );

    let mut admin = hardened;
    admin["capabilities"]["add"] = json!(["CAP_SYS_ADMIN", "NET_BIND_SERVICE"]);
    let restricted_pod =
        json!({"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}});
    assert_eq!(rules(&pod(restricted_pod, admin)), ["PSS-CAPABILITIES"]);
}

#[test]
fn manifests_parse_like_kubectl_reads_them() {
    // YAML 1.1 booleans, as kubectl reads them.
    let flags =
        parse("kind: Pod\nmetadata: {name: p}\nspec: {hostPID: yes, hostIPC: on}\n").unwrap();
    assert_eq!(flags[0]["spec"], json!({"hostPID": true, "hostIPC": true}));
    let text = "# only a comment\n---\n---\nkind: List\nitems:\n- {kind: ConfigMap, metadata: {name: a}}\n- junk\n---\n42\n---\nkind: Pod\n---\n{\"kind\": \"Secret\", \"metadata\": {\"name\": \"b\"}}\n";
    let objects = parse(text).unwrap();
    let names: Vec<&str> = objects
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let error = parse("kind: ConfigMap\ndata:\n  password: Hidden123\n x: [").unwrap_err();
    assert!(
        error.starts_with("not valid YAML") && !error.contains("Hidden123"),
        "{error}"
    );
}

#[test]
fn objects_without_a_namespace_are_in_default() {
    let found =
        rules("kind: Pod\nmetadata: {name: bare}\nspec: {containers: [{name: c, image: i}]}\n");
    assert!(found.contains(&"NETPOL-MISSING"));
    let objects = vec![Manifest {
        object: json!({"kind": "Pod", "metadata": {"name": "bare"}, "spec": {"hostPID": true, "containers": []}}),
        source: "test".into(),
    }];
    let findings = audit(&objects);
    assert_eq!(findings[0].object_id, "k8s/default/Pod/bare");
    assert_eq!(
        findings[0].id(),
        "finding/PSS-HOST-NAMESPACES/k8s/default/Pod/bare"
    );
}

#[test]
fn an_annotation_with_a_reason_accepts_a_rules_findings_on_its_object() {
    let daemonset = |annotations: &str| {
        format!(
            r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: voter
  namespace: cortex
  annotations: {annotations}
spec:
  template:
    spec:
      volumes: [{{ name: data, hostPath: {{ path: /var/lib/cortex }} }}]
      containers: [{{ name: cortex, image: cortex }}]
"#
        )
    };
    let findings = |yaml: &str| audit(&manifests(yaml));
    let reason = "Raft data must survive pod restarts";
    let waived = findings(&daemonset(&format!(
        r#"{{ "audit.cortex.dev/accept-PSS-HOST-PATH": "{reason}" }}"#
    )));
    let host_path = waived
        .iter()
        .find(|f| f.rule.id == "PSS-HOST-PATH")
        .expect("still reported");
    assert_eq!(host_path.accepted.as_deref(), Some(reason));
    let asset = serde_json::to_value(host_path.asset()).unwrap();
    assert!(asset.to_string().contains("accepted"), "{asset}");
    // Other rules on the same object are not accepted by it.
    assert!(waived
        .iter()
        .filter(|f| f.rule.id != "PSS-HOST-PATH")
        .all(|f| f.accepted.is_none()));
    // No reason, no waiver; and the annotation names one rule only.
    for annotations in [
        r#"{ "audit.cortex.dev/accept-PSS-HOST-PATH": "  " }"#,
        r#"{ "audit.cortex.dev/accept-PSS-PRIVILEGED": "because" }"#,
        "{}",
    ] {
        let found = findings(&daemonset(annotations));
        let host_path = found.iter().find(|f| f.rule.id == "PSS-HOST-PATH").unwrap();
        assert!(host_path.accepted.is_none(), "{annotations}");
    }
}
