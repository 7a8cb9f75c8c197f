//! A crowd: 500 keep-alive clients reading a conversation list at once, against a `parlor
//! serve` process of its own, whose threads and memory are read from /proc while and after
//! the crowd is there. What is asserted is bounds on threads and memory, never on time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use crate::connections::{request, Served, CLINIC_TOKEN};
use crate::helpers::spawn_with;

const CLIENTS: usize = 500;
const DRIVERS: usize = 10;
const ROUNDS: usize = 6;

const MAX_THREADS: u64 = 64;
const MAX_PEAK_KB: u64 = 150 * 1024;
/// Memory gained once the first crowd has gone (a debug build), over what the server held
/// before it. Every read of the crowd is an audit entry, which the writer stores: its page cache
/// (at most 8 MiB) fills where a read-only crowd never touched it, and so do the read pool's
/// connections' caches and the allocator's free lists. Measured: 27 to 41 MB soon after it left
/// (66 to 74 MB before), under the 32 MB this bound once was on a busy machine. A bound on the gain rather than on the total, which moves with the binary's size.
const MAX_WARM_GAIN_KB: u64 = 48 * 1024;
/// What a second crowd may add on top of the first's: the caches are full by then, so anything
/// more is memory each crowd leaves behind. Measured: none (the server held less after the
/// second crowd than after the first).
const MAX_LEAK_KB: u64 = 12 * 1024;

/// Threads and resident memory (kB) of process `pid`.
fn usage(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Threads:"), field("VmRSS:"))
}

/// Reads one response to a GET off `stream`: its status.
fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> u16 {
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).expect("read body");
                assert!(n > 0, "closed mid-response");
                buf.extend_from_slice(&chunk[..n]);
            }
            assert_eq!(buf.len(), end + 4 + length, "one response per request");
            return head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        }
        let n = stream.read(&mut chunk).expect("read head");
        assert!(n > 0, "closed before answering");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `CLIENTS` connections, all open at once; in each round every one sends its request before
/// any reads an answer, so the whole crowd waits on the server together. Returns the statuses.
fn crowd(addr: SocketAddr) -> Vec<u16> {
    let get = request(
        "GET",
        "/parlor/v1/conversations",
        &[&format!("Authorization: Bearer {CLINIC_TOKEN}")],
    );
    let all_connected = Arc::new(Barrier::new(DRIVERS));
    let drivers: Vec<_> = (0..DRIVERS)
        .map(|_| {
            let (get, all_connected) = (get.clone(), Arc::clone(&all_connected));
            std::thread::spawn(move || {
                let mut streams: Vec<TcpStream> = (0..CLIENTS / DRIVERS)
                    .map(|_| {
                        let s = TcpStream::connect(addr).expect("connect");
                        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                        s
                    })
                    .collect();
                all_connected.wait();
                let mut statuses = Vec::new();
                let mut buf = Vec::new();
                for _ in 0..ROUNDS {
                    for s in &mut streams {
                        s.write_all(get.as_bytes()).expect("send");
                    }
                    for s in &mut streams {
                        statuses.push(read_response(s, &mut buf));
                    }
                }
                statuses
            })
        })
        .collect();
    drivers
        .into_iter()
        .flat_map(|d| d.join().expect("driver"))
        .collect()
}

/// One crowd against the server `pid` at `addr`: its answers, and the most threads and memory
/// seen while it was there.
fn crowd_watched(pid: u32, addr: SocketAddr) -> (Vec<u16>, u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let (mut threads, mut kb) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                let (t, k) = usage(pid);
                threads = threads.max(t);
                kb = kb.max(k);
                std::thread::sleep(Duration::from_millis(10));
            }
            (threads, kb)
        })
    };
    let statuses = crowd(addr);
    stop.store(true, Ordering::Relaxed);
    let (peak_threads, peak_kb) = sampler.join().unwrap();
    (statuses, peak_threads, peak_kb)
}

/// After a crowd has gone: the threads, and the lowest memory seen while waiting (at most 10 s)
/// for it to fall to `bound_kb`.
fn settled(pid: u32, bound_kb: u64) -> (u64, u64) {
    let left = Instant::now();
    let (mut threads, mut kb) = (0, u64::MAX);
    while left.elapsed() < Duration::from_secs(10) {
        let (t, k) = usage(pid);
        (threads, kb) = (t, kb.min(k));
        if kb <= bound_kb {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (threads, kb)
}

fn assert_served(statuses: &[u16], peak_threads: u64, peak_kb: u64) {
    assert_eq!(statuses.len(), CLIENTS * ROUNDS);
    let refused = statuses.iter().filter(|s| **s == 503).count();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "every answer is the list or a 503 to retry: {:?}",
        statuses
            .iter()
            .filter(|s| **s != 200 && **s != 503)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        refused, 0,
        "500 waiting reads are within the default queue depth"
    );
    assert!(peak_threads <= MAX_THREADS, "{peak_threads} threads");
    assert!(peak_kb <= MAX_PEAK_KB, "{peak_kb} kB at the peak");
}

#[test]
fn a_crowd_of_keep_alive_clients_stays_within_threads_and_memory_and_leaves_none_behind() {
    // Two HTTP workers, as on the two-core machine the issue was measured on: the default is
    // one per core, and the bound on threads is meant for the work, not for the core count.
    let served = Served::start(&[("PARLOR_WORKERS", "2")]);
    let pid = served.child.id();
    let (threads_before, kb_before) = usage(pid);

    let (statuses, peak_threads, peak_kb) = crowd_watched(pid, served.addr);
    let (warm_threads, warm_kb) = settled(pid, kb_before + MAX_WARM_GAIN_KB);
    // The same crowd again, on warm caches: what it leaves is what every crowd would leave.
    let (again, again_threads, again_peak_kb) = crowd_watched(pid, served.addr);
    let (after_threads, after_kb) = settled(pid, warm_kb + MAX_LEAK_KB);
    eprintln!(
        "crowd of {CLIENTS} x {ROUNDS}: before {threads_before} threads {kb_before} kB; \
         peak {peak_threads} threads {peak_kb} kB; after {warm_threads} threads {warm_kb} kB; \
         again: peak {again_threads} threads {again_peak_kb} kB; after {after_threads} threads \
         {after_kb} kB"
    );

    assert_served(&statuses, peak_threads, peak_kb);
    assert_served(&again, again_threads, again_peak_kb);
    assert!(
        warm_kb <= kb_before + MAX_WARM_GAIN_KB,
        "{warm_kb} kB after the crowd left, {kb_before} kB before"
    );
    assert!(
        after_kb <= warm_kb + MAX_LEAK_KB,
        "{after_kb} kB after a second crowd left, {warm_kb} kB after the first"
    );
}

#[test]
fn past_the_read_queue_depth_requests_are_refused_with_503_and_retry_after() {
    let app = spawn_with(|s| {
        s.demo = true;
        s.read_pool_size = 1;
        s.read_queue_depth = 1;
    });
    let store = app.service.store.clone();
    let block_on = |f: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| {
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(f)
        })
    };
    // One read holds the only reader thread and another waits: the queue is full.
    let (started, running) = mpsc::channel::<()>();
    let (release, gate) = mpsc::channel::<()>();
    let held = block_on(Box::pin({
        let store = store.clone();
        async move {
            store
                .read(move |_| {
                    started.send(()).unwrap();
                    gate.recv().unwrap();
                    Ok(())
                })
                .await
                .unwrap()
        }
    }));
    running.recv().unwrap();
    let queued = block_on(Box::pin({
        let store = store.clone();
        async move { store.read(|_| Ok(())).await.unwrap() }
    }));
    while store.reads_waiting() == 0 {
        std::thread::yield_now();
    }

    let refused = app
        .get("/parlor/v1/conversations")
        .bearer(CLINIC_TOKEN)
        .send();
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(refused.code(), "unavailable");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the server is busy"),
        "{:?}",
        refused.body
    );

    release.send(()).unwrap();
    held.join().unwrap();
    queued.join().unwrap();
    let served = app
        .get("/parlor/v1/conversations")
        .bearer(CLINIC_TOKEN)
        .send();
    assert_eq!(served.status, 200, "served again once the queue drains");
}
