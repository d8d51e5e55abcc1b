# Discovery (DHT) parsers.
nepnet_fuzzer(fuzz_dht_record 3000 60000) # a decodable input costs an ML-DSA-87 verification (~0.3 ms)
nepnet_fuzzer(fuzz_dht_rpc 5000 25000)
