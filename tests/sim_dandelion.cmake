# `nepnet sim dandelion`: the first-spy simulator over real Dandelion++ cores (small network).
nepnet_test(test_sim_dandelion)
target_link_libraries(test_sim_dandelion PRIVATE nepnet_sim)
# `nepnet sim dandelion --model reference`: the paper's simulation setting lands on the authors'
# figures, and models of something else do not.
nepnet_test(test_sim_dandelion_ref)
target_link_libraries(test_sim_dandelion_ref PRIVATE nepnet_sim)
# The same through the command line: its output, and the errors that name a flag and the fix.
add_test(NAME cli_sim_dandelion_ref
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_sim_dandelion_ref.sh $<TARGET_FILE:nepnet-cli>)
