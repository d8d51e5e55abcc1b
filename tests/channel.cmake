nepnet_test(test_channel)
