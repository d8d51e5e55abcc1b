# The DHT node core, its RPC codec, and small whole networks in the simulator.
nepnet_test(test_dht)
target_link_libraries(test_dht PRIVATE nepnet_sim)
