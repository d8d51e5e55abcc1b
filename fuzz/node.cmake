# Node layer parsers: transaction gossip.
nepnet_fuzzer(fuzz_dlmsg 20000 3000000)
nepnet_fuzzer(fuzz_dandelion 20000 30000)
