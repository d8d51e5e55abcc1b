# The node: broadcast latency on a devnet of nepnetd processes, idle RSS and CPU.
if(TARGET nepnetd)
  add_executable(bench_devnet bench_devnet.c)
  target_link_libraries(bench_devnet PRIVATE nepnet nepnet_tools)
  target_compile_definitions(bench_devnet PRIVATE NEPNET_NEPNETD="$<TARGET_FILE:nepnetd>")
  add_dependencies(bench_devnet nepnetd)
endif()
