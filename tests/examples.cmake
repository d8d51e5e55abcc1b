# examples/: programs that embed libnepnet, built and run against a devnet.
#
# rust_embed: examples/rust-embed (a Rust program, standard library only, that links
# libnepnet.a, libsecp256k1 and OpenSSL's libcrypto statically and drives include/nepnet/node.h) built with
# `cargo build --offline` and with plain rustc, run against a devnet of 3 nepnetd nodes; passes
# once a devnet node received the transaction it submitted. Skipped (exit 77) without a Rust
# toolchain. Not in sanitizer builds: libnepnet.a would need the sanitizer runtimes in a
# program rustc links.
if(TARGET nepnetd AND TARGET nepnet-cli AND NOT NEPNET_SANITIZE)
  # the libcrypto the C build links: the static one of NEPNET_OPENSSL_PREFIX, else pkg-config's
  if(NEPNET_LIBCRYPTO)
    set(_rust_embed_crypto ${NEPNET_LIBCRYPTO})
  else()
    list(GET NEPNET_PC_CRYPTO_LINK_LIBRARIES 0 _rust_embed_crypto)
  endif()
  # and libsecp256k1: the static one bootstrap built, else the system's (an empty argument)
  set(_rust_embed_secp "${NEPNET_LIBSECP256K1}")
  add_test(NAME rust_embed
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/rust_embed.sh $<TARGET_FILE:nepnet-cli> $<TARGET_FILE:nepnetd>
                   $<TARGET_FILE_DIR:nepnet> "${_rust_embed_crypto}" ${PROJECT_SOURCE_DIR}/examples/rust-embed
                   ${CMAKE_CURRENT_BINARY_DIR}/rust-embed "${_rust_embed_secp}")
  # a devnet of nepnetd processes and a cold cargo build: alone, and with time
  set_tests_properties(rust_embed PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 RUN_SERIAL TRUE)
  # The same run waiting for an id nobody submitted must fail, and for that reason: a
  # transaction that never arrives fails rust_embed.
  add_test(NAME rust_embed_detects_missing_tx
           COMMAND ${CMAKE_COMMAND} -E env RUST_EMBED_WAIT_FOR_OTHER=1 RUST_EMBED_TX_TIMEOUT=10
                   bash ${CMAKE_CURRENT_SOURCE_DIR}/rust_embed.sh $<TARGET_FILE:nepnet-cli> $<TARGET_FILE:nepnetd>
                   $<TARGET_FILE_DIR:nepnet> "${_rust_embed_crypto}" ${PROJECT_SOURCE_DIR}/examples/rust-embed
                   ${CMAKE_CURRENT_BINARY_DIR}/rust-embed "${_rust_embed_secp}")
  set_tests_properties(rust_embed_detects_missing_tx PROPERTIES
                       SKIP_RETURN_CODE 77 TIMEOUT 300 RUN_SERIAL TRUE
                       PASS_REGULAR_EXPRESSION "FAIL: no devnet node received transaction [0-9a-f]+ within 10 s")
endif()
