//! Hand-written bindings to libnepnet's embedding API.
//!
//! These declarations mirror include/nepnet/node.h (with the types it takes from
//! include/nepnet/error.h, include/nepnet/types.h and the NN_NET_* magics of
//! include/nepnet/channel.h) field for field: same order, same C types. When node.h changes,
//! change this file in the same commit. There is no C helper and no bindgen: instead,
//!
//!  * the sizes and a few offsets a C compiler gives these structs on LP64 (x86_64 and aarch64
//!    Linux) are asserted at compile time below, and
//!  * at run time, [`settings_default`], [`status`] and [`peers`] hand the C library a struct
//!    followed by a guard band of known bytes and check afterwards that C wrote exactly the
//!    struct: `nn_node_settings_default` and `nn_node_status` memset the whole struct as C sees
//!    it, so a C struct larger than ours would overwrite the guard and a smaller one would leave
//!    the last field of ours untouched. The values are then checked for plausibility (the
//!    defaults node.h documents: 64 peers, mainnet, the balanced preset...) before anything
//!    is changed. A mismatch fails loudly instead of corrupting memory quietly.
//!
//! Link: libnepnet.a, then OpenSSL's libcrypto.a (static: it must be 3.5 or later, never the
//! system's 3.0 libcrypto.so), then libevent, sqlite3, jansson, pthread, dl and m (build.rs).

#![allow(dead_code)]

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::mem::{offset_of, size_of, MaybeUninit};

// ---- include/nepnet/error.h, types.h, channel.h ----

/// `nn_err_t` (a C enum whose values are all non-negative: `unsigned int` on GCC and Clang).
pub type NnErr = c_uint;
pub const NN_OK: NnErr = 0;
pub const NN_ERR_TOO_LONG: NnErr = 2;
pub const NN_ERR_ARG: NnErr = 6;

/// `nn_route_t`.
pub type NnRoute = c_uint;
pub const NN_ROUTE_DIRECT: NnRoute = 0;
pub const NN_ROUTE_DANDELION: NnRoute = 1;

/// Network magics (`NN_NET_*` in nepnet/channel.h).
pub const NN_NET_MAINNET: u32 = 0x4e45_5031; // "NEP1"
pub const NN_NET_TESTNET: u32 = 0x4e45_5054; // "NEPT"
pub const NN_NET_REGTEST: u32 = 0x4e45_5052; // "NEPR"

/// The log levels of `nn_node_settings_t.log_level`.
pub const NN_LOG_DEBUG: c_int = 0;
pub const NN_LOG_INFO: c_int = 1;
pub const NN_LOG_WARN: c_int = 2;

// ---- include/nepnet/node.h ----

/// `nn_node_t`: opaque.
#[repr(C)]
pub struct NnNode {
    _private: [u8; 0],
}

/// `nn_error_t`.
#[repr(C)]
pub struct NnError {
    pub code: NnErr,
    pub message: [c_char; 256],
}

/// `nn_node_tx_t`: a transaction that entered the node's mempool (valid during the callback only).
#[repr(C)]
pub struct NnNodeTx {
    pub id: [u8; 32],
    pub data: *const u8,
    pub len: usize,
    pub seq: u64,
    pub unix_ms: u64,
    pub via: *const c_char,
    pub from: [c_char; 65],
}

pub type OnTx = unsafe extern "C" fn(ctx: *mut c_void, tx: *const NnNodeTx);
pub type OnLog = unsafe extern "C" fn(ctx: *mut c_void, level: c_int, module: *const c_char, line: *const c_char);

/// `nn_node_settings_t`.
#[repr(C)]
pub struct NnNodeSettings {
    pub datadir: *const c_char,
    pub network: u32,
    pub preset: *const c_char,
    pub listen: *const c_char,
    pub advertise: *const c_char,
    pub hidden: c_int,
    pub allow_private: c_int,
    pub peers: *const *const c_char,
    pub n_peers: usize,
    pub connect: *const *const c_char,
    pub n_connect: usize,
    pub dns_seeds: *const *const c_char,
    pub n_dns_seeds: usize,
    pub dns_nameserver: *const c_char,
    pub max_peers: u32,
    pub max_outbound: u32,
    pub max_inbound_per_host: u32,
    pub max_channels: u32,
    pub listen_max_per_ip: u32,
    pub listen_ip_rate: f64,
    pub listen_half_open_per_group: u32,
    pub dht_per_table_wide: u32,
    pub workers: u32,
    pub route: NnRoute,
    pub fluff_prob: f64,
    pub epoch_s: u32,
    pub embargo_base_ms: u32,
    pub embargo_mean_ms: u32,
    pub inv_delay_out_ms: u32,
    pub inv_delay_in_ms: u32,
    pub stem_rate: f64,
    pub stem_burst: u32,
    pub max_tx_bytes: usize,
    pub mempool_max_count: usize,
    pub stempool_max_count: usize,
    pub api: *const c_char,
    pub api_token_file: *const c_char,
    pub log_level: c_int,
    pub mixnet: c_int,
    pub mix: c_int,
    pub cover: *const c_char,
    pub mix_delay_ms: u32,
    pub mix_epoch_s: u32,
    pub mix_redundancy: f64,
    pub mix_test_loss: f64,
    pub mix_send_rate: f64,
    pub relay: c_int,
    pub relay_reserve: c_int,
    pub relay_via: *const *const c_char,
    pub n_relay_via: usize,
    pub relay_max_circuits: u32,
    pub relay_circuit_s: u32,
    pub relay_circuit_bytes: usize,
    pub relay_rate: u32,
    pub relay_max_reservations: u32,
    pub stun: c_int,
    pub stun_server: *const c_char,
    pub turn_server: *const c_char,
    pub turn_user: *const c_char,
    pub turn_password_file: *const c_char,
    pub turn: c_int,
    pub tor_control: *const c_char,
    pub tor_socks: *const c_char,
    pub tor_password_file: *const c_char,
    pub onlynet: *const c_char,
    pub onion: c_int,
    pub tor_only: c_int,
    pub tx_proxy: c_int,
    pub i2p_inbound: c_int,
    pub i2p_sam: *const c_char,
    pub link_padding_ms: u32,
    pub private_broadcast: u32,
    pub on_tx: Option<OnTx>,
    pub on_log: Option<OnLog>,
    pub ctx: *mut c_void,
    pub api_token_mode: u32,
}

/// `nn_node_status_t`.
#[repr(C)]
pub struct NnNodeStatus {
    pub node_id: [c_char; 65],
    pub network: [c_char; 16],
    pub peer: [c_char; 200],
    pub preset: [c_char; 16],
    pub route: [c_char; 24],
    pub uptime_s: u64,
    pub peers_in: u32,
    pub peers_out: u32,
    pub dialing: u32,
    pub channels: u32,
    pub dht_size: u32,
    pub bootstrapped: c_int,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub fluff_epoch: c_int,
    pub epoch_ends_in_s: u64,
    pub n_relays: u32,
    pub relays: [[c_char; 65]; 2],
    pub mempool_count: u64,
    pub mempool_bytes: u64,
    pub stempool_count: u64,
    pub stempool_bytes: u64,
    pub tx_received: u64,
    pub tx_submitted: u64,
    pub rx_seq: u64,
    pub mix: c_int,
    pub mix_epoch: u32,
    pub mixes: u32,
    pub mix_packets_in: u64,
    pub mix_packets_out: u64,
}

/// `nn_node_peer_t`.
#[repr(C)]
pub struct NnNodePeer {
    pub node_id: [c_char; 65],
    pub addr: [c_char; 80],
    pub outbound: c_int,
    pub since_s: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub stems_in: u64,
    pub stems_out: u64,
    pub stem_relay: c_int,
    pub path: [c_char; 16],
}

extern "C" {
    pub fn nn_node_settings_default(s: *mut NnNodeSettings);
    pub fn nn_node_settings_preset(s: *mut NnNodeSettings, name: *const c_char) -> NnErr;
    /// `base` is a `struct event_base *`; NULL runs the node on a thread of its own.
    pub fn nn_node_start(
        out: *mut *mut NnNode,
        s: *const NnNodeSettings,
        base: *mut c_void,
        err: *mut NnError,
    ) -> NnErr;
    pub fn nn_node_stop(n: *mut NnNode);
    pub fn nn_node_submit(n: *mut NnNode, tx: *const u8, len: usize, id: *mut u8, err: *mut NnError) -> NnErr;
    pub fn nn_node_status(n: *mut NnNode, st: *mut NnNodeStatus) -> NnErr;
    pub fn nn_node_peers(n: *mut NnNode, out: *mut NnNodePeer, max: usize) -> usize;
    pub fn nn_route_str(r: NnRoute) -> *const c_char;
    pub fn nn_network_str(network: u32) -> *const c_char;
    pub fn nn_err_str(err: NnErr) -> *const c_char;
}

// ---- layout: what a C compiler makes of node.h on LP64 (x86_64, aarch64 Linux) ----

#[cfg(all(target_pointer_width = "64", not(windows)))]
const _: () = {
    assert!(size_of::<NnError>() == 260);
    assert!(size_of::<NnNodeTx>() == 144);
    assert!(offset_of!(NnNodeTx, from) == 72);
    assert!(size_of::<NnNodeSettings>() == 488);
    assert!(offset_of!(NnNodeSettings, listen_ip_rate) == 128);
    assert!(offset_of!(NnNodeSettings, workers) == 144);
    assert!(offset_of!(NnNodeSettings, route) == 148);
    assert!(offset_of!(NnNodeSettings, max_tx_bytes) == 200);
    assert!(offset_of!(NnNodeSettings, cover) == 256);
    assert!(offset_of!(NnNodeSettings, mix_redundancy) == 272);
    assert!(offset_of!(NnNodeSettings, relay_via) == 304);
    assert!(offset_of!(NnNodeSettings, relay_circuit_bytes) == 328);
    assert!(offset_of!(NnNodeSettings, stun_server) == 352);
    assert!(offset_of!(NnNodeSettings, turn_server) == 360);
    assert!(offset_of!(NnNodeSettings, turn) == 384);
    assert!(offset_of!(NnNodeSettings, tor_control) == 392);
    assert!(offset_of!(NnNodeSettings, onion) == 424);
    assert!(offset_of!(NnNodeSettings, tx_proxy) == 432);
    assert!(offset_of!(NnNodeSettings, i2p_sam) == 440);
    assert!(offset_of!(NnNodeSettings, link_padding_ms) == 448);
    assert!(offset_of!(NnNodeSettings, private_broadcast) == 452);
    assert!(offset_of!(NnNodeSettings, on_tx) == 456);
    assert!(offset_of!(NnNodeSettings, ctx) == 472);
    assert!(offset_of!(NnNodeSettings, api_token_mode) == 480);
    assert!(size_of::<NnNodeStatus>() == 616);
    assert!(offset_of!(NnNodeStatus, uptime_s) == 328);
    assert!(offset_of!(NnNodeStatus, bytes_in) == 360);
    assert!(offset_of!(NnNodeStatus, relays) == 396);
    assert!(offset_of!(NnNodeStatus, rx_seq) == 576);
    assert!(offset_of!(NnNodeStatus, mix_packets_out) == 608);
    assert!(size_of::<NnNodePeer>() == 216);
    assert!(offset_of!(NnNodePeer, path) == 196);
    assert!(offset_of!(NnNodePeer, since_s) == 152);
    assert!(offset_of!(NnNodePeer, stem_relay) == 192);
};

// ---- run-time checks against the library actually linked ----

const GUARD: usize = 64;
const FILL: u8 = 0xa5;

/// `T` followed by a guard band, all bytes FILL before C writes into it.
#[repr(C)]
struct Guarded<T, const N: usize> {
    value: [MaybeUninit<T>; N],
    guard: [u8; GUARD],
}

impl<T, const N: usize> Guarded<T, N> {
    fn new() -> Box<Self> {
        let mut b: Box<MaybeUninit<Self>> = Box::new(MaybeUninit::uninit());
        // SAFETY: every byte of the allocation is written; all-FILL is a valid Guarded (its
        // fields are MaybeUninit and bytes).
        unsafe {
            std::ptr::write_bytes(b.as_mut_ptr() as *mut u8, FILL, size_of::<Self>());
            Box::from_raw(Box::into_raw(b) as *mut Self)
        }
    }
    fn ptr(&mut self) -> *mut T {
        self.value.as_mut_ptr() as *mut T
    }
    fn guard_intact(&self) -> bool {
        self.guard.iter().all(|&b| b == FILL)
    }
    /// The bytes of element `i` (for checks before reading it as T).
    fn bytes(&self, i: usize) -> &[u8] {
        // SAFETY: every byte was initialised by new() (and maybe overwritten by C).
        unsafe { std::slice::from_raw_parts(self.value.as_ptr().add(i) as *const u8, size_of::<T>()) }
    }
}

fn layout_error(what: &str, detail: &str) -> String {
    format!(
        "layout mismatch: {what} in src/ffi.rs does not match the linked libnepnet ({detail}); \
         update src/ffi.rs to include/nepnet/node.h of the library you link"
    )
}

/// A NUL-terminated C string inside a fixed array, as &str ("" if not UTF-8); None if the
/// array has no NUL (C did not write it, or the sizes differ).
pub fn cstr_field(a: &[c_char]) -> Option<&str> {
    // SAFETY: c_char and u8 have the same size and alignment.
    let bytes = unsafe { std::slice::from_raw_parts(a.as_ptr() as *const u8, a.len()) };
    let end = bytes.iter().position(|&b| b == 0)?;
    Some(std::str::from_utf8(&bytes[..end]).unwrap_or(""))
}

/// A C string pointer as a String ("" for NULL).
pub fn cstr_ptr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the library returns NUL-terminated strings that live as long as the library.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The last 8 bytes of `b` as a native u64.
fn tail_u64(b: &[u8]) -> u64 {
    u64::from_ne_bytes(b[b.len() - 8..].try_into().unwrap())
}

fn is_hex_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `nn_node_settings_default`, checked: C wrote exactly size_of::<NnNodeSettings>() bytes and
/// the values are the documented defaults. Call before changing anything.
pub fn settings_default() -> Result<NnNodeSettings, String> {
    let mut g = Guarded::<NnNodeSettings, 1>::new();
    // SAFETY: g.ptr() points to size_of::<NnNodeSettings>() writable bytes (plus the guard).
    unsafe { nn_node_settings_default(g.ptr()) };
    if !g.guard_intact() {
        return Err(layout_error(
            "nn_node_settings_t",
            "C wrote past the end of the Rust struct: the C struct is larger",
        ));
    }
    let b = g.bytes(0);
    // the last field is api_token_mode (0600 by default); zeros before it and after it
    let mode_at = offset_of!(NnNodeSettings, api_token_mode);
    let mode = u32::from_ne_bytes(b[mode_at..mode_at + 4].try_into().unwrap());
    let tail = &b[offset_of!(NnNodeSettings, ctx)..mode_at];
    if mode != 0o600 || tail.iter().any(|&x| x != 0) || b[mode_at + 4..].iter().any(|&x| x != 0) {
        return Err(layout_error(
            "nn_node_settings_t",
            "C left the end of the Rust struct unwritten: the C struct is smaller",
        ));
    }
    // SAFETY: C initialised the whole struct (checked above). Pointers, integers and floats
    // accept any bit pattern, and Option<fn> any pointer-sized one (0 is None).
    let s: NnNodeSettings = unsafe { std::ptr::read(g.ptr()) };
    let preset = cstr_ptr(s.preset);
    let listen = cstr_ptr(s.listen);
    let cover = cstr_ptr(s.cover);
    let checks: [(&str, bool); 15] = [
        ("network == NN_NET_MAINNET", s.network == NN_NET_MAINNET),
        ("max_peers == 64", s.max_peers == 64),
        ("max_outbound == 8", s.max_outbound == 8),
        ("preset == \"balanced\"", preset == "balanced"),
        ("listen == \"0.0.0.0:9800\"", listen == "0.0.0.0:9800"),
        ("route == NN_ROUTE_DANDELION", s.route == NN_ROUTE_DANDELION),
        ("fluff_prob == 0.1", (s.fluff_prob - 0.1).abs() < 1e-9),
        ("epoch_s == 600", s.epoch_s == 600),
        ("max_tx_bytes == 8 MiB", s.max_tx_bytes == 8 << 20),
        ("api == NULL", s.api.is_null()),
        ("log_level == NN_LOG_INFO", s.log_level == NN_LOG_INFO),
        ("mixnet == 1", s.mixnet == 1),
        (
            "cover == \"off\", mix_epoch_s == 3600, mix_redundancy == 0.5",
            cover == "off" && s.mix_epoch_s == 3600 && s.mix_redundancy == 0.5,
        ),
        (
            "relay == -1 (auto), relay_max_circuits == 32, relay_rate == 524288, stun == -1, turn == -1",
            s.relay == -1
                && s.relay_max_circuits == 32
                && s.relay_rate == 524288
                && s.stun == -1
                && s.turn == -1
                && s.turn_server.is_null(),
        ),
        (
            "on_tx, on_log, ctx unset",
            s.on_tx.is_none() && s.on_log.is_none() && s.ctx.is_null(),
        ),
    ];
    for (what, ok) in checks {
        if !ok {
            return Err(layout_error(
                "nn_node_settings_t",
                &format!("nn_node_settings_default() did not give {what}: fields are out of order or of other types"),
            ));
        }
    }
    Ok(s)
}

/// `nn_node_status`, checked the same way (it memsets the struct before filling it).
pub fn status(n: *mut NnNode) -> Result<NnNodeStatus, String> {
    let mut g = Guarded::<NnNodeStatus, 1>::new();
    // SAFETY: n is a started node; g.ptr() points to a whole NnNodeStatus.
    let e = unsafe { nn_node_status(n, g.ptr()) };
    if e != NN_OK {
        return Err(format!("nn_node_status: {}", cstr_ptr(unsafe { nn_err_str(e) })));
    }
    if !g.guard_intact() {
        return Err(layout_error(
            "nn_node_status_t",
            "C wrote past the end of the Rust struct: the C struct is larger",
        ));
    }
    // The last 8 bytes are mix_packets_out (a count): a smaller C struct would leave them at FILL.
    if tail_u64(g.bytes(0)) >= 1 << 48 {
        return Err(layout_error(
            "nn_node_status_t",
            "C left the end of the Rust struct unwritten: the C struct is smaller",
        ));
    }
    // SAFETY: all fields are integers or char arrays; any bit pattern is valid.
    let st: NnNodeStatus = unsafe { std::ptr::read(g.ptr()) };
    let plausible = cstr_field(&st.node_id).is_some_and(is_hex_id)
        && cstr_field(&st.network).is_some_and(|s| ["mainnet", "testnet", "regtest"].contains(&s))
        && cstr_field(&st.route).is_some()
        && st.n_relays <= 2
        && st.tx_submitted < 1 << 40
        && st.rx_seq < 1 << 40
        && st.mix_packets_out < 1 << 40;
    if !plausible {
        return Err(layout_error(
            "nn_node_status_t",
            "nn_node_status() filled implausible values",
        ));
    }
    Ok(st)
}

/// `nn_node_peers` for up to `max` peers, checked against the layout of the entries C filled.
pub fn peers(n: *mut NnNode, max: usize) -> Result<Vec<NnNodePeer>, String> {
    const CAP: usize = 128;
    let max = max.min(CAP);
    let mut g = Guarded::<NnNodePeer, CAP>::new();
    // SAFETY: g holds CAP >= max entries.
    let k = unsafe { nn_node_peers(n, g.ptr(), max) };
    if k > max {
        return Err(layout_error(
            "nn_node_peer_t",
            "nn_node_peers() returned more entries than asked for",
        ));
    }
    // C memsets each entry it fills: the entry after the last one filled must be untouched
    // (else the C struct is larger), and the end of each filled one written (else smaller;
    // on LP64 its last 4 bytes are padding after path, zero after the memset).
    if !g.guard_intact() || (k < CAP && g.bytes(k).iter().any(|&b| b != FILL)) {
        return Err(layout_error(
            "nn_node_peer_t",
            "C wrote past the entries it filled: the C struct is larger",
        ));
    }
    if (0..k).any(|i| g.bytes(i)[size_of::<NnNodePeer>() - 4..].iter().any(|&b| b != 0)) {
        return Err(layout_error(
            "nn_node_peer_t",
            "C left the end of an entry unwritten: the C struct is smaller",
        ));
    }
    let mut out = Vec::with_capacity(k);
    for i in 0..k {
        // SAFETY: integers and char arrays only.
        let p: NnNodePeer = unsafe { std::ptr::read(g.ptr().add(i)) };
        let ok = cstr_field(&p.node_id).is_some_and(|s| s.is_empty() || is_hex_id(s))
            && cstr_field(&p.addr).is_some()
            && cstr_field(&p.path).is_some()
            && (p.outbound == 0 || p.outbound == 1)
            && (p.stem_relay == 0 || p.stem_relay == 1);
        if !ok {
            return Err(layout_error(
                "nn_node_peer_t",
                "nn_node_peers() filled implausible values",
            ));
        }
        out.push(p);
    }
    Ok(out)
}

impl NnError {
    pub fn new() -> Self {
        NnError {
            code: NN_OK,
            message: [0; 256],
        }
    }
    /// The message, or the code's description if the message is empty.
    pub fn text(&self) -> String {
        match cstr_field(&self.message) {
            Some(m) if !m.is_empty() => m.to_string(),
            // SAFETY: nn_err_str never returns NULL.
            _ => cstr_ptr(unsafe { nn_err_str(self.code) }),
        }
    }
}
