# The node layer in one process: settings, nodes in one event loop.
add_library(nn_nodeloop STATIC nodeloop.c)
target_link_libraries(nn_nodeloop PUBLIC nepnet PkgConfig::CMOCKA)
nepnet_test(test_node)
# The own-transaction timeline (issue 17): steps of ours only, states, caps, expiry.
nepnet_test(test_owntx)
target_link_libraries(test_node PRIVATE nn_nodeloop nn_pipe)
# The mixnet in nodes: directory flooding, a transaction through mixes to every node, restarts.
nepnet_test(test_mixnode)
target_link_libraries(test_mixnode PRIVATE nn_nodeloop)
nepnet_test(test_config)
# nepnetd end to end: settings and their errors, start, API files, status/send, SIGTERM.
if(TARGET nepnetd)
  add_test(NAME cli_nepnetd COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_nepnetd.sh $<TARGET_FILE:nepnetd> $<TARGET_FILE:nepnet-cli>)
  # Issue 18: cmake --install, the exported symbols, C consumers through pkg-config and find_package.
  if(NOT NEPNET_SANITIZE)
    add_test(NAME install COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/install.sh ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR})
    set_tests_properties(install PROPERTIES TIMEOUT 300)
    # The Debian packages: built, lintian-clean, unpacked into an empty root and run.
    add_test(NAME package COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/package.sh ${PROJECT_SOURCE_DIR})
    set_tests_properties(package PROPERTIES TIMEOUT 1200 RUN_SERIAL TRUE)
  endif()
  # Issue 17 from the command line: send --follow, tx ID, devnet trace, peers, status --watch, ui.
  add_test(NAME cli_timeline COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_timeline.sh $<TARGET_FILE:nepnetd> $<TARGET_FILE:nepnet-cli>)
  set_tests_properties(cli_timeline PROPERTIES TIMEOUT 300)
  # Issue 17: the status page in a real browser (chromium-headless-shell + playwright-core).
  add_test(NAME cli_ui COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_ui.sh $<TARGET_FILE:nepnetd> $<TARGET_FILE:nepnet-cli>
                               ${CMAKE_BINARY_DIR}/test-artifacts)
  set_tests_properties(cli_ui PROPERTIES TIMEOUT 300)
endif()
# The hostile suite (issue 10): the hardening issue's attacks against a real nepnetd, each with
# its memory bound and legitimate peers connecting during the attack. Under the sanitizers the
# node's memory is the sanitizer's, so only the behaviour is checked there.
if(TARGET nepnetd)
  add_executable(hostile hostile/hostile.c hostile/hostile_lib.c)
  target_link_libraries(hostile PRIVATE nepnet nepnet_tools PkgConfig::JANSSON)
  if(NEPNET_SANITIZE)
    add_test(NAME hostile COMMAND hostile --no-memory-bounds $<TARGET_FILE:nepnetd>)
  else()
    add_test(NAME hostile COMMAND hostile $<TARGET_FILE:nepnetd>)
  endif()
  set_tests_properties(hostile PROPERTIES TIMEOUT 900 RUN_SERIAL TRUE)
endif()
