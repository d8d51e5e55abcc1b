# The gossip codec: PROTOCOL.md 8.3 vectors (the document must quote them) and bad input.
nepnet_test(test_dlmsg)
target_compile_definitions(test_dlmsg PRIVATE NEPNET_DOC_DIR="${PROJECT_SOURCE_DIR}/docs")
