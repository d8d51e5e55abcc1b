# Secure-channel benchmarks (included from bench/CMakeLists.txt). Not CTest tests: they print
# ratios measured in the same run and never assert on time.
add_executable(bench_handshake bench_handshake.c)
target_link_libraries(bench_handshake PRIVATE nepnet Threads::Threads)

# OpenSSL's own TLS 1.3 is the baseline. nepnet::ssl first: CMake then places libssl.a before
# libcrypto.a on the link line (the other order leaves libssl's libcrypto symbols unresolved).
add_executable(bench_throughput bench_throughput.c)
target_link_libraries(bench_throughput PRIVATE nepnet::ssl nepnet Threads::Threads)

add_executable(bench_memory bench_memory.c)
target_link_libraries(bench_memory PRIVATE nepnet)
