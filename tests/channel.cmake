# The adversarial channel suites share their fixtures (set-ups, expected end states).
add_library(nn_chantest STATIC chantest.c)
target_link_libraries(nn_chantest PUBLIC nepnet nn_testvec PkgConfig::CMOCKA)

# The handshake and the channel as a whole; the record layer; the DoS cookies.
foreach(t test_channel test_record test_cookie)
  nepnet_test(${t})
  target_link_libraries(${t} PRIVATE nn_chantest)
endforeach()
