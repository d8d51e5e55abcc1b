# Mixnet benchmarks (included from bench/CMakeLists.txt): ratios measured in the same run.
add_executable(bench_mix bench_mix.c)
target_link_libraries(bench_mix PRIVATE nepnet Threads::Threads)

# The mixnet on a devnet of nepnetd processes: delivery latency of 2 KB, 500 KB and 2 MB against
# the client's send rate, and the client's always-on cover.
if(TARGET nepnetd)
  add_executable(bench_mixnet bench_mixnet.c)
  target_link_libraries(bench_mixnet PRIVATE nepnet nepnet_tools)
  target_compile_definitions(bench_mixnet PRIVATE NEPNET_NEPNETD="$<TARGET_FILE:nepnetd>")
  add_dependencies(bench_mixnet nepnetd)
endif()
