# The node: broadcast latency on a devnet of nepnetd processes, idle RSS and CPU.
if(TARGET nepnetd)
  add_executable(bench_devnet bench_devnet.c)
  target_link_libraries(bench_devnet PRIVATE nepnet nepnet_tools)
  target_compile_definitions(bench_devnet PRIVATE NEPNET_NEPNETD="$<TARGET_FILE:nepnetd>")
  add_dependencies(bench_devnet nepnetd)
endif()

# One nepnetd under a flood of handshakes from client processes: rate, cores used and CPU per
# handshake against the size of its worker pool; idle CPU and RSS.
if(TARGET nepnetd)
  add_executable(bench_listener bench_listener.c)
  target_link_libraries(bench_listener PRIVATE nepnet)
  target_compile_definitions(bench_listener PRIVATE NEPNET_NEPNETD="$<TARGET_FILE:nepnetd>")
  add_dependencies(bench_listener nepnetd)
endif()

# What a relay costs: wire bytes per payload byte and time, direct against relayed (issue 13).
add_executable(bench_relay bench_relay.c)
target_link_libraries(bench_relay PRIVATE nepnet)

# The secure channel over Tor against over TCP (issue 14): connect, RTT P50/P95/P99, bulk
# throughput, and a channel across a killed relay; bench_tor.sh starts the private Tor network.
add_executable(bench_tor bench_tor.c)
target_link_libraries(bench_tor PRIVATE nepnet)
# A full peer store for bench_ready.sh (start to READY with the stores at their caps).
add_executable(peerstore_fill peerstore_fill.c)
target_link_libraries(peerstore_fill PRIVATE nepnet)
