# The connection manager (src/net): channels over two in-memory transports and TCP, unknown
# kinds, bans before the handshake, tenants at run time, the idle cap.
add_library(nn_pipe STATIC pipe_transport.c)
target_link_libraries(nn_pipe PUBLIC nepnet)
nepnet_test(test_net)
target_link_libraries(test_net PRIVATE nn_pipe)
# The same suite with every manager's handshake steps on a pool of worker threads (net.h,
# workers.h): the replay of what a channel reported on a worker must look the same to tenants.
add_test(NAME test_net_workers COMMAND test_net --workers 2)
nepnet_test(test_workers)
