# The connection manager (src/net): channels over two in-memory transports and TCP, unknown
# kinds, bans before the handshake, tenants at run time, the idle cap.
add_library(nn_pipe STATIC pipe_transport.c)
target_link_libraries(nn_pipe PUBLIC nepnet)
nepnet_test(test_net)
target_link_libraries(test_net PRIVATE nn_pipe)
