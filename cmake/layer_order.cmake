# The layer order, read from its one written place: the block between `<!-- layers:begin -->`
# and `<!-- layers:end -->` in docs/ARCHITECTURE.md. Used by the build (cmake/layers.cmake) and by
# the include check (tools/check_layers.cmake, script mode), so the two cannot drift apart.
#
# Block lines, bottom layer first (blank lines, ``` fences and lines starting with # are skipped):
#   <layer>: <kind> <path> [<path>...]
# <kind> is `library` (in libnepnet.a), `evaluation` (its own library, not in libnepnet.a) or
# `programs` (executables, no library). A <path> is relative to the tree root: a directory (every
# file below it) or one file (a public header). A file belongs to the layer with the longest path
# that contains it.

# nepnet_read_layers(<doc> <prefix>) sets in the caller's scope:
#   <prefix>_NAMES           the layers, bottom up
#   <prefix>_<layer>_KIND    library | evaluation | programs
#   <prefix>_<layer>_PATHS   its paths
#   <prefix>_<layer>_RANK    0 for the bottom layer, 1 for the next, ...
function(nepnet_read_layers doc prefix)
  if(NOT EXISTS "${doc}")
    message(FATAL_ERROR "layers: ${doc} does not exist (it holds the layer order)")
  endif()
  file(READ "${doc}" text)
  string(FIND "${text}" "<!-- layers:begin -->" begin)
  string(FIND "${text}" "<!-- layers:end -->" end)
  if(begin EQUAL -1 OR end EQUAL -1 OR end LESS begin)
    message(FATAL_ERROR "layers: ${doc} has no block between <!-- layers:begin --> and "
                        "<!-- layers:end --> (the layer order, bottom up)")
  endif()
  math(EXPR len "${end} - ${begin}")
  string(SUBSTRING "${text}" ${begin} ${len} block)
  string(REGEX REPLACE "[][;]" "," block "${block}") # keep list splitting plain
  string(REPLACE "\n" ";" lines "${block}")

  set(names "")
  set(all_paths "")
  set(rank 0)
  set(seen_non_library FALSE)
  foreach(line IN LISTS lines)
    string(STRIP "${line}" line)
    if(line STREQUAL "" OR line MATCHES "^(#|```|<!--)")
      continue()
    endif()
    if(NOT line MATCHES "^([a-z][a-z0-9_]*):[ \t]+(library|evaluation|programs)[ \t]+(.+)$")
      message(FATAL_ERROR "layers: ${doc}: cannot read the line '${line}' of the layers block; "
                          "expected '<layer>: <library|evaluation|programs> <path> [<path>...]'")
    endif()
    set(name "${CMAKE_MATCH_1}")
    set(kind "${CMAKE_MATCH_2}")
    string(REGEX REPLACE "[ \t]+" ";" paths "${CMAKE_MATCH_3}")
    if(name IN_LIST names)
      message(FATAL_ERROR "layers: ${doc}: layer '${name}' is listed twice")
    endif()
    if(kind STREQUAL "library" AND seen_non_library)
      message(FATAL_ERROR "layers: ${doc}: library layer '${name}' comes after an evaluation or "
                          "programs layer; library layers are the bottom of the order")
    endif()
    if(NOT kind STREQUAL "library")
      set(seen_non_library TRUE)
    endif()
    foreach(p IN LISTS paths)
      if(p MATCHES "^/|(^|/)\\.\\.?(/|$)|/$")
        message(FATAL_ERROR "layers: ${doc}: layer '${name}': '${p}' must be a relative path "
                            "without ., .. or a trailing /")
      endif()
      if(p IN_LIST all_paths)
        message(FATAL_ERROR "layers: ${doc}: '${p}' is given to two layers")
      endif()
      list(APPEND all_paths "${p}")
    endforeach()
    list(APPEND names "${name}")
    set(${prefix}_${name}_KIND "${kind}" PARENT_SCOPE)
    set(${prefix}_${name}_PATHS "${paths}" PARENT_SCOPE)
    set(${prefix}_${name}_RANK ${rank} PARENT_SCOPE)
    math(EXPR rank "${rank} + 1")
  endforeach()
  if(names STREQUAL "")
    message(FATAL_ERROR "layers: ${doc}: the layers block lists no layer")
  endif()
  set(${prefix}_NAMES "${names}" PARENT_SCOPE)
endfunction()

# nepnet_layer_of(<prefix> <relpath> <out>): the layer a path (relative to the tree root, existing
# or not) belongs to, or "" if none: the layer with the longest path equal to it or containing it.
function(nepnet_layer_of prefix relpath out)
  set(best "")
  set(best_len -1)
  foreach(name IN LISTS ${prefix}_NAMES)
    foreach(p IN LISTS ${prefix}_${name}_PATHS)
      string(LENGTH "${p}" plen)
      if(plen GREATER best_len)
        if(relpath STREQUAL p)
          set(best "${name}")
          set(best_len ${plen})
        else()
          string(FIND "${relpath}" "${p}/" at)
          if(at EQUAL 0)
            set(best "${name}")
            set(best_len ${plen})
          endif()
        endif()
      endif()
    endforeach()
  endforeach()
  set(${out} "${best}" PARENT_SCOPE)
endfunction()

# nepnet_layer_order_text(<prefix> <out>): "lib < crypto < ..." for messages.
function(nepnet_layer_order_text prefix out)
  list(JOIN ${prefix}_NAMES " < " s)
  set(${out} "${s}" PARENT_SCOPE)
endfunction()
