# The include check: no file includes a header of a layer above its own.
#
#   cmake -DROOT=<tree root> [-DLAYERS_DOC=<file>] -P tools/check_layers.cmake
#
# The layer order is the block between <!-- layers:begin --> and <!-- layers:end --> in
# LAYERS_DOC (default: <ROOT>/docs/ARCHITECTURE.md), the same block the build reads
# (cmake/layers.cmake). Every .c and .h under <ROOT>/src, <ROOT>/sim and <ROOT>/include is scanned
# for #include "..." (system headers, <...>, are ignored). An included path is looked up like the
# build does (next to the including file, then under src/, include/ and the root) and mapped to its
# layer. Fails, naming FILE:LINE, on
#   - an include of a layer above the file's own layer (same layer and lower layers are fine),
#   - an include that belongs to no layer,
#   - a scanned file that belongs to no layer.
# The link direction is enforced separately, by the layercheck_<layer> programs of the build.
cmake_minimum_required(VERSION 3.25)

if(NOT ROOT)
  message(FATAL_ERROR "usage: cmake -DROOT=<tree root> [-DLAYERS_DOC=<file>] -P ${CMAKE_CURRENT_LIST_FILE}")
endif()
get_filename_component(ROOT "${ROOT}" ABSOLUTE)
if(NOT LAYERS_DOC)
  set(LAYERS_DOC "${ROOT}/docs/ARCHITECTURE.md")
endif()
get_filename_component(LAYERS_DOC "${LAYERS_DOC}" ABSOLUTE)

include(${CMAKE_CURRENT_LIST_DIR}/../cmake/layer_order.cmake)
nepnet_read_layers("${LAYERS_DOC}" L)
nepnet_layer_order_text(L order)

set(scan_dirs src sim include)
set(files "")
foreach(d IN LISTS scan_dirs)
  file(GLOB_RECURSE found LIST_DIRECTORIES false RELATIVE "${ROOT}" "${ROOT}/${d}/*.c" "${ROOT}/${d}/*.h")
  list(APPEND files ${found})
endforeach()
list(SORT files)

set(problems "")
set(nproblems 0)
set(nincludes 0)
macro(problem text)
  string(APPEND problems "${text}\n")
  math(EXPR nproblems "${nproblems} + 1")
endmacro()

# Where `#include "inc"` written in <file> leads: the first existing candidate, as the compiler
# would look (the including file's directory, then -I src, -I include, -I <root> for sim/); if none
# exists, the first include-directory candidate some layer claims. Sets <out_path> (relative to ROOT, "" if outside)
# and <out_layer> ("" if none).
function(resolve_include file inc out_path out_layer)
  get_filename_component(dir "${file}" DIRECTORY)
  set(here "${dir}/${inc}")
  set(incdirs "src/${inc}" "include/${inc}" "${inc}")
  set(found "")
  foreach(c IN ITEMS "${here}" ${incdirs})
    cmake_path(NORMAL_PATH c)
    if(NOT c MATCHES "^\\.\\./|^/" AND EXISTS "${ROOT}/${c}" AND NOT IS_DIRECTORY "${ROOT}/${c}")
      nepnet_layer_of(L "${c}" layer)
      set(${out_path} "${c}" PARENT_SCOPE)
      set(${out_layer} "${layer}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  # Not there (yet): judge by name, from the include directories only (next to the including
  # file, any name would look like the file's own layer).
  foreach(c IN LISTS incdirs)
    cmake_path(NORMAL_PATH c)
    nepnet_layer_of(L "${c}" layer)
    if(layer)
      set(${out_path} "${c}, not there yet" PARENT_SCOPE)
      set(${out_layer} "${layer}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out_path} "" PARENT_SCOPE)
  set(${out_layer} "" PARENT_SCOPE)
endfunction()

foreach(f IN LISTS files)
  nepnet_layer_of(L "${f}" own)
  if(NOT own)
    problem("${f}:1: belongs to no layer. Fix: add its directory to the layers block in ${LAYERS_DOC} (at its place in the order), or move the file into a layer's directory.")
    continue()
  endif()
  file(READ "${ROOT}/${f}" text)
  if(NOT text MATCHES "#[ \t]*include[ \t]*\"")
    continue()
  endif()
  # One list element per line (empty lines included, so the index is the line number). List
  # syntax is neutralised first: ; and [ ] would split or join elements, a trailing \ would
  # escape the separator.
  string(REGEX REPLACE "[][;\\\\]" "_" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(lineno 0)
  foreach(line IN LISTS lines)
    math(EXPR lineno "${lineno} + 1")
    if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\"")
      continue()
    endif()
    set(inc "${CMAKE_MATCH_1}")
    math(EXPR nincludes "${nincludes} + 1")
    resolve_include("${f}" "${inc}" target target_layer)
    if(NOT target_layer)
      problem("${f}:${lineno}: #include \"${inc}\": belongs to no layer (layer ${own} includes a header that no layer in ${LAYERS_DOC} claims, looked up next to the file and under src/, include/ and the root). Fix: include a header of layer ${own} or of a layer below it, or, for a new directory, add it to the layers block.")
      continue()
    endif()
    if(L_${target_layer}_RANK GREATER L_${own}_RANK)
      set(also "")
      if(f IN_LIST L_${own}_PATHS)
        set(also " (${f} is listed by name in the layers block: if it belongs to ${target_layer} or above, move it there)")
      endif()
      problem("${f}:${lineno}: #include \"${inc}\": layer ${own} includes layer ${target_layer} (${target}), which is above it (bottom up: ${order}). Fix: move what ${f} needs from ${target_layer} down into ${own} or a layer below it, or move the code of ${f} that needs it up into ${target_layer} or above${also}; a layer includes only itself and the layers below it.")
    endif()
  endforeach()
endforeach()

list(LENGTH files nfiles)
if(nproblems GREATER 0)
  message("${problems}")
  message(FATAL_ERROR "layering: ${nproblems} violation(s) in ${ROOT} (layer order from ${LAYERS_DOC}: ${order})")
endif()
message(STATUS "layering: ${nfiles} files, ${nincludes} includes, none goes up (${order})")
