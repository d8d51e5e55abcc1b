# The control API's parsers of client bytes: POST /v1/tx bodies, query strings, bearer header,
# token file (src/node/api_parse.h).
nepnet_fuzzer(fuzz_api 20000 1500000)
