#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/fuzz_net.c (its header documents the input format).

    python3 fuzz/gen_fuzz_net.py [DIR]      (default: fuzz/corpus/fuzz_net next to this file)
"""
import os
import struct
import sys

# manager config bytes (CFG a, b)
MAX256, MAX4K, MAX64K = 1, 2, 3
ANON, REQ_ID, NO_ID, QUEUE2, IDLE1, COOKIE = 4, 8, 0x10, 0x20, 0x40, 0x80
TIGHT, REKEY, LINGER1, HS_OUT2, HS_IN2, NO_LISTEN = 1, 2, 4, 8, 0x10, 0x20
TEN_AB, TEN_A, TEN_NONE, TEN_ABC = 0, 0x40, 0x80, 0xC0
# flags
THREE, PEER_ADDRS, COARSE, SMALL_PIPES, IP = 1, 2, 4, 8, 16


def hdr(seed=1, flags=0, cfgs=((0, 0), (0, 0))):
    b = struct.pack(">IB", seed, flags)
    for a, c in cfgs:
        b += bytes([a, c])
    return b


def T(mgr, i2p=0, v4=0, idm=1, v6=0, reps=0):
    """A dial target byte: manager (3 = nowhere), I2P, IPv4 or IPv6, expected id mode, and
    repeats (0..3: 1, 2, 8, 70 dials)."""
    if v6:
        i2p, v4 = 1, 1
    return mgr | i2p << 2 | v4 << 3 | idm << 4 | reps << 6


def P(handle):
    return (handle + 1) % 18


def dial(m, t, p=0):
    return bytes([0, m, t, P(p)])


def send(m, c, kind, n):
    """c: channel selector byte; kind: raw kind (encoded as 0xa0 + raw); n: length byte."""
    k = bytes([(kind - 0x10) % 0x40]) if 0x10 <= kind < 0x50 else bytes([0xA0, kind])
    ln = bytes(n) if isinstance(n, (bytes, list, tuple)) else bytes([n])
    return bytes([1, m, c]) + k + ln


def close(m, c, reason=0):
    return bytes([2, m, c, reason])


def hold(m, c, handle, on=1):
    return bytes([3, m, c, P(handle) | on << 7])


def register(m, rng):
    return bytes([4, m, rng])


def unregister(m, handle):
    return bytes([5, m, P(handle)])


def penalize(m, c, pts):
    return bytes([6, m, c, pts & 0xFF])


def turns(n):
    return bytes([7, (n - 1) % 16])


def quiet():
    return bytes([8, 0])


def restart(m, a=0, b=0, free_only=0):
    return bytes([9, m | free_only << 7, a, b])


def react(m, handle, on, action, arg=0, persistent=0):
    return bytes([10, m, P(handle), on | action << 3 | persistent << 7, arg])


UP, MSG, DOWN = 1, 2, 4
A_CLOSE, A_SEND, A_HOLD, A_UNREG_SELF, A_UNREG, A_REG, A_REPLACE, A_CLOSE_OTHER, A_DIAL, A_PENALIZE, A_SEND_OTHER = range(11)


def fault(m, w, kind, pos=0, bit=0):
    return bytes([11, m, w, kind | bit << 1]) + struct.pack(">H", pos)


def wait(ms):
    return bytes([12, ms - 1])


def policy(m, ban_out=0, ban_in=0, none=0):
    return bytes([13, m, ban_out | ban_in << 1 | none << 2])


def each_close(m, mask):
    return bytes([14, m, mask])


def burst(m, c, n):
    return bytes([15, m, c, n])


def raw(serial):
    return 0x80 | serial


SEEDS = {}

# Established channels over both fake transports, messages of each tenant's kinds both ways, an
# orderly close of one, then the other's manager goes.
SEEDS["two_transports"] = (
    hdr(1)
    + dial(1, T(0)) + dial(1, T(0, i2p=1), 1) + quiet()
    + send(1, 0, 0x11, 20) + send(1, 1, 0x2A, 3) + send(0, 0, 0x12, 200) + send(0, 1, 0x21, 0xE3)
    + burst(1, 0, 7) + quiet()
    + close(1, 0) + quiet() + restart(0, free_only=1) + quiet()
)

# A kind nobody registered (0x30, 0x99) closes the channel at the receiver; the sender sees it.
SEEDS["unknown_kind"] = (
    hdr(2)
    + dial(1, T(0)) + quiet() + send(1, 0, 0x11, 12) + send(1, 0, 0x30, 12) + send(1, 0, 0x11, 12)
    + quiet()
    + dial(1, T(0, i2p=1, idm=0)) + quiet() + send(0, 1, 0x99, 1) + quiet()
)

# Empty messages, zero and unknown handles, sends on a half-open inbound channel.
SEEDS["empty_and_unknown_handles"] = (
    hdr(3)
    + dial(1, T(0)) + send(1, 0, 0x11, 0) + turns(2) + send(0, raw(1), 0x11, 5) + turns(1) + send(0, raw(1), 0x11, 5)
    + send(0, raw(0), 0x11, 5) + send(0, 0xFF, 0x11, 5) + send(0, raw(0x50), 0x11, 5)
    + quiet() + send(1, 0, 0x11, 0) + send(0, 0, 0x11, 0) + close(1, raw(9)) + hold(1, raw(0), 0)
    + penalize(1, raw(7), 5) + penalize(0, 0, 3) + penalize(0, 0, -3) + quiet()
)

# Closes in every state: dialling, handshaking (outbound and inbound), open, lingering, gone.
SEEDS["close_every_state"] = (
    hdr(4, 0, ((0, 0), (0, 0)))
    + dial(1, T(0)) + close(1, raw(1)) + quiet()
    + dial(1, T(0)) + turns(3) + close(1, raw(2), 7) + quiet()
    + dial(1, T(0)) + turns(4) + close(0, raw(2), 3) + turns(2) + quiet()
    + dial(1, T(0, i2p=1)) + quiet() + close(1, raw(4)) + close(1, raw(4)) + turns(1) + close(1, raw(4))
    + send(1, raw(4), 0x11, 4) + quiet() + close(1, raw(4)) + close(0, raw(3))
)

# Tenants unregister and register at run time: kinds move, a freed handle is reused, an overlap
# is refused, 16 tenants fill the table.
SEEDS["reregister"] = (
    hdr(5, 0, ((0, TEN_ABC), (0, 0)))
    + dial(1, T(0)) + quiet() + send(1, 0, 0x31, 9) + quiet()
    + dial(1, T(0, i2p=1)) + quiet()
    + unregister(0, 0) + send(1, 1, 0x21, 9) + turns(6) + send(1, 1, 0x11, 9) + quiet()
    + register(0, 6) + register(0, 0) + register(0, 0) + register(0, 9) + register(0, 7)
    + register(0, 3) + register(0, 4) + register(0, 5) + register(0, 8) + register(0, 10) + register(0, 11)
    + unregister(0, 2) + register(0, 2) + unregister(0, 17 - 1) + unregister(0, -1)
    + quiet()
)

# A tenant replaced from inside another tenant's on_down: the newcomer never heard of the channel.
SEEDS["replace_in_on_down"] = (
    hdr(6)
    + dial(1, T(0)) + quiet() + react(0, 0, DOWN, A_REPLACE, 1) + close(1, 0) + quiet()
)

# The pre-handshake queue: bounded (queue_max 2), delivered in order; a queued message too long
# for the peer (max_message 256) is dropped at the handshake; TOO_LONG once open.
SEEDS["queue_and_sizes"] = (
    hdr(7, 0, ((MAX256, 0), (QUEUE2, 0)))
    + dial(1, T(0)) + send(1, 0, 0x11, 40) + send(1, 0, 0x12, [0xFE, 3 * 4]) + send(1, 0, 0x13, 5)
    + quiet() + send(1, 0, 0x11, [0xFE, 3 * 2]) + send(1, 0, 0x11, [0xFE, 3 * 1]) + send(1, 0, 0x11, [0xFE, 3 * 3])
    + send(0, 0, 0x11, 0xF5) + send(0, 0, 0x2F, 0xE5) + quiet()
)

# The idle cap (max_idle_outbound 1): the least recently used unheld channel closes first.
SEEDS["idle_cap"] = (
    hdr(8, 0, ((0, 0), (IDLE1, 0)))
    + dial(1, T(0)) + dial(1, T(0, i2p=1)) + quiet() + hold(1, raw(1), 0) + send(1, raw(2), 0x11, 3)
    + dial(1, T(0)) + quiet() + hold(1, raw(1), 0, 0) + dial(1, T(3)) + quiet()
)

# A cookie round on every inbound handshake, anonymous dials, an identity required, a wrong id.
SEEDS["cookies_and_ids"] = (
    hdr(9, THREE, ((COOKIE | REQ_ID, 0), (ANON, 0), (0, 0)))
    + dial(1, T(0)) + dial(2, T(0, idm=2)) + dial(2, T(0, i2p=1, idm=0)) + dial(1, T(2, idm=3)) + quiet()
    + send(2, 0, 0x22, 30) + quiet()
)

# Admission with peer addresses: tight limits refuse the second stream; bans both ways.
SEEDS["admission"] = (
    hdr(10, PEER_ADDRS, ((0, TIGHT), (0, 0)))
    + dial(1, T(0)) + dial(1, T(0, i2p=1)) + quiet()
    + policy(0, ban_in=1) + dial(1, T(0)) + quiet() + policy(1, ban_out=1) + dial(1, T(0)) + quiet()
)

# Three managers: dials to nowhere, to an IPv4 address (no transport), bad handles; a manager
# restarted with channels up; a dial to a manager that was freed; restarts with other configs.
SEEDS["restart"] = (
    hdr(11, THREE, ((0, 0), (0, TEN_A), (NO_ID, 0)))
    + dial(1, T(3)) + dial(1, T(0, v4=1)) + dial(1, T(0), 16) + dial(1, T(0), -1) + dial(2, T(0)) + quiet()
    + dial(1, T(0)) + quiet() + send(1, 0, 0x11, 8) + restart(0, MAX4K, REKEY) + quiet()
    + restart(2, free_only=1) + dial(1, T(2)) + quiet() + restart(2, 0, NO_LISTEN) + dial(1, T(2)) + quiet()
)

# A listening manager freed before it got to accept a dial (the pipe transport must close the
# stream it never handed over).
SEEDS["free_before_accept"] = (
    hdr(12) + dial(1, T(0)) + restart(0) + quiet() + dial(1, T(0)) + turns(1) + restart(0, free_only=1) + quiet()
)

# Faults on the streams: a flipped byte (AUTH close, penalty) and a reset.
SEEDS["faults"] = (
    hdr(13)
    + dial(1, T(0)) + quiet() + send(1, 0, 0x11, 100) + fault(0, 0, 0, 0x8000, 3) + quiet()
    + dial(1, T(0, i2p=1)) + quiet() + send(0, 1, 0x11, 10) + fault(1, 1, 1) + send(0, 1, 0x11, 10) + quiet()
)

# Tenants that call back from their callbacks: reply to messages, close on up, dial on down.
SEEDS["reactions"] = (
    hdr(14, THREE, ((0, 0), (0, 0), (0, 0)))
    + react(0, 0, MSG, A_SEND, 0x05, 1) + react(1, 1, UP, A_HOLD, 1) + react(1, 0, DOWN, A_DIAL, T(2))
    + react(2, 0, UP, A_REG, 2)
    + dial(1, T(0)) + quiet() + send(1, 0, 0x11, 4) + send(1, 0, 0x11, 4) + quiet()
    + react(0, 1, UP | MSG, A_CLOSE, 0) + send(1, 0, 0x21, 4) + quiet()
    + react(2, 1, DOWN, A_UNREG_SELF) + react(2, 0, UP, A_PENALIZE, 4)
    + dial(1, T(2)) + quiet() + each_close(2, 0xFF) + quiet()
)

# Timers: 2 ms handshake timeouts, 1 ms linger, real waits.
SEEDS["timers"] = (
    hdr(15, 0, ((0, HS_IN2 | LINGER1), (0, HS_OUT2 | LINGER1)))
    + dial(1, T(0)) + wait(4) + quiet() + dial(1, T(0, i2p=1)) + turns(2) + wait(4) + quiet()
    + close(0, 0) + turns(3) + wait(2) + quiet()
)

# Coarse loop turns, rekeying and padding, 64 KiB messages.
SEEDS["coarse_rekey"] = (
    hdr(16, COARSE, ((MAX64K, REKEY), (0, REKEY)))
    + dial(1, T(0)) + turns(1) + turns(1) + turns(1) + send(1, 0, 0x15, [0xFE, 2 + 3 * 2]) + turns(1)
    + send(1, 0, 0x15, [0xFE, 2 + 3 * 3]) + burst(1, 0, 7) + burst(0, 0, 5) + quiet()
)

# Back-pressure: 4 KiB pipes, max_output 16 KiB, messages of 64 KiB and 300 KB both ways; one end
# closes while the other still sends more than a lingering end discards (1 MiB).
SEEDS["backpressure"] = (
    hdr(17, SMALL_PIPES)
    + dial(1, T(0)) + quiet() + send(1, 0, 0x11, 0xFD) + turns(5) + send(0, 0, 0x12, 0xFD) + quiet()
    + send(1, 0, 0x13, 0xFF) + send(0, 0, 0x14, 0xFF) + turns(16) + quiet()
    + dial(1, T(0, i2p=1)) + quiet() + close(0, raw(2)) + send(1, raw(2), 0x11, 0xFF) + send(1, raw(2), 0x11, 0xFF)
    + send(1, raw(2), 0x11, 0xFF) + send(1, raw(2), 0x11, 0xFF) + quiet()
)

# Lingering: the other end keeps sending after a close; 1.2 MB to discard (default pipes).
SEEDS["linger_discard"] = (
    hdr(18)
    + dial(1, T(0)) + quiet() + close(0, raw(1)) + send(1, raw(1), 0x11, 0xFF) + send(1, raw(1), 0x11, 0xFF)
    + send(1, raw(1), 0x11, 0xFF) + send(1, raw(1), 0x11, 0xFF) + quiet()
)

# IPv4 and IPv6 pipes with peer addresses: the per-address table (one entry at most: a second
# address is admitted untracked, with a cookie), rate limits, bans; no policy at all.
SEEDS["ip_admission"] = (
    hdr(19, IP | PEER_ADDRS | THREE, ((0, TIGHT), (0, 0), (0, 0)))
    + dial(1, T(0, v4=1)) + dial(2, T(0, v6=1)) + quiet() + dial(1, T(0, v4=1)) + quiet()
    + policy(0, none=1) + policy(1, ban_out=1, none=1) + dial(1, T(2, v6=1)) + quiet()
)

# Many dials to nowhere at once: 140 channels grow the manager's hash table; handles share
# buckets.
SEEDS["dial_storm"] = (
    hdr(20)
    + dial(1, T(3, reps=3)) + dial(1, T(0, v4=1, reps=3)) + dial(1, T(3, i2p=1, reps=3)) + turns(3)
    + close(1, 5) + close(1, 70) + hold(1, 66, 0) + quiet()
)

# Sixteen tenants: the table is full; single kinds; a full range refused over them.
SEEDS["sixteen_tenants"] = (
    hdr(21, 0, ((0, TEN_ABC), (0, 0)))
    + b"".join(register(0, 0x80 + i) for i in range(14)) + register(0, 7) + unregister(0, 15)
    + register(0, 0x99) + dial(1, T(0)) + quiet() + send(1, 0, 0x85, 3) + send(1, 0, 0x90, 3) + quiet()
)

# Callbacks from inside nn_net_register: the new tenant's on_up (armed before it exists)
# unregisters it, registers another tenant (nested), closes the channel, sends on it.
SEEDS["register_reentry"] = (
    hdr(22)
    + dial(1, T(0)) + dial(1, T(0, i2p=1)) + quiet()
    + react(0, 2, UP, A_UNREG_SELF) + register(0, 2)
    + react(0, 2, UP, A_REG, 3, 1) + react(0, 3, UP, A_CLOSE, 0) + register(0, 2)
    + react(0, 4, UP, A_SEND, 0x05, 1) + register(0, 4) + quiet()
)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_net")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
