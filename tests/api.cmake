# The control API (src/node/api.c) against a fake node over real sockets on 127.0.0.1 and a Unix
# socket: submit, poll, long poll, streams, auth, bad input, token file, listen addresses.
nepnet_test(test_api)
set_tests_properties(test_api PROPERTIES TIMEOUT 300)
