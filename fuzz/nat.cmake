# NAT traversal: STUN messages (RFC 8489) from anyone who can send us a datagram.
nepnet_fuzzer(fuzz_stun 20000 1000000)
# Relayed circuits: scripts of messages from four channels against a relay with small budgets.
nepnet_fuzzer(fuzz_relay 20000 100000)
# The TURN client: a hostile server's bytes on the control connection and on data connections
# waiting for their ConnectionBind answer, with time passing.
nepnet_fuzzer(fuzz_turn 20000 200000)
