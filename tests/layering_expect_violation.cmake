# Runs tools/check_layers.cmake on tests/layering_fixture/ and judges its answer. The CTest test
# `layering_detects_violation` has WILL_FAIL TRUE: it passes only if this script fails, and this
# script fails only if the check failed on the fixture the way it must, naming each of the
# fixture's three violations (file:line) and nothing else. A check that passes the fixture, or
# fails it without naming the files, makes this script succeed and so the test fail.
#
#   cmake -DCHECK=<tools/check_layers.cmake> -DFIXTURE=<fixture root> -DLAYERS_DOC=<doc> -P this
cmake_minimum_required(VERSION 3.25)

execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${FIXTURE} -DLAYERS_DOC=${LAYERS_DOC} -P ${CHECK}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
message("--- tools/check_layers.cmake on ${FIXTURE} (exit code ${rc}):\n${all}---")

if(rc EQUAL 0)
  message("WRONG: the check passed a tree with an upward include; it cannot detect violations")
  return() # exit code 0: the WILL_FAIL test fails
endif()
set(expect
    "src/lib/bad\\.c:5: #include \"dht/table\\.h\": layer lib includes layer dht"
    "src/crypto/stray\\.c:4: #include \"nowhere/thing\\.h\": belongs to no layer"
    "src/unlisted/orphan\\.c:1: belongs to no layer"
    "layering: 3 violation")
foreach(re IN LISTS expect)
  if(NOT all MATCHES "${re}")
    message("WRONG: the check failed, but its message lacks /${re}/")
    return() # exit code 0: the WILL_FAIL test fails
  endif()
endforeach()
message(FATAL_ERROR "as expected: the check failed on the fixture and named each violation")
