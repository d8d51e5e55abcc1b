# The node layer in one process: settings, nodes in one event loop.
nepnet_test(test_node)
nepnet_test(test_config)
# nepnetd end to end: settings and their errors, start, API files, status/send, SIGTERM.
if(TARGET nepnetd)
  add_test(NAME cli_nepnetd COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_nepnetd.sh $<TARGET_FILE:nepnetd> $<TARGET_FILE:nepnet-cli>)
endif()
