//! Pod Security Standards, baseline profile: the controls that stop known
//! privilege escalations, checked on every pod template.
//!
//! Pod-level controls give one finding per object; container-level controls
//! one per container (init and ephemeral containers included).

use serde_json::Value;

use super::finding::{Finding, Rule, Severity, Subject};
use crate::builtin::kube::pods::{containers, items, text};

const FAMILY: &str = "pss-baseline";

/// Privileged containers and Windows host processes.
pub static PRIVILEGED: Rule = Rule {
    id: "PSS-PRIVILEGED",
    severity: Severity::Critical,
    family: FAMILY,
    title: "privileged container",
    remediation: "Remove securityContext.privileged (and windowsOptions.hostProcess); grant only the specific capabilities the container needs.",
};
/// hostNetwork, hostPID, hostIPC.
pub static HOST_NAMESPACES: Rule = Rule {
    id: "PSS-HOST-NAMESPACES",
    severity: Severity::High,
    family: FAMILY,
    title: "shares host namespaces",
    remediation: "Remove hostNetwork, hostPID and hostIPC from the pod spec.",
};
/// hostPath volumes.
pub static HOST_PATH: Rule = Rule {
    id: "PSS-HOST-PATH",
    severity: Severity::High,
    family: FAMILY,
    title: "hostPath volume",
    remediation:
        "Replace hostPath volumes with emptyDir, a PersistentVolumeClaim, a ConfigMap or a Secret.",
};
/// hostPort on a container port.
pub static HOST_PORTS: Rule = Rule {
    id: "PSS-HOST-PORTS",
    severity: Severity::Medium,
    family: FAMILY,
    title: "binds a host port",
    remediation: "Remove hostPort and expose the pod through a Service.",
};
/// Capabilities added beyond the baseline set.
pub static CAPABILITIES: Rule = Rule {
    id: "PSS-CAPABILITIES",
    severity: Severity::High,
    family: FAMILY,
    title: "adds capabilities beyond the baseline set",
    remediation: "Remove the added capabilities (SYS_ADMIN, NET_ADMIN, ...); add back only what is in the baseline set if needed.",
};
/// Non-default AppArmor profiles.
pub static APPARMOR: Rule = Rule {
    id: "PSS-APPARMOR",
    severity: Severity::Medium,
    family: FAMILY,
    title: "AppArmor disabled or overridden",
    remediation: "Use appArmorProfile type RuntimeDefault or Localhost (or leave it unset).",
};
/// Custom SELinux options.
pub static SELINUX: Rule = Rule {
    id: "PSS-SELINUX",
    severity: Severity::Medium,
    family: FAMILY,
    title: "custom SELinux user, role or type",
    remediation: "Leave seLinuxOptions.user and role unset and the type to container_t, container_init_t, container_kvm_t or container_engine_t.",
};
/// Unmasked /proc.
pub static PROC_MOUNT: Rule = Rule {
    id: "PSS-PROC-MOUNT",
    severity: Severity::Medium,
    family: FAMILY,
    title: "unmasked /proc",
    remediation: "Remove securityContext.procMount (or set it to Default).",
};
/// Seccomp explicitly Unconfined.
pub static SECCOMP_UNCONFINED: Rule = Rule {
    id: "PSS-SECCOMP-UNCONFINED",
    severity: Severity::High,
    family: FAMILY,
    title: "seccomp disabled",
    remediation:
        "Set seccompProfile.type to RuntimeDefault (or Localhost with a reviewed profile).",
};
/// Sysctls outside the safe set.
pub static SYSCTLS: Rule = Rule {
    id: "PSS-SYSCTLS",
    severity: Severity::Medium,
    family: FAMILY,
    title: "unsafe sysctls",
    remediation: "Remove sysctls outside the safe set from securityContext.sysctls.",
};

/// Capabilities the baseline profile allows to be added.
pub const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Sysctls the baseline profile allows.
const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// SELinux types the baseline profile allows.
const SELINUX_TYPES: [&str; 4] = [
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// Checks the pod spec `spec` (with its template `metadata`) of `subject`.
pub fn check(subject: &Subject, spec: &Value, metadata: &Value, out: &mut Vec<Finding>) {
    let pod = spec.get("securityContext").unwrap_or(&Value::Null);
    let shared: Vec<&str> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|field| spec.get(*field) == Some(&Value::Bool(true)))
        .collect();
    if !shared.is_empty() {
        out.push(subject.finding(&HOST_NAMESPACES, format!("pod sets {}", shared.join(", "))));
    }
    for volume in items(spec.get("volumes")).filter(|v| v.get("hostPath").is_some()) {
        let name = text(volume, "/name").unwrap_or("?");
        let path = text(volume, "/hostPath/path").unwrap_or("?");
        out.push(
            subject
                .finding(&HOST_PATH, format!("volume {name} mounts host path {path}"))
                .with_detail(format!("volume/{name}")),
        );
    }
    let unsafe_sysctls: Vec<&str> = items(pod.get("sysctls"))
        .filter_map(|s| text(s, "/name"))
        .filter(|name| !SAFE_SYSCTLS.contains(name))
        .collect();
    if !unsafe_sysctls.is_empty() {
        out.push(subject.finding(&SYSCTLS, format!("pod sets {}", unsafe_sysctls.join(", "))));
    }
    if text(pod, "/seccompProfile/type") == Some("Unconfined") {
        out.push(subject.finding(&SECCOMP_UNCONFINED, "pod seccompProfile is Unconfined"));
    }
    if let Some(problem) = apparmor_problem(pod.get("appArmorProfile")) {
        out.push(subject.finding(&APPARMOR, format!("pod {problem}")));
    }
    if let Some(problem) = selinux_problem(pod.get("seLinuxOptions")) {
        out.push(subject.finding(&SELINUX, format!("pod {problem}")));
    }
    if pod.pointer("/windowsOptions/hostProcess") == Some(&Value::Bool(true)) {
        out.push(subject.finding(&PRIVILEGED, "pod runs as a Windows host process"));
    }
    for container in containers(spec) {
        let found = |rule: &'static Rule, message: String| {
            subject
                .finding(rule, format!("container {}: {message}", container.name))
                .in_container(container.name)
        };
        let security = container
            .spec
            .get("securityContext")
            .unwrap_or(&Value::Null);
        if security.get("privileged") == Some(&Value::Bool(true)) {
            out.push(found(&PRIVILEGED, "privileged: true".into()));
        } else if security.pointer("/windowsOptions/hostProcess") == Some(&Value::Bool(true)) {
            out.push(found(&PRIVILEGED, "runs as a Windows host process".into()));
        }
        let ports: Vec<String> = items(container.spec.get("ports"))
            .filter_map(|p| p.get("hostPort").and_then(Value::as_u64))
            .filter(|port| *port != 0)
            .map(|port| port.to_string())
            .collect();
        if !ports.is_empty() {
            out.push(found(&HOST_PORTS, format!("hostPort {}", ports.join(", "))));
        }
        let added: Vec<&str> = items(security.pointer("/capabilities/add"))
            .filter_map(Value::as_str)
            .filter(|c| !BASELINE_CAPABILITIES.contains(&c.trim_start_matches("CAP_")))
            .collect();
        if !added.is_empty() {
            out.push(found(&CAPABILITIES, format!("adds {}", added.join(", "))));
        }
        if text(security, "/seccompProfile/type") == Some("Unconfined") {
            out.push(found(
                &SECCOMP_UNCONFINED,
                "seccompProfile is Unconfined".into(),
            ));
        }
        let annotation = format!(
            "container.apparmor.security.beta.kubernetes.io/{}",
            container.name
        );
        let legacy = metadata
            .get("annotations")
            .and_then(|a| a.get(&annotation))
            .and_then(Value::as_str)
            .filter(|p| *p != "runtime/default" && !p.starts_with("localhost/"));
        if let Some(profile) = legacy {
            out.push(found(
                &APPARMOR,
                format!("AppArmor annotation is {profile}"),
            ));
        } else if let Some(problem) = apparmor_problem(security.get("appArmorProfile")) {
            out.push(found(&APPARMOR, problem));
        }
        if let Some(problem) = selinux_problem(security.get("seLinuxOptions")) {
            out.push(found(&SELINUX, problem));
        }
        if let Some(mount) = text(security, "/procMount").filter(|m| *m != "Default") {
            out.push(found(&PROC_MOUNT, format!("procMount is {mount}")));
        }
    }
}

fn apparmor_problem(profile: Option<&Value>) -> Option<String> {
    let kind = text(profile?, "/type")?;
    (kind != "RuntimeDefault" && kind != "Localhost")
        .then(|| format!("appArmorProfile type is {kind}"))
}

fn selinux_problem(options: Option<&Value>) -> Option<String> {
    let options = options?;
    let mut problems = Vec::new();
    for field in ["user", "role"] {
        if let Some(value) = text(options, &format!("/{field}")).filter(|v| !v.is_empty()) {
            problems.push(format!("seLinuxOptions.{field} is {value}"));
        }
    }
    if let Some(kind) =
        text(options, "/type").filter(|t| !t.is_empty() && !SELINUX_TYPES.contains(t))
    {
        problems.push(format!("seLinuxOptions.type is {kind}"));
    }
    (!problems.is_empty()).then(|| problems.join(", "))
}
