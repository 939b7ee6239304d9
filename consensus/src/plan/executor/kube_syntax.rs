//! The Kubernetes syntax a `k8s-job` executor's fields must follow: image
//! references, resource quantities, namespace and Secret names, Secret keys
//! and environment variable names.
//!
//! A plan is checked against them when it is submitted (and again on
//! apply), so a typo is a plan error with its path rather than a Job the API
//! server refuses on some node minutes later. Each function returns the
//! problem in words, or `None`; the daemon uses [`dns_label_problem`] for
//! its `--k8s-jobs-namespace` too.

use super::super::validate::quoted;

/// What an image reference looks like, for messages.
const IMAGE_SHAPE: &str =
    "expected [REGISTRY[:PORT]/]REPOSITORY[:TAG][@sha256:DIGEST], e.g. ghcr.io/acme/worker:1.4";
/// Longest repository name (registry and path) a registry accepts.
const MAX_IMAGE_NAME: usize = 255;
/// Longest tag.
const MAX_TAG: usize = 128;

/// Why `image` is not a container image reference, if it is not.
pub fn image_problem(image: &str) -> Option<String> {
    let problem = image_syntax(image)?;
    Some(format!(
        "{} is not an image reference: {problem}; {IMAGE_SHAPE}",
        quoted(image)
    ))
}

fn image_syntax(image: &str) -> Option<&'static str> {
    if image.is_empty() {
        return Some("it is empty");
    }
    if !image.chars().all(|c| c.is_ascii_graphic()) {
        return Some("it may hold only printable ASCII, without spaces");
    }
    let (reference, digest) = match image.split_once('@') {
        Some((reference, digest)) => (reference, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        if !is_digest(digest) {
            return Some("the digest must be ALGORITHM:HEX, e.g. sha256: and 64 hex digits");
        }
    }
    // A tag is a `:` after the last `/`; a `:` before it is a registry port.
    let last_part = reference.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match reference[last_part..].rfind(':') {
        Some(i) => (
            &reference[..last_part + i],
            Some(&reference[last_part + i + 1..]),
        ),
        None => (reference, None),
    };
    if let Some(tag) = tag {
        if !is_tag(tag) {
            return Some(
                "the tag must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
            );
        }
    }
    if name.len() > MAX_IMAGE_NAME {
        return Some("the name is longer than 255 characters");
    }
    let mut parts = name.split('/').peekable();
    let first = parts.next().unwrap_or_default();
    let registry = parts.peek().is_some()
        && (first.contains(['.', ':'])
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()));
    if registry && !is_registry(first) {
        return Some("the registry must be a host name or address with an optional :PORT");
    }
    let path = std::iter::once(first).filter(|_| !registry).chain(parts);
    for component in path {
        if !is_path_component(component) {
            return Some(
                "the repository path takes lowercase letters and digits, in parts separated \
                 by '/' and joined by '.', '_', '__' or dashes",
            );
        }
    }
    None
}

fn is_digest(digest: &str) -> bool {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return false;
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['+', '.', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let encoded_ok = match algorithm {
        "sha256" => encoded.len() == 64 && encoded.bytes().all(hex),
        "sha512" => encoded.len() == 128 && encoded.bytes().all(hex),
        _ => {
            (32..=1024).contains(&encoded.len())
                && encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
        }
    };
    algorithm_ok && encoded_ok
}

fn is_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    (1..=MAX_TAG).contains(&tag.len())
        && tag.bytes().next().is_some_and(word)
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-')
}

/// `host[:port]`: DNS labels (any case) joined by dots, or `[IPv6]`.
fn is_registry(registry: &str) -> bool {
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => (host, Some(port)),
        _ => (registry, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    if let Some(address) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !address.is_empty() && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Lowercase alphanumeric runs joined by `.`, `_`, `__` or dashes.
fn is_path_component(component: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    if !bytes.first().is_some_and(|b| alnum(*b)) || !bytes.last().is_some_and(|b| alnum(*b)) {
        return false;
    }
    let mut separator = String::new();
    for &b in bytes {
        if alnum(b) {
            let ok = match separator.as_str() {
                "" | "." | "_" | "__" => true,
                dashes => dashes.bytes().all(|d| d == b'-'),
            };
            if !ok {
                return false;
            }
            separator.clear();
        } else if b"._-".contains(&b) {
            separator.push(b as char);
        } else {
            return false;
        }
    }
    true
}

/// Why `quantity` is not a Kubernetes resource quantity for CPU or memory.
pub fn quantity_problem(quantity: &str) -> Option<String> {
    const HINT: &str = "use a number with an optional suffix: 500m or 2 for CPU, 256Mi or 1G for \
                        memory (binary Ki Mi Gi Ti Pi Ei, decimal n u m k M G T P E)";
    let unsigned = quantity.strip_prefix('+').unwrap_or(quantity);
    if unsigned.starts_with('-') {
        return Some(format!("{} must not be negative", quoted(quantity)));
    }
    let split = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(split);
    let number_ok = number.bytes().any(|b| b.is_ascii_digit()) && number.matches('.').count() <= 1;
    let suffix_ok = match suffix {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        exponent => exponent
            .strip_prefix(['e', 'E'])
            .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())),
    };
    if number_ok && suffix_ok && quantity.len() <= 64 {
        None
    } else {
        Some(format!("{} is not a quantity: {HINT}", quoted(quantity)))
    }
}

/// Why `name` is not a DNS-1123 label (a namespace name), if it is not.
pub fn dns_label_problem(name: &str) -> Option<String> {
    (!is_dns_label(name, 63)).then(|| {
        format!(
            "{} is not a valid namespace name: 1-63 characters from a-z, 0-9 and '-', \
             starting and ending with a letter or digit",
            quoted(name)
        )
    })
}

/// Why `name` is not a DNS-1123 subdomain (a Secret name), if it is not.
pub fn dns_subdomain_problem(name: &str) -> Option<String> {
    let ok = (1..=253).contains(&name.len()) && name.split('.').all(|l| is_dns_label(l, 63));
    (!ok).then(|| {
        format!(
            "{} is not a valid Secret name: 1-253 characters from a-z, 0-9, '-' and '.', \
             each dot-separated part starting and ending with a letter or digit",
            quoted(name)
        )
    })
}

fn is_dns_label(name: &str, max: usize) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (1..=max).contains(&name.len())
        && name.bytes().all(|b| alnum(&b) || b == b'-')
        && name.as_bytes().first().is_some_and(alnum)
        && name.as_bytes().last().is_some_and(alnum)
}

/// Why `key` is not a key of a Secret, if it is not.
pub fn secret_key_problem(key: &str) -> Option<String> {
    let ok = (1..=253).contains(&key.len())
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    (!ok).then(|| {
        format!(
            "{} is not a valid Secret key: 1-253 characters from letters, digits, '-', '_' and '.'",
            quoted(key)
        )
    })
}

/// Why `name` cannot be a container's environment variable, if it cannot:
/// the rule every Kubernetes version accepts (newer ones allow more).
pub fn env_name_problem(name: &str) -> Option<String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._".contains(&b);
    let ok = (1..=253).contains(&name.len())
        && name.bytes().all(allowed)
        && !name.as_bytes()[0].is_ascii_digit();
    (!ok).then(|| {
        format!(
            "{} is not a valid variable name for a container: letters, digits, '_', '-' and '.', \
             not starting with a digit",
            quoted(name)
        )
    })
}
