# Mixnet parsers: a mix hop on any bytes (each input costs a hybrid decapsulation or three).
nepnet_fuzzer(fuzz_sphinx 3000 60000)
