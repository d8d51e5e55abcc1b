# The control API's parsers of client bytes: POST /v1/tx bodies, query strings, bearer header,
# token file (src/node/api_parse.h).
nepnet_fuzzer(fuzz_api 20000 1500000)
# The gate in front of evhttp: header sections before any body is read (src/node/api_gate.h).
nepnet_fuzzer(fuzz_api_gate 20000 1000000)
