# Layering (docs/ARCHITECTURE.md, "Layers"): no file includes a header of a higher layer. The link
# direction is checked by the build itself (layercheck_<layer>, cmake/layers.cmake).
add_test(NAME layering
         COMMAND ${CMAKE_COMMAND} -DROOT=${PROJECT_SOURCE_DIR} -P ${PROJECT_SOURCE_DIR}/tools/check_layers.cmake)
# The same check on a small tree with wrong includes (tests/layering_fixture/) must fail, naming
# them; the wrapper exits non-zero only then (see tests/layering_expect_violation.cmake).
add_test(NAME layering_detects_violation
         COMMAND ${CMAKE_COMMAND} -DCHECK=${PROJECT_SOURCE_DIR}/tools/check_layers.cmake
                 -DFIXTURE=${CMAKE_CURRENT_SOURCE_DIR}/layering_fixture
                 -DLAYERS_DOC=${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/layering_expect_violation.cmake)
set_tests_properties(layering_detects_violation PROPERTIES WILL_FAIL TRUE)
# One coding style across the tree (.clang-format): every C file as clang-format 14 writes it.
add_test(NAME format COMMAND bash ${PROJECT_SOURCE_DIR}/tools/format.sh --check)
set_tests_properties(format PROPERTIES SKIP_RETURN_CODE 77)
