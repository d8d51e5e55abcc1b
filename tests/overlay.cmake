# Tor and I2P (issue 14), each local protocol's core against scripted daemons: SOCKS5 (isolation
# credentials, onion names, Tor's extended errors, every malformed answer), Tor's control port
# (each authentication, ADD_ONION with a new and a kept key, GETINFO, malformed replies), and
# SAM v3.1 (sessions, streams, lookups, .b32.i2p names, refusals).
nepnet_test(test_socks5)
nepnet_test(test_torctl)
nepnet_test(test_sam)
# The overlay cores against a real tor: a private Tor network on loopback (tor_privnet.sh: 3
# authorities, 3 relays, 2 clients), an onion service created over client 0's control port
# (SAFECOOKIE), reached through client 1's SOCKS port, and re-created from its saved key at the
# same address. Skipped (77) without tor.
add_executable(tor_probe tor_probe.c)
target_link_libraries(tor_probe PRIVATE nepnet)
add_test(NAME tor_onion_probe COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tor_probe.sh $<TARGET_FILE:tor_probe>)
set_tests_properties(tor_onion_probe PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
# The SAM core against real i2pd routers: a private I2P network (i2p_privnet.sh: 8 routers on
# 198.18.0.N, root), a persistent and a transient session, a lookup, a stream both ways.
add_executable(sam_probe sam_probe.c)
target_link_libraries(sam_probe PRIVATE nepnet)
add_test(NAME i2p_sam_probe COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/sam_probe.sh $<TARGET_FILE:sam_probe>)
set_tests_properties(i2p_sam_probe PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
# nepnetd over real tor (PROTOCOL.md 11): on a private Tor network, a dual-stack node's onion
# service, a tor-only node (another user, password auth) that reaches it, transactions both ways,
# the same .onion after a restart, and a capture of every packet the tor-only node sent (all to
# its tor). Root; skipped (77) without root or tor.
if(TARGET nepnetd)
  add_test(NAME cli_tor COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_tor.sh $<TARGET_FILE:nepnetd>
                               $<TARGET_FILE:nepnet-cli>)
  set_tests_properties(cli_tor PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
endif()
# nepnetd over real i2pd (PROTOCOL.md 11.5): on a private I2P network, a node with a persistent
# destination (key kept 0600) and an I2P-only node that looks it up and connects through another
# router; transactions both ways. Root; skipped (77) without root or i2pd.
if(TARGET nepnetd)
  add_test(NAME cli_i2p COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_i2p.sh $<TARGET_FILE:nepnetd>
                               $<TARGET_FILE:nepnet-cli>)
  set_tests_properties(cli_i2p PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
endif()
