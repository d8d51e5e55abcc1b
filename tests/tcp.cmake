# The libevent TCP driver: real sockets on 127.0.0.1 (handshakes, large messages, floods,
# slow loris, per-IP limits, cookies), and the listen/connect demo of the CLI end to end.
nepnet_test(test_tcp)
set_tests_properties(test_tcp PROPERTIES TIMEOUT 300)
add_test(NAME cli_channel COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_channel.sh $<TARGET_FILE:nepnet-cli>)
set_tests_properties(cli_channel PROPERTIES TIMEOUT 120)
