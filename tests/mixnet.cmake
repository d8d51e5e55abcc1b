# The mixnet (issue 12): the packet format and its payload cipher, with the vectors of
# docs/PROTOCOL.md section 9, which the document must quote.
nepnet_test(test_sphinx)
target_compile_definitions(test_sphinx PRIVATE NEPNET_DOC_DIR="${PROJECT_SOURCE_DIR}/docs")
# The mix core in virtual time, and with a real pool of worker threads.
nepnet_test(test_mix)
