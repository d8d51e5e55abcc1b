//! A nepnet node inside a Rust program: libnepnet linked statically, driven through its C API
//! (include/nepnet/node.h, bound by hand in src/ffi.rs).
//!
//!     rust-embed --datadir DIR --peer NODEID@HOST:PORT [--peer ...] [--tx-bytes N]
//!                [--preset fast|balanced|private] [--timeout S] [--linger S] [--quiet|--verbose]
//!
//! Starts a regtest node on a thread of its own (listening on 127.0.0.1, port chosen by the
//! system, loopback peers allowed: a devnet), waits until it has an outbound gossip peer,
//! privately broadcasts one transaction (Dandelion++), prints its id as `txid HEX`, waits until
//! the node counts it as submitted and it has left, then stops the node. Exit status 0 on
//! success, 1 on an error (the library's message is printed), 2 on bad arguments.

mod ffi;

use std::collections::hash_map::RandomState;
use std::ffi::{c_char, c_int, c_void, CString};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::process::exit;
use std::ptr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ffi::*;

const USAGE: &str = "usage: rust-embed --datadir DIR --peer NODEID@HOST:PORT [--peer ...] [options]

A nepnet node embedded through libnepnet's C API: joins a regtest network (a devnet on
loopback) through the given bootstrap peers, privately broadcasts one transaction and stops.

options:
  --datadir DIR      the node's data directory (identity.key, peers.sqlite); created if missing
  --peer P           a bootstrap peer NODEID@HOST:PORT or HOST:PORT (repeatable, at least one)
  --tx-bytes N       size of the transaction (default 2048)
  --preset NAME      fast, balanced (the library's default) or private
  --timeout S        seconds to wait for an outbound gossip peer (default 60)
  --linger S         seconds to keep running after the submit, at most, so the stem can
                     leave (default 5; stops earlier once the transaction came back fluffed)
  --quiet            only the library's warnings and errors on stderr
  --verbose          the library's debug lines too
  -h, --help         this text";

struct Args {
    datadir: String,
    peers: Vec<String>,
    tx_bytes: usize,
    preset: Option<String>,
    timeout: Duration,
    linger: Duration,
    quiet: bool,
    verbose: bool,
}

fn bad_usage(msg: &str) -> ! {
    eprintln!("rust-embed: {msg}\n{USAGE}");
    exit(2);
}

fn parse_args() -> Args {
    let mut a = Args {
        datadir: String::new(),
        peers: Vec::new(),
        tx_bytes: 2048,
        preset: None,
        timeout: Duration::from_secs(60),
        linger: Duration::from_secs(5),
        quiet: false,
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(opt) = it.next() {
        let mut value = |name: &str| it.next().unwrap_or_else(|| bad_usage(&format!("{name} needs a value")));
        let number = |name: &str, v: String| -> u64 {
            v.parse()
                .unwrap_or_else(|_| bad_usage(&format!("{name}: '{v}' is not a number")))
        };
        match opt.as_str() {
            "--datadir" => a.datadir = value("--datadir"),
            "--peer" => a.peers.push(value("--peer")),
            "--tx-bytes" => {
                let v = value("--tx-bytes");
                a.tx_bytes = number("--tx-bytes", v) as usize;
                if a.tx_bytes == 0 {
                    bad_usage("--tx-bytes must be at least 1");
                }
            }
            "--preset" => a.preset = Some(value("--preset")),
            "--timeout" => {
                let v = value("--timeout");
                a.timeout = Duration::from_secs(number("--timeout", v));
            }
            "--linger" => {
                let v = value("--linger");
                a.linger = Duration::from_secs(number("--linger", v));
            }
            "--quiet" => a.quiet = true,
            "--verbose" => a.verbose = true,
            "-h" | "--help" => {
                let _ = writeln!(std::io::stdout(), "{USAGE}"); // no panic on a closed pipe
                exit(0);
            }
            _ => bad_usage(&format!("unknown option '{opt}'")),
        }
    }
    if a.datadir.is_empty() {
        bad_usage("--datadir is required");
    }
    if a.peers.is_empty() {
        bad_usage("at least one --peer is required");
    }
    a
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---- what the callbacks see (they run on the node's thread) ----

struct Received {
    id: [u8; 32],
    len: usize,
    via: String,
}

#[derive(Default)]
struct Recorder {
    txs: Mutex<Vec<Received>>,
    changed: Condvar,
}

/// `on_tx`: a transaction entered the node's mempool. Runs on the node's thread; `tx` and
/// what it points to are valid during the call only, so everything kept is copied.
unsafe extern "C" fn on_tx(ctx: *mut c_void, tx: *const NnNodeTx) {
    // A panic must not unwind into C.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: ctx is the Recorder that outlives the node (Node holds an Arc of it); tx is
        // valid for the duration of the call.
        let (rec, tx) = unsafe { (&*(ctx as *const Recorder), &*tx) };
        let via = cstr_ptr(tx.via);
        let from = cstr_field(&tx.from).unwrap_or("").to_string();
        println!(
            "received transaction {} ({} bytes, seq {}, via {}, from {})",
            hex(&tx.id),
            tx.len,
            tx.seq,
            via,
            from.get(..16).unwrap_or("-")
        );
        rec.txs.lock().unwrap().push(Received {
            id: tx.id,
            len: tx.len,
            via,
        });
        rec.changed.notify_all();
    });
}

/// `on_log`: the library's log lines (on the node's thread).
unsafe extern "C" fn on_log(_ctx: *mut c_void, level: c_int, module: *const c_char, line: *const c_char) {
    let _ = std::panic::catch_unwind(|| {
        let tag = ["debug", "info", "warn", "error"]
            .get(level as usize)
            .copied()
            .unwrap_or("log");
        eprintln!("nepnet {tag} {}: {}", cstr_ptr(module), cstr_ptr(line));
    });
}

// ---- the node ----

/// A started node; dropping it stops it (nn_node_stop: channels closed, anchors saved,
/// thread joined). The Recorder its callbacks write to lives at least as long.
struct Node {
    ptr: *mut NnNode,
    _rec: Arc<Recorder>,
}

impl Node {
    fn start(a: &Args, rec: Arc<Recorder>) -> Result<Node, String> {
        // Before changing anything: the defaults must be what node.h documents, or the
        // declarations in ffi.rs do not match the library (checked loudly).
        let mut s = settings_default()?;
        let preset;
        if let Some(p) = &a.preset {
            preset = CString::new(p.as_str()).map_err(|_| "--preset: NUL in the name".to_string())?;
            // SAFETY: s is a settings struct; preset a C string.
            if unsafe { nn_node_settings_preset(&mut s, preset.as_ptr()) } != NN_OK {
                return Err(format!("--preset: '{p}' is not fast, balanced or private"));
            }
        }
        // nn_node_start copies every string and list: these only need to live until it returns.
        let datadir = CString::new(a.datadir.as_str()).map_err(|_| "--datadir: NUL in the path".to_string())?;
        let listen = CString::new("127.0.0.1:0").unwrap();
        let peers: Vec<CString> = a
            .peers
            .iter()
            .map(|p| CString::new(p.as_str()).map_err(|_| format!("--peer: NUL in '{p}'")))
            .collect::<Result<_, _>>()?;
        let peer_ptrs: Vec<*const c_char> = peers.iter().map(|p| p.as_ptr()).collect();

        s.datadir = datadir.as_ptr();
        s.network = NN_NET_REGTEST;
        s.allow_private = 1; // a devnet: every peer is on 127.0.0.1
        s.listen = listen.as_ptr();
        s.api = ptr::null(); // no control API: we are the application
        s.peers = peer_ptrs.as_ptr();
        s.n_peers = peer_ptrs.len();
        s.log_level = if a.verbose {
            NN_LOG_DEBUG
        } else if a.quiet {
            NN_LOG_WARN
        } else {
            NN_LOG_INFO
        };
        s.on_tx = Some(on_tx);
        s.on_log = Some(on_log);
        s.ctx = Arc::as_ptr(&rec) as *mut c_void;

        let mut node: *mut NnNode = ptr::null_mut();
        let mut err = NnError::new();
        // SAFETY: s is fully initialised and its strings live until the call returns; NULL
        // base: the node runs on a thread of its own.
        if unsafe { nn_node_start(&mut node, &s, ptr::null_mut(), &mut err) } != NN_OK || node.is_null() {
            return Err(format!("nn_node_start: {}", err.text()));
        }
        Ok(Node { ptr: node, _rec: rec })
    }

    fn status(&self) -> Result<NnNodeStatus, String> {
        status(self.ptr)
    }

    fn submit(&self, tx: &[u8]) -> Result<[u8; 32], String> {
        let mut id = [0u8; 32];
        let mut err = NnError::new();
        // SAFETY: tx is valid for the call (the node copies it); id has 32 bytes.
        if unsafe { nn_node_submit(self.ptr, tx.as_ptr(), tx.len(), id.as_mut_ptr(), &mut err) } != NN_OK {
            return Err(format!("nn_node_submit: {}", err.text()));
        }
        Ok(id)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // SAFETY: ptr came from nn_node_start and is stopped once; not on the node's thread.
        unsafe { nn_node_stop(self.ptr) };
    }
}

/// Transaction bytes that differ from run to run without a random-number crate: a readable
/// header, then xorshift64* seeded from the process id, the time and std's per-process
/// random hash keys.
fn make_tx(len: usize) -> Vec<u8> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    let mut x = h.finish() | 1;
    let mut tx = format!("rust-embed pid {} t {} ", std::process::id(), nanos).into_bytes();
    tx.truncate(len);
    while tx.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let take = (len - tx.len()).min(8);
        tx.extend_from_slice(&r.to_le_bytes()[..take]);
    }
    tx
}

fn main() {
    let a = parse_args();
    if let Err(e) = run(&a) {
        // the node (if any) is stopped by now: run's Node was dropped on the way out
        eprintln!("rust-embed: error: {e}");
        exit(1);
    }
}

fn run(a: &Args) -> Result<(), String> {
    let t0 = Instant::now();
    let secs = || t0.elapsed().as_secs_f64();
    let rec = Arc::new(Recorder::default());
    let node = Node::start(a, rec.clone())?;
    let st = node.status()?;
    println!(
        "node {} started: network {}, preset {}, route {}, listening as {}",
        cstr_field(&st.node_id).unwrap_or(""),
        cstr_field(&st.network).unwrap_or(""),
        cstr_field(&st.preset).unwrap_or(""),
        cstr_field(&st.route).unwrap_or(""),
        cstr_field(&st.peer).unwrap_or("")
    );

    // 1. an outbound gossip peer
    let poll = Duration::from_millis(200);
    let mut n = 0u64;
    let st = loop {
        let st = node.status()?;
        if st.peers_out >= 1 {
            break st;
        }
        if t0.elapsed() >= a.timeout {
            return Err(format!(
                "no outbound gossip peer after {} s (bootstrapped {}, dht {}, channels {}, dialing {}): \
                 are the --peer addresses right and the nodes on regtest?",
                a.timeout.as_secs(),
                st.bootstrapped,
                st.dht_size,
                st.channels,
                st.dialing
            ));
        }
        n += 1;
        if n % 10 == 0 {
            println!(
                "[{:5.1} s] waiting for a gossip peer: bootstrapped {}, dht {}, channels {}, peers {} out {} in, dialing {}",
                secs(),
                if st.bootstrapped != 0 { "yes" } else { "no" },
                st.dht_size,
                st.channels,
                st.peers_out,
                st.peers_in,
                st.dialing
            );
        }
        std::thread::sleep(poll);
    };
    println!(
        "[{:5.1} s] joined: node id {}, peers {} out {} in, dht {}, {} epoch",
        secs(),
        cstr_field(&st.node_id).unwrap_or(""),
        st.peers_out,
        st.peers_in,
        st.dht_size,
        if st.fluff_epoch != 0 { "fluff" } else { "stem" }
    );
    for p in peers(node.ptr, 64)? {
        println!(
            "  peer {} {} {} ({}){}",
            if p.outbound != 0 { "out" } else { "in " },
            cstr_field(&p.node_id)
                .filter(|s| !s.is_empty())
                .unwrap_or("(anonymous)"),
            cstr_field(&p.addr).unwrap_or(""),
            cstr_field(&p.path).unwrap_or(""),
            if p.stem_relay != 0 { " (stem relay)" } else { "" }
        );
    }

    // 2. one transaction, privately broadcast
    let tx = make_tx(a.tx_bytes);
    let before = node.status()?;
    let id = node.submit(&tx)?;
    let t_submit = Instant::now();
    println!("txid {}", hex(&id));
    println!("[{:5.1} s] submitted {} bytes", secs(), tx.len());

    // 3. counted as submitted
    loop {
        let st = node.status()?;
        if st.tx_submitted > before.tx_submitted {
            if st.tx_submitted != 1 {
                return Err(format!("tx_submitted is {}, want 1", st.tx_submitted));
            }
            break;
        }
        if t_submit.elapsed() >= Duration::from_secs(10) {
            return Err("nn_node_status does not count the submitted transaction after 10 s".into());
        }
        std::thread::sleep(poll);
    }
    println!("[{:5.1} s] tx_submitted == 1", secs());

    // 4. keep running until the transaction has left (gossip bytes out grew by its size) and
    //    came back fluffed (on_tx with our id), or --linger passes.
    let back = || rec.txs.lock().unwrap().iter().any(|r| r.id == id);
    let mut sent;
    loop {
        let st = node.status()?;
        sent = st.bytes_out.saturating_sub(before.bytes_out);
        if (sent >= tx.len() as u64 && back()) || t_submit.elapsed() >= a.linger {
            break;
        }
        let g = rec.txs.lock().unwrap();
        let _ = rec.changed.wait_timeout(g, poll).unwrap();
    }
    let came_back = match rec.txs.lock().unwrap().iter().find(|r| r.id == id) {
        Some(r) => format!("our transaction came back ({} bytes, via {})", r.len, r.via),
        None => format!("our transaction has not come back after {} s", a.linger.as_secs()),
    };
    println!(
        "[{:5.1} s] {} gossip bytes sent since the submit; {}",
        secs(),
        sent,
        came_back
    );
    if sent < tx.len() as u64 {
        return Err(format!(
            "the transaction did not leave the node within {} s ({} gossip bytes sent); try a longer --linger",
            a.linger.as_secs(),
            sent
        ));
    }

    drop(node); // nn_node_stop
    println!("[{:5.1} s] stopped", secs());
    Ok(())
}
