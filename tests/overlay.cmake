# Tor and I2P (issue 14), each local protocol's core against scripted daemons: SOCKS5 (isolation
# credentials, onion names, Tor's extended errors, every malformed answer), Tor's control port
# (each authentication, ADD_ONION with a new and a kept key, GETINFO, malformed replies), and
# SAM v3.1 (sessions, streams, lookups, .b32.i2p names, refusals).
nepnet_test(test_socks5)
nepnet_test(test_torctl)
nepnet_test(test_sam)
