//! Secrets written in the clear: container env values and ConfigMap data.
//!
//! A value is reported when it contains a credential of a known shape (AWS
//! access key id, private key block, bearer token, GitHub/Slack/Google/
//! Stripe token, JWT, credentials in a URL, a `password=` assignment), or
//! when its name says it is secret (`*_KEY`, `*_TOKEN`, `*_SECRET`,
//! `*PASSWORD`) and the value looks like one (high entropy for keys and
//! tokens, any literal for passwords). References (`$(VAR)`, `${VAR}`),
//! paths and public keys are not.
//!
//! A finding never carries the value: only a redacted preview with at most
//! four of its characters and its length.

use serde_json::Value;

use super::finding::{Finding, Rule, Severity, Subject};
use crate::builtin::kube::pods::{containers, items, text};

const FAMILY: &str = "secrets";

/// A secret in a container's env.
pub static IN_ENV: Rule = Rule {
    id: "SECRET-IN-ENV",
    severity: Severity::High,
    family: FAMILY,
    title: "secret in an env value",
    remediation: "Move the value into a Secret and reference it with env.valueFrom.secretKeyRef; rotate the exposed credential.",
};
/// A secret in a ConfigMap.
pub static IN_CONFIGMAP: Rule = Rule {
    id: "SECRET-IN-CONFIGMAP",
    severity: Severity::High,
    family: FAMILY,
    title: "secret in a ConfigMap",
    remediation: "Move the value into a Secret (mounted or referenced from env) and rotate the exposed credential.",
};

/// Checks env values of a pod spec.
pub fn check_env(subject: &Subject, spec: &Value, out: &mut Vec<Finding>) {
    for container in containers(spec) {
        for env in items(container.spec.get("env")) {
            let (Some(name), Some(value)) = (text(env, "/name"), text(env, "/value")) else {
                continue;
            };
            if let Some(found) = detect(name, value) {
                out.push(
                    subject
                        .finding(
                            &IN_ENV,
                            format!("container {}: env {name} holds {found}", container.name),
                        )
                        .in_container(container.name)
                        .with_detail(format!("env/{name}")),
                );
            }
        }
    }
}

/// Checks the data of a ConfigMap.
pub fn check_configmap(subject: &Subject, out: &mut Vec<Finding>) {
    let Some(data) = subject.object.get("data").and_then(Value::as_object) else {
        return;
    };
    for (key, value) in data {
        let Some(value) = value.as_str() else {
            continue;
        };
        if let Some(found) = detect(key, value) {
            out.push(
                subject
                    .finding(&IN_CONFIGMAP, format!("key {key} holds {found}"))
                    .with_detail(format!("data/{key}")),
            );
        }
    }
}

/// What secret `value` (named `name`) holds, with a redacted preview.
pub fn detect(name: &str, value: &str) -> Option<String> {
    if let Some(found) = value.lines().find_map(detect_in_line) {
        return Some(found);
    }
    let upper = name.to_ascii_uppercase();
    let value = value.trim();
    if value.is_empty() || is_reference(value) || is_placeholder(value) || upper.contains("PUBLIC")
    {
        return None;
    }
    if upper.ends_with("PASSWORD") || upper.ends_with("PASSWD") {
        return Some(format!("a password ({})", preview(value)));
    }
    let secret_name = ["_KEY", "_TOKEN", "_SECRET"]
        .iter()
        .any(|s| upper.ends_with(s))
        || ["APIKEY", "API_KEY", "TOKEN", "SECRET"].contains(&upper.as_str());
    (secret_name && looks_random(value))
        .then(|| format!("a high-entropy value ({})", preview(value)))
}

/// A credential of a known shape in one line.
fn detect_in_line(line: &str) -> Option<String> {
    if let Some(at) = line.find("-----BEGIN ") {
        if line[at..].contains("PRIVATE KEY-----") {
            return Some("a private key".to_string());
        }
    }
    for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || "_-./+=:@".contains(c))) {
        let token = word.trim_matches(|c: char| ".:=".contains(c));
        if let Some(what) = token_kind(token) {
            return Some(format!("{what} ({})", preview(token)));
        }
    }
    if let Some(at) = find_ignore_case(line, "bearer ") {
        let token: String = line[at + 7..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-._~+/=".contains(*c))
            .collect();
        if token.len() >= 16 {
            return Some(format!("a bearer token ({})", preview(&token)));
        }
    }
    if let Some((scheme, password)) = url_password(line) {
        return Some(format!(
            "credentials in a {scheme} URL ({})",
            preview(password)
        ));
    }
    for key in [
        "password", "passwd", "pwd", "secret", "token", "api_key", "apikey",
    ] {
        if let Some(value) = assigned(line, key) {
            return Some(format!("a {key} assignment ({key}={})", preview(value)));
        }
    }
    None
}

/// The kind of a token of a recognisable shape.
fn token_kind(token: &str) -> Option<&'static str> {
    let rest_is = |prefix: &str, len: usize, allowed: &dyn Fn(char) -> bool| {
        token.len() >= prefix.len() + len
            && token.starts_with(prefix)
            && token[prefix.len()..].chars().all(allowed)
    };
    let upper_digit = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let aws = [
        "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA",
    ];
    if token.len() == 20 && aws.iter().any(|p| rest_is(p, 16, &upper_digit)) {
        return Some("an AWS access key id");
    }
    if ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]
        .iter()
        .any(|p| rest_is(p, 20, &word))
    {
        return Some("a GitHub token");
    }
    if ["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"]
        .iter()
        .any(|p| rest_is(p, 10, &word))
    {
        return Some("a Slack token");
    }
    if rest_is("AIza", 35, &word) {
        return Some("a Google API key");
    }
    if ["sk_live_", "rk_live_"]
        .iter()
        .any(|p| rest_is(p, 16, &word))
    {
        return Some("a Stripe secret key");
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[1].starts_with("eyJ")
        && parts[2].len() >= 16
    {
        return Some("a JSON Web Token");
    }
    None
}

/// The scheme and password of a `scheme://user:password@host` URL in `line`.
fn url_password(line: &str) -> Option<(&str, &str)> {
    let scheme_end = line.find("://")?;
    let scheme = line[..scheme_end]
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
        .next()
        .unwrap_or_default();
    let rest = &line[scheme_end + 3..];
    let authority = &rest[..rest.find(['/', ' ', '"', '\'']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let password = userinfo.split_once(':')?.1;
    (!scheme.is_empty() && !password.is_empty() && !is_reference(password))
        .then_some((scheme, password))
}

/// The value assigned to `key` in `line` (`key=value`, `key: value`,
/// `"key": "value"`), unless it is empty or a reference.
fn assigned<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = find_ignore_case(line, key)?;
    let before_ok = line[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_ascii_alphanumeric());
    let after = line[at + key.len()..]
        .trim_start_matches(['"', '\''])
        .trim_start();
    let value = after
        .strip_prefix('=')
        .or_else(|| after.strip_prefix(':'))?;
    let value = value.trim().trim_matches(['"', '\'', ',', ';']).trim();
    let value = value.split_whitespace().next().unwrap_or("");
    (before_ok && value.len() >= 4 && !is_reference(value) && !is_placeholder(value))
        .then_some(value)
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(needle)
}

/// `$(VAR)`, `${VAR}`, `{{ .Values.x }}`, `<password>` and paths are
/// references to a secret, not one.
fn is_reference(value: &str) -> bool {
    value.contains("${") || value.contains("$(") || value.contains("{{") || value.starts_with('/')
}

fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    (value.starts_with('<') && value.ends_with('>'))
        || ["xxxx", "****", "none", "null", "true", "false"]
            .iter()
            .any(|p| lower == *p)
}

/// Long and random enough to be a generated key or token: 16+ characters,
/// no spaces, at least 3.5 bits of entropy per character.
pub fn looks_random(value: &str) -> bool {
    if value.len() < 16 || value.contains(char::is_whitespace) || value.contains("://") {
        return false;
    }
    let mut counts = [0u32; 256];
    for b in value.bytes() {
        counts[usize::from(b)] += 1;
    }
    let len = value.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / len;
            -p * p.log2()
        })
        .sum();
    entropy >= 3.5
}

/// At most the first four characters (a quarter for short values), then
/// the length: `AKIA… (20 chars)`.
pub fn preview(secret: &str) -> String {
    let count = secret.chars().count();
    let shown: String = secret.chars().take((count / 4).min(4)).collect();
    format!("{shown}… ({count} chars)")
}
