# The node layer in one process: gossip codec vectors, settings, nodes in one event loop.
nepnet_test(test_node)
target_compile_definitions(test_node PRIVATE NEPNET_DOC_DIR="${PROJECT_SOURCE_DIR}/docs")
