# One static library per layer, the umbrella libnepnet.a, and the link-direction checks.
#
# The layers and their order come from the block in docs/ARCHITECTURE.md (cmake/layer_order.cmake
# reads it; so does the include check, tools/check_layers.cmake). For each layer with sources:
#   nepnet_<layer>_obj   OBJECT library: its *.c files, compiled once (found again on every build,
#                        so a new file joins without editing anything)
#   nepnet_<layer>       STATIC library of those objects, linking only the layers below it that it
#                        uses (nepnet_layer_uses below) and its external libraries
#   layercheck_<layer>   an empty main() linked against the whole nepnet_<layer> archive and only
#                        what nepnet_<layer> links: an object that calls into a layer above (or
#                        into one it does not declare) fails the build with an undefined reference
# and `nepnet` (libnepnet.a), the one archive embedders, tests, benchmarks and fuzzers link, holds
# the objects of every `library` layer. An `evaluation` layer (sim) is a library of its own
# (nepnet_sim), not part of libnepnet.a; a `programs` layer (app) is built by the top-level
# CMakeLists.txt. A layer whose directory is missing or has no *.c file yet is skipped.
#
# Needs, defined before inclusion: nepnet::crypto (cmake/openssl.cmake), nepnet::secp256k1
# (cmake/secp256k1.cmake), PkgConfig::LIBEVENT,
# PkgConfig::SQLITE, PkgConfig::JANSSON, PkgConfig::ISAL, Threads::Threads.

include(${CMAKE_CURRENT_LIST_DIR}/layer_order.cmake)

set(NEPNET_LAYERS_DOC ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${NEPNET_LAYERS_DOC})
nepnet_read_layers(${NEPNET_LAYERS_DOC} NEPNET_LAYER)

# nepnet_layer_uses(<layer> LAYERS <layer>... EXTERNAL <target>...): what <layer> links. LAYERS
# must be below <layer> (layers without sources yet are skipped); EXTERNAL are the libraries its
# own objects call. A layer not declared here links every library layer below it and every
# external library. Declaring less is what makes layercheck_<layer> catch a call into a lower
# layer nobody meant it to use.
function(nepnet_layer_uses layer)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "LAYERS;EXTERNAL")
  if(NOT layer IN_LIST NEPNET_LAYER_NAMES)
    message(FATAL_ERROR "cmake/layers.cmake: nepnet_layer_uses(${layer}): no layer '${layer}' in "
                        "the layers block of ${NEPNET_LAYERS_DOC}")
  endif()
  foreach(dep IN LISTS arg_LAYERS)
    if(NOT dep IN_LIST NEPNET_LAYER_NAMES)
      message(FATAL_ERROR "cmake/layers.cmake: layer ${layer} uses '${dep}', which is no layer in "
                          "${NEPNET_LAYERS_DOC}")
    endif()
    if(NOT NEPNET_LAYER_${dep}_RANK LESS NEPNET_LAYER_${layer}_RANK
       OR NOT NEPNET_LAYER_${dep}_KIND STREQUAL "library")
      nepnet_layer_order_text(NEPNET_LAYER order)
      message(FATAL_ERROR "cmake/layers.cmake: layer ${layer} may not use ${dep}: a layer links "
                          "only library layers below it (${order})")
    endif()
  endforeach()
  foreach(ext IN LISTS arg_EXTERNAL)
    if(NOT ext IN_LIST NEPNET_EXTERNAL_ALL)
      message(FATAL_ERROR "cmake/layers.cmake: layer ${layer}: external '${ext}' is not in "
                          "NEPNET_EXTERNAL_ALL (add it there, in link order)")
    endif()
  endforeach()
  set(NEPNET_LAYER_${layer}_DECLARED TRUE PARENT_SCOPE)
  set(NEPNET_LAYER_${layer}_USES "${arg_LAYERS}" PARENT_SCOPE)
  set(NEPNET_LAYER_${layer}_EXTERNAL "${arg_EXTERNAL}" PARENT_SCOPE)
endfunction()

# Every external library a layer may link, in link order.
set(NEPNET_EXTERNAL_ALL nepnet::secp256k1 nepnet::crypto PkgConfig::LIBEVENT PkgConfig::SQLITE PkgConfig::JANSSON PkgConfig::ISAL
    Threads::Threads m)

# What each layer uses (measured with nm on the objects). Layers named here that have no sources
# yet (overlay) are skipped until they do.
nepnet_layer_uses(lib       EXTERNAL nepnet::crypto) # onion-name checksum, OPENSSL_cleanse
nepnet_layer_uses(crypto    LAYERS lib EXTERNAL nepnet::secp256k1 nepnet::crypto)
nepnet_layer_uses(transport LAYERS crypto lib EXTERNAL nepnet::crypto Threads::Threads) # sans-I/O: no event loop
nepnet_layer_uses(net       LAYERS transport crypto lib EXTERNAL nepnet::crypto PkgConfig::LIBEVENT Threads::Threads)
nepnet_layer_uses(dht       LAYERS net transport crypto lib
                            EXTERNAL nepnet::crypto PkgConfig::LIBEVENT PkgConfig::SQLITE)
nepnet_layer_uses(mixnet    LAYERS crypto lib EXTERNAL nepnet::crypto PkgConfig::ISAL m)
nepnet_layer_uses(nat       LAYERS crypto lib EXTERNAL nepnet::crypto PkgConfig::ISAL)
nepnet_layer_uses(overlay   LAYERS crypto lib EXTERNAL nepnet::crypto) # sans-I/O: SOCKS5, the control port, SAM
nepnet_layer_uses(dandelion LAYERS crypto lib EXTERNAL nepnet::crypto m)
nepnet_layer_uses(node      LAYERS mixnet overlay nat dandelion dht net transport crypto lib
                            EXTERNAL nepnet::crypto PkgConfig::LIBEVENT PkgConfig::JANSSON Threads::Threads)
nepnet_layer_uses(sim       LAYERS mixnet dandelion dht crypto lib EXTERNAL m)

# Every .c file under src/ and sim/ belongs to a layer (and so to a library, or to a program).
file(GLOB_RECURSE _nepnet_all_c CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}
     ${PROJECT_SOURCE_DIR}/src/*.c ${PROJECT_SOURCE_DIR}/sim/*.c)
foreach(f IN LISTS _nepnet_all_c)
  nepnet_layer_of(NEPNET_LAYER "${f}" owner)
  if(NOT owner)
    message(FATAL_ERROR "${f} belongs to no layer: add its directory to the layers block in "
                        "${NEPNET_LAYERS_DOC}, at its place in the order (see \"A new layer directory\" there)")
  endif()
endforeach()

set(_nepnet_layercheck_main ${CMAKE_BINARY_DIR}/layercheck/main.c)
file(CONFIGURE OUTPUT ${_nepnet_layercheck_main}
     CONTENT "/* layercheck_<layer>: links, or fails to, against one layer's whole archive. */\nint main(void) { return 0; }\n")

set(NEPNET_LIBRARY_LAYERS "")   # library layers that have sources, bottom up
set(_nepnet_layers_built "")
set(_nepnet_layers_empty "")
set(_nepnet_umbrella_objects "")
set(_nepnet_umbrella_external "")
foreach(layer IN LISTS NEPNET_LAYER_NAMES)
  set(kind ${NEPNET_LAYER_${layer}_KIND})
  if(kind STREQUAL "programs")
    continue()
  endif()

  # Sources: *.c anywhere below the layer's directories that no more specific entry claims.
  set(srcs "")
  foreach(p IN LISTS NEPNET_LAYER_${layer}_PATHS)
    if(p MATCHES "\\.[ch]$")
      continue() # a single (header) file
    endif()
    file(GLOB_RECURSE found CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/${p}/*.c)
    foreach(f IN LISTS found)
      nepnet_layer_of(NEPNET_LAYER "${f}" owner)
      if(owner STREQUAL layer)
        list(APPEND srcs ${PROJECT_SOURCE_DIR}/${f})
      endif()
    endforeach()
  endforeach()
  if(NOT srcs)
    list(APPEND _nepnet_layers_empty ${layer})
    continue()
  endif()

  # Links: the declared layers that exist, or every library layer below.
  if(NEPNET_LAYER_${layer}_DECLARED)
    set(uses ${NEPNET_LAYER_${layer}_USES})
    set(external ${NEPNET_LAYER_${layer}_EXTERNAL})
  else()
    set(uses ${NEPNET_LIBRARY_LAYERS})
    set(external ${NEPNET_EXTERNAL_ALL})
  endif()
  set(deps "")
  foreach(dep IN LISTS uses)
    if(TARGET nepnet_${dep})
      list(APPEND deps nepnet_${dep})
    endif()
  endforeach()

  set(incs ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
  if(kind STREQUAL "evaluation")
    list(APPEND incs ${PROJECT_SOURCE_DIR}) # #include "sim/..."
  endif()

  add_library(nepnet_${layer}_obj OBJECT ${srcs})
  target_include_directories(nepnet_${layer}_obj PRIVATE ${incs})
  target_link_libraries(nepnet_${layer}_obj PRIVATE ${external}) # their include paths and flags
  # libFuzzer learns from coverage of the code under test, not just of the harness.
  if(NEPNET_FUZZ AND kind STREQUAL "library")
    target_compile_options(nepnet_${layer}_obj PRIVATE -fsanitize=fuzzer-no-link)
  endif()

  add_library(nepnet_${layer} STATIC $<TARGET_OBJECTS:nepnet_${layer}_obj>)
  set_target_properties(nepnet_${layer} PROPERTIES LINKER_LANGUAGE C)
  target_include_directories(nepnet_${layer} PUBLIC ${incs}) # tests use internal headers
  target_link_libraries(nepnet_${layer} PUBLIC ${deps} ${external})

  add_executable(layercheck_${layer} ${_nepnet_layercheck_main})
  target_link_libraries(layercheck_${layer} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,nepnet_${layer}>")
  set_target_properties(layercheck_${layer} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/layercheck)

  list(APPEND _nepnet_layers_built ${layer})
  if(kind STREQUAL "library")
    list(APPEND NEPNET_LIBRARY_LAYERS ${layer})
    list(APPEND _nepnet_umbrella_objects $<TARGET_OBJECTS:nepnet_${layer}_obj>)
    list(APPEND _nepnet_umbrella_external ${external})
  endif()
endforeach()

# libnepnet.a: every library layer's objects in one archive.
set(external "")
foreach(e IN LISTS NEPNET_EXTERNAL_ALL)
  if(e IN_LIST _nepnet_umbrella_external)
    list(APPEND external ${e})
  endif()
endforeach()
set(NEPNET_UMBRELLA_OBJECTS ${_nepnet_umbrella_objects}) # for the shared library (cmake/install.cmake)
set(NEPNET_UMBRELLA_EXTERNAL ${external})
add_library(nepnet STATIC ${_nepnet_umbrella_objects})
set_target_properties(nepnet PROPERTIES LINKER_LANGUAGE C)
target_include_directories(nepnet PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(nepnet PUBLIC ${external})

list(JOIN _nepnet_layers_built " " _built)
list(JOIN _nepnet_layers_empty " " _empty)
message(STATUS "Layers (docs/ARCHITECTURE.md): ${_built}; no sources yet: ${_empty}")
