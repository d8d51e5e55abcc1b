# The connection manager (src/net/): hostile tenants and streams over the in-memory pipe
# transport of the tests, compiled into the harness (with coverage, under libFuzzer).
nepnet_fuzzer(fuzz_net 1000 500) # each input runs up to four real handshakes
target_sources(fuzz_net PRIVATE ${PROJECT_SOURCE_DIR}/tests/pipe_transport.c)
target_include_directories(fuzz_net PRIVATE ${PROJECT_SOURCE_DIR}/tests)
