# Mixnet parsers: a mix hop on any bytes (each input costs a hybrid decapsulation or three).
nepnet_fuzzer(fuzz_sphinx 3000 60000)
# The exit's reassembly on any sequence of bodies.
nepnet_fuzzer(fuzz_reasm 20000 150000)
# Mix descriptors (each genuine-looking input costs an ML-DSA-87 verification).
nepnet_fuzzer(fuzz_mixdesc 3000 20000)
# The mixnet's channel messages.
nepnet_fuzzer(fuzz_mxmsg 20000 2000000)
