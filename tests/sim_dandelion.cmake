# `nepnet sim dandelion`: the first-spy simulator over real Dandelion++ cores (small network).
nepnet_test(test_sim_dandelion)
target_link_libraries(test_sim_dandelion PRIVATE nepnet_sim)
