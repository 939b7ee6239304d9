//! The machine's floor, printed beside the results: what one durable 4 KiB
//! write costs on the disk the systems write to, and what one round trip
//! over loopback TCP costs. A replicated commit needs at least one of the
//! first and two of the second, whatever the software.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::results::PhysicalResult;
use crate::stats::Latency;

/// Bytes of every synced write: one page, as a log append of a small entry.
const BLOCK: usize = 4096;

/// Measures both, `syncs` disk writes and `round_trips` pings, in the
/// temporary directory every system keeps its data under.
pub async fn run(syncs: u32, round_trips: u32) -> anyhow::Result<PhysicalResult> {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::Builder::new()
            .prefix("cortex-bench-fsync-")
            .tempdir()?;
        Ok(PhysicalResult {
            fsync_4k: fsync(dir.path(), syncs)?,
            loopback_rtt: loopback(round_trips)?,
        })
    })
    .await?
}

/// `pwrite` of 4 KiB at offset 0 then `fdatasync`, `count` times.
fn fsync(dir: &Path, count: u32) -> anyhow::Result<Latency> {
    let path = dir.join("fsync-probe");
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let block = [0x5a_u8; BLOCK];
    // The first write allocates the block; only overwrites are timed, as a
    // preallocated log segment would see.
    file.write_at(&block, 0)?;
    file.sync_all()?;
    let mut samples = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let start = Instant::now();
        file.write_at(&block, 0)?;
        file.sync_data()?;
        samples.push(start.elapsed());
    }
    Ok(Latency::of(samples))
}

/// One byte to an echo thread and back, `count` times, Nagle off.
fn loopback(count: u32) -> anyhow::Result<Latency> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let address = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let mut byte = [0u8; 1];
        while stream.read(&mut byte)? == 1 {
            stream.write_all(&byte)?;
        }
        Ok(())
    });
    let mut stream = TcpStream::connect(address)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut byte = [7u8; 1];
    let mut samples = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let start = Instant::now();
        stream.write_all(&byte)?;
        stream.read_exact(&mut byte)?;
        samples.push(start.elapsed());
    }
    drop(stream);
    echo.join()
        .map_err(|_| anyhow::anyhow!("echo thread panicked"))??;
    Ok(Latency::of(samples))
}
