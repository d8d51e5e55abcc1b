nepnet_test(test_dht_table)
