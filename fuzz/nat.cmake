# NAT traversal: STUN messages (RFC 8489) from anyone who can send us a datagram.
nepnet_fuzzer(fuzz_stun 20000 1000000)
