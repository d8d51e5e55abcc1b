# `nepnet sim mixnet`: sender anonymity through Poisson mixes (small networks).
nepnet_test(test_sim_mixnet)
target_link_libraries(test_sim_mixnet PRIVATE nepnet_sim)
# The command line: a small run prints its table; an unknown preset names the flag and the choices.
add_test(NAME cli_sim_mixnet
         COMMAND $<TARGET_FILE:nepnet-cli> sim mixnet --clients 60 --per-layer 2 --txs 5 --delays 50
                 --covers low --sizes 2000,100000 --quiet)
set_tests_properties(cli_sim_mixnet PROPERTIES PASS_REGULAR_EXPRESSION "low +9\\.2 +50 .* 2000 +2 ")
add_test(NAME cli_sim_mixnet_bad_cover
         COMMAND $<TARGET_FILE:nepnet-cli> sim mixnet --covers off)
set_tests_properties(cli_sim_mixnet_bad_cover PROPERTIES
                     PASS_REGULAR_EXPRESSION "--covers: 'off' is not a cover preset: give low, standard or constant")
# --model reference: the Loopix authors' setting, their figure printed beside ours.
add_test(NAME cli_sim_mixnet_reference
         COMMAND $<TARGET_FILE:nepnet-cli> sim mixnet --model reference --delays 500 --cover-rates 0)
set_tests_properties(cli_sim_mixnet_reference PROPERTIES PASS_REGULAR_EXPRESSION "0 +500 +16\\.[0-9]+ +8\\.[23][0-9]+ \\+- [0-9.]+ +[0-9.]+ +8\\.289")
add_test(NAME cli_sim_mixnet_reference_bad_flag
         COMMAND $<TARGET_FILE:nepnet-cli> sim mixnet --model reference --covers low)
set_tests_properties(cli_sim_mixnet_reference_bad_flag PROPERTIES
                     PASS_REGULAR_EXPRESSION "--covers belongs to --model nepnet")
