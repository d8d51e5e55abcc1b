# Mixnet benchmarks (included from bench/CMakeLists.txt): ratios measured in the same run.
add_executable(bench_mix bench_mix.c)
target_link_libraries(bench_mix PRIVATE nepnet Threads::Threads)
