nepnet_test(test_dandelion)
