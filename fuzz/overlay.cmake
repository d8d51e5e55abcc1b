# Tor and I2P: a hostile SOCKS5 proxy's answers, cut into reads anywhere.
nepnet_fuzzer(fuzz_socks5 20000 300000)
# ... and a hostile Tor control port: replies, data blocks, events, authentication answers.
nepnet_fuzzer(fuzz_torctl 20000 300000)
# ... and a hostile SAM bridge (I2P): sessions, streams, lookups.
nepnet_fuzzer(fuzz_sam 20000 300000)
