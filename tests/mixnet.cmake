# The mixnet (issue 12): the packet format and its payload cipher, with the vectors of
# docs/PROTOCOL.md section 9, which the document must quote.
nepnet_test(test_sphinx)
target_compile_definitions(test_sphinx PRIVATE NEPNET_DOC_DIR="${PROJECT_SOURCE_DIR}/docs")
# The mix core in virtual time, and with a real pool of worker threads.
nepnet_test(test_mix)
# Messages as packet bodies with forward error correction, and their reassembly (PROTOCOL.md 9.6).
nepnet_test(test_frag)
target_compile_definitions(test_frag PRIVATE NEPNET_DOC_DIR="${PROJECT_SOURCE_DIR}/docs")
# Mix descriptors and the directory (PROTOCOL.md 9.7).
nepnet_test(test_dir)
target_compile_definitions(test_dir PRIVATE NEPNET_DOC_DIR="${PROJECT_SOURCE_DIR}/docs")
# The client's streams, routes and loops against real mix cores in virtual time.
nepnet_test(test_client)
# The mixnet's channel messages (PROTOCOL.md 9.9).
nepnet_test(test_mxmsg)
target_compile_definitions(test_mxmsg PRIVATE NEPNET_DOC_DIR="${PROJECT_SOURCE_DIR}/docs")
