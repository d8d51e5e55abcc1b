# Signed peer records (src/dht/record.c, docs/PROTOCOL.md section 6).
nepnet_test(test_dht_record)
target_compile_definitions(test_dht_record PRIVATE NEPNET_DOC_DIR="${PROJECT_SOURCE_DIR}/docs")
