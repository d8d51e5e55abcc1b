nepnet_test(test_disco)
set_tests_properties(test_disco PROPERTIES TIMEOUT 600)
