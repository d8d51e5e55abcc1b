# Secure channel: the handshake messages as each side receives them, and the record layer.
nepnet_fuzzer(fuzz_hs_msg1 5000 8000) # valid inputs cost a real ML-DSA signature
nepnet_fuzzer(fuzz_hs_msg2 5000 8000)
nepnet_fuzzer(fuzz_hs_msg3 20000 40000)
nepnet_fuzzer(fuzz_record 20000 9000)
