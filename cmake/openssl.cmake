# Find OpenSSL >= 3.5 and expose it as nepnet::crypto (and nepnet::ssl for benchmarks).
#
# With NEPNET_OPENSSL_PREFIX (what ./bootstrap passes) the static libraries in that prefix are
# used and nothing else: Debian 12's libcrypto.so.3 is OpenSSL 3.0 under the same soname, so a
# dynamic link could silently load the wrong one. Without it, pkg-config's libcrypto must be 3.5+.

function(_nepnet_openssl_version header out)
  file(STRINGS "${header}" line REGEX "^# *define +OPENSSL_VERSION_TEXT")
  string(REGEX MATCH "OpenSSL ([0-9]+\\.[0-9]+\\.[0-9]+)" _ "${line}")
  set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

if(NEPNET_OPENSSL_PREFIX)
  find_path(NEPNET_OPENSSL_INCLUDE openssl/opensslv.h PATHS ${NEPNET_OPENSSL_PREFIX}/include NO_DEFAULT_PATH)
  find_library(NEPNET_LIBCRYPTO NAMES libcrypto.a PATHS ${NEPNET_OPENSSL_PREFIX}/lib ${NEPNET_OPENSSL_PREFIX}/lib64 NO_DEFAULT_PATH)
  find_library(NEPNET_LIBSSL NAMES libssl.a PATHS ${NEPNET_OPENSSL_PREFIX}/lib ${NEPNET_OPENSSL_PREFIX}/lib64 NO_DEFAULT_PATH)
  if(NOT NEPNET_OPENSSL_INCLUDE OR NOT NEPNET_LIBCRYPTO OR NOT NEPNET_LIBSSL)
    message(FATAL_ERROR "NEPNET_OPENSSL_PREFIX=${NEPNET_OPENSSL_PREFIX} holds no OpenSSL build "
                        "(need include/openssl/opensslv.h, lib/libcrypto.a, lib/libssl.a). Run ./bootstrap.")
  endif()
  set(_inc ${NEPNET_OPENSSL_INCLUDE})
  set(_crypto ${NEPNET_LIBCRYPTO} ${CMAKE_DL_LIBS} Threads::Threads)
  set(_ssl ${NEPNET_LIBSSL})
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(NEPNET_PC_CRYPTO libcrypto)
  pkg_check_modules(NEPNET_PC_SSL libssl)
  if(NOT NEPNET_PC_CRYPTO_FOUND)
    message(FATAL_ERROR "OpenSSL (libcrypto) not found. Run ./bootstrap, which builds OpenSSL 3.5 "
                        "into build/deps/openssl, or pass -DNEPNET_OPENSSL_PREFIX=<prefix>.")
  endif()
  find_path(_inc openssl/opensslv.h HINTS ${NEPNET_PC_CRYPTO_INCLUDE_DIRS})
  set(_crypto ${NEPNET_PC_CRYPTO_LINK_LIBRARIES})
  set(_ssl ${NEPNET_PC_SSL_LINK_LIBRARIES})
endif()

_nepnet_openssl_version("${_inc}/openssl/opensslv.h" NEPNET_OPENSSL_VERSION)
if(NOT NEPNET_OPENSSL_VERSION OR NEPNET_OPENSSL_VERSION VERSION_LESS 3.5)
  message(FATAL_ERROR "nepnet needs OpenSSL >= 3.5 (ML-KEM, ML-DSA); found '${NEPNET_OPENSSL_VERSION}' "
                      "in ${_inc}. Run ./bootstrap, which builds 3.5 from Debian 13's source package.")
endif()
message(STATUS "OpenSSL ${NEPNET_OPENSSL_VERSION}: ${_inc}")

add_library(nepnet::crypto INTERFACE IMPORTED)
target_include_directories(nepnet::crypto INTERFACE ${_inc})
target_link_libraries(nepnet::crypto INTERFACE ${_crypto})
add_library(nepnet::ssl INTERFACE IMPORTED)
target_link_libraries(nepnet::ssl INTERFACE ${_ssl} nepnet::crypto)
