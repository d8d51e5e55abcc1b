# NAT traversal (issue 13): STUN messages against RFC 5769's vectors.
nepnet_test(test_stun)
# NAT behaviour discovery (RFC 5780) against the STUN server core through a model NAT of every
# mapping and filtering behaviour; the server's budgets and errors.
nepnet_test(test_natdisc)
# STUN with coturn (a real, independent implementation), both ways, on loopback.
if(TARGET nepnetd)
  add_test(NAME cli_nat_coturn COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_nat_coturn.sh $<TARGET_FILE:nepnet-cli>
                                       $<TARGET_FILE:nepnetd>)
else()
  add_test(NAME cli_nat_coturn COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_nat_coturn.sh $<TARGET_FILE:nepnet-cli>)
endif()
set_tests_properties(cli_nat_coturn PROPERTIES TIMEOUT 120)
# Through real NATs: network namespaces with iptables/nftables routers of each behaviour (full,
# restricted and port-restricted cone, symmetric, double NAT); needs root (skipped without).
add_test(NAME cli_nat_netns COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_nat_netns.sh $<TARGET_FILE:nepnet-cli>)
set_tests_properties(cli_nat_netns PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77)
# nn_delay: latency for the namespace tests (netem is missing here), through NFQUEUE; a test tool
# built when Debian's libnetfilter-queue-dev is installed (bench/bench_punch_latency.sh uses it).
pkg_check_modules(NFQUEUE IMPORTED_TARGET libnetfilter_queue)
if(NFQUEUE_FOUND)
  add_executable(nn_delay nn_delay.c)
  target_link_libraries(nn_delay PRIVATE PkgConfig::NFQUEUE)
endif()
# Relayed circuits: the messages, the relay's core and its budgets, three nodes in one loop.
nepnet_test(test_relay)
target_link_libraries(test_relay PRIVATE nn_nodeloop)
target_compile_definitions(test_relay PRIVATE NEPNET_DOC_DIR="${PROJECT_SOURCE_DIR}/docs")
# The 5x5 matrix through real NATs in network namespaces: every pair of NAT types connects (a
# relayed channel, then a hole punch where RFC 5780 says one can work) and exchanges a
# transaction; needs root (skipped without).
# With nn_delay built, each router holds packets 5 ms (round trips of 10-20 ms), so the punches
# race real latency; bench/bench_punch_latency.sh runs larger delays.
if(TARGET nepnetd AND TARGET nn_delay)
  add_test(NAME cli_nat_matrix COMMAND ${CMAKE_COMMAND} -E env NN_DELAY_MS=5 NN_DELAY_TOOL=$<TARGET_FILE:nn_delay> bash
                                       ${CMAKE_CURRENT_SOURCE_DIR}/cli_nat_matrix.sh $<TARGET_FILE:nepnetd>
                                       $<TARGET_FILE:nepnet-cli>)
elseif(TARGET nepnetd)
  add_test(NAME cli_nat_matrix COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_nat_matrix.sh $<TARGET_FILE:nepnetd>
                                       $<TARGET_FILE:nepnet-cli>)
endif()
if(TARGET nepnetd)
  set_tests_properties(cli_nat_matrix PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
  if(NEPNET_SANITIZE)
    set_property(TEST cli_nat_matrix APPEND PROPERTY ENVIRONMENT NN_SANITIZED=1)
  endif()
endif()
# TURN (RFC 8656, TCP relaying RFC 6062): the client core against a scripted server (credentials,
# forged answers, Connect and ConnectionBind, timeouts, garbage).
nepnet_test(test_turn)
# TURN against coturn through a firewall that lets out nothing else: a node finds direct TCP
# failing, dials through coturn, reserves at a nepnet relay over it; transactions both ways;
# needs root (skipped without).
if(TARGET nepnetd)
  add_test(NAME cli_nat_turn COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_nat_turn.sh $<TARGET_FILE:nepnetd>
                                     $<TARGET_FILE:nepnet-cli>)
  set_tests_properties(cli_nat_turn PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
endif()
