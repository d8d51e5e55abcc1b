nepnet_test(test_peerstore)
