//! `cortex audit PATH...`: the `security-audit` rules on manifest files or
//! directories, without a cluster or a run — for checking a chart's
//! rendering or a repository in CI. Exit status 1 when a finding that is
//! not accepted is at or above `--fail-on`.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, ValueEnum};
use cortex_agent::builtin::audit::finding::{Finding, Severity};
use cortex_agent::builtin::audit::{audit, manifest};
use serde_json::json;

/// Flags of `cortex audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// Manifest files or directories (YAML or JSON, multi-document).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Fail when a finding not accepted is this severe or worse.
    #[arg(long, value_enum, default_value_t = Threshold::High)]
    pub fail_on: Threshold,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The `--fail-on` severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Threshold {
    /// Only critical findings fail.
    Critical,
    /// High or critical.
    High,
    /// Medium or worse.
    Medium,
    /// Any finding.
    Low,
}

impl Threshold {
    fn severity(self) -> Severity {
        match self {
            Threshold::Critical => Severity::Critical,
            Threshold::High => Severity::High,
            Threshold::Medium => Severity::Medium,
            Threshold::Low => Severity::Low,
        }
    }
}

/// Runs `cortex audit`.
pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    let paths: Vec<String> = args
        .paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let objects = manifest::load(&paths).await.map_err(anyhow::Error::msg)?;
    let findings = audit(&objects);
    // Severity orders Critical first, so "at or above" is "less or equal".
    let failing = |f: &&Finding| f.accepted.is_none() && f.rule.severity <= args.fail_on.severity();
    if args.json {
        let list: Vec<_> = findings.iter().map(finding_json).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for finding in &findings {
            println!("{}", line(finding));
        }
        let accepted = findings.iter().filter(|f| f.accepted.is_some()).count();
        println!(
            "{} objects, {} findings ({accepted} accepted)",
            objects.len(),
            findings.len()
        );
    }
    let failed = findings.iter().filter(failing).count();
    if failed > 0 {
        bail!(
            "{failed} findings not accepted are {} or worse",
            args.fail_on.severity().as_str()
        );
    }
    Ok(())
}

fn line(finding: &Finding) -> String {
    let mut object = format!("{}/{}", finding.kind, finding.name);
    if let Some(namespace) = &finding.namespace {
        object = format!("{namespace}/{object}");
    }
    if let Some(container) = &finding.container {
        object.push_str(&format!(" ({container})"));
    }
    let mut line = format!(
        "{:<8} {:<28} {object}: {}",
        finding.rule.severity.as_str(),
        finding.rule.id,
        finding.message
    );
    if let Some(reason) = &finding.accepted {
        line.push_str(&format!(" [accepted: {reason}]"));
    }
    line
}

fn finding_json(finding: &Finding) -> serde_json::Value {
    json!({
        "rule": finding.rule.id,
        "severity": finding.rule.severity.as_str(),
        "kind": finding.kind,
        "namespace": finding.namespace,
        "name": finding.name,
        "container": finding.container,
        "detail": finding.detail,
        "message": finding.message,
        "remediation": finding.rule.remediation,
        "source": finding.source,
        "accepted": finding.accepted,
    })
}
