//! `cortex bench write`: replicated-write latency and throughput as a client
//! sees them through the admin API. Prints figures; it asserts nothing (speed
//! is measured by benchmarks, not by timed tests).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::cli::BenchWriteArgs;
use crate::client::{ApiClient, Body};

/// Runs the write benchmark and prints a summary.
pub async fn write(args: BenchWriteArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.count > 0, "--count must be at least 1");
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let client = Arc::new(ApiClient::from_args(&args.api)?);
    let value = "v".repeat(args.value_size);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();

    let progress = {
        let done = done.clone();
        let count = args.count;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let finished = done.load(Ordering::Relaxed);
                eprintln!(
                    "  {finished}/{count} writes ({:.0}%)",
                    100.0 * finished as f64 / count as f64
                );
            }
        })
    };
    let workers = (0..args.concurrency).map(|_| {
        let (client, next, done, value) =
            (client.clone(), next.clone(), done.clone(), value.clone());
        let count = args.count;
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let path = format!("/v1/kv/bench-{}", i % 10_000);
                let sent = Instant::now();
                client
                    .send(Method::PUT, &path, Some(Body::Text(value.clone())))
                    .await?;
                latencies.push(sent.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    let mut latencies = Vec::new();
    for worker in futures::future::join_all(workers).await {
        latencies.extend(worker??);
    }
    progress.abort();
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "writes: {}  concurrency: {}  value: {} B  elapsed: {:.2?}  throughput: {:.0} writes/s",
        latencies.len(),
        args.concurrency,
        args.value_size,
        elapsed,
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency: p50 {:.2?}  p90 {:.2?}  p99 {:.2?}  p99.9 {:.2?}  max {:.2?}",
        at(0.50),
        at(0.90),
        at(0.99),
        at(0.999),
        latencies[latencies.len() - 1]
    );
    Ok(())
}
