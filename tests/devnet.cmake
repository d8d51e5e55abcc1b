# 20 nepnetd processes on loopback: delivery, privacy over many runs, a black-holing relay,
# kill -9 during a broadcast.
if(TARGET nepnetd)
  nepnet_test(test_devnet)
  find_package(Threads REQUIRED)
  target_link_libraries(test_devnet PRIVATE Threads::Threads)
  target_compile_definitions(test_devnet PRIVATE NEPNET_NEPNETD="$<TARGET_FILE:nepnetd>"
                                                 NEPNET_CLI="$<TARGET_FILE:nepnet-cli>")
  add_dependencies(test_devnet nepnetd nepnet-cli)
  set_tests_properties(test_devnet PROPERTIES TIMEOUT 900 RUN_SERIAL TRUE)
endif()
# The mixnet on 30 nepnetd processes, 9 mixes: 2 MB through lossy mixes, packet sizes, the
# constant cover's rate with and without a transaction.
if(TARGET nepnetd)
  nepnet_test(test_devnet_mix)
  target_compile_definitions(test_devnet_mix PRIVATE NEPNET_NEPNETD="$<TARGET_FILE:nepnetd>")
  target_link_libraries(test_devnet_mix PRIVATE m)
  add_dependencies(test_devnet_mix nepnetd)
  set_tests_properties(test_devnet_mix PROPERTIES TIMEOUT 900 RUN_SERIAL TRUE)
endif()
