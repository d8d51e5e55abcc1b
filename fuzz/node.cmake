# Node layer parsers: transaction gossip.
nepnet_fuzzer(fuzz_dlmsg)
nepnet_fuzzer(fuzz_dandelion)
