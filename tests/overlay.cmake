# Tor and I2P (issue 14): the SOCKS5 client core against scripted proxies (isolation credentials,
# onion names, Tor's extended errors, every malformed answer).
nepnet_test(test_socks5)
nepnet_test(test_torctl)
