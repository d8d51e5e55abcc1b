# Find libsecp256k1 >= 0.4 with its ElligatorSwift module and expose it as nepnet::secp256k1.
#
# With NEPNET_SECP256K1_PREFIX (what ./bootstrap passes on Debian 12, whose 0.2 has no ellswift)
# the static library in that prefix is used. Without it, pkg-config's libsecp256k1 (Debian 13's
# libsecp256k1-dev, 0.5) if it has secp256k1_ellswift.h, else build/deps/secp256k1 if bootstrap
# made it there.

set(NEPNET_SECP256K1_PREFIX "" CACHE PATH "Prefix of a libsecp256k1 >= 0.4 build with the ellswift module (static)")
set(_secp_prefix "${NEPNET_SECP256K1_PREFIX}")
if(NOT _secp_prefix)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(NEPNET_PC_SECP libsecp256k1>=0.4)
  if(NEPNET_PC_SECP_FOUND)
    find_path(_secp_inc secp256k1_ellswift.h HINTS ${NEPNET_PC_SECP_INCLUDE_DIRS})
    if(_secp_inc)
      set(_secp_libs ${NEPNET_PC_SECP_LINK_LIBRARIES})
    endif()
  endif()
  if(NOT _secp_inc AND EXISTS ${PROJECT_SOURCE_DIR}/build/deps/secp256k1/.complete)
    set(_secp_prefix ${PROJECT_SOURCE_DIR}/build/deps/secp256k1)
  endif()
endif()
if(_secp_prefix)
  find_path(NEPNET_SECP256K1_INCLUDE secp256k1_ellswift.h PATHS ${_secp_prefix}/include NO_DEFAULT_PATH)
  find_library(NEPNET_LIBSECP256K1 NAMES libsecp256k1.a PATHS ${_secp_prefix}/lib ${_secp_prefix}/lib64 NO_DEFAULT_PATH)
  if(NOT NEPNET_SECP256K1_INCLUDE OR NOT NEPNET_LIBSECP256K1)
    message(FATAL_ERROR "${_secp_prefix} holds no libsecp256k1 build with ElligatorSwift (need "
                        "include/secp256k1_ellswift.h and lib/libsecp256k1.a). Run ./bootstrap.")
  endif()
  set(_secp_inc ${NEPNET_SECP256K1_INCLUDE})
  set(_secp_libs ${NEPNET_LIBSECP256K1})
endif()
if(NOT _secp_inc)
  message(FATAL_ERROR "libsecp256k1 >= 0.4 with ElligatorSwift not found (Debian 12's 0.2 has none). "
                      "Run ./bootstrap, which builds Debian 13's source package into build/deps/secp256k1, "
                      "or pass -DNEPNET_SECP256K1_PREFIX=<prefix>.")
endif()
message(STATUS "libsecp256k1 (ElligatorSwift): ${_secp_inc}")

add_library(nepnet::secp256k1 INTERFACE IMPORTED)
target_include_directories(nepnet::secp256k1 INTERFACE ${_secp_inc})
target_link_libraries(nepnet::secp256k1 INTERFACE ${_secp_libs})
