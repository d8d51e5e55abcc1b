/* A program that uses an installed libnepnet through pkg-config or find_package(nepnet) alone
 * (tests/install.sh): the version, the crypto self-test, a node identity and the default node
 * settings, all through the public headers. */
#include <stdio.h>
#include <string.h>

#include <nepnet/nepnet.h>
#include <nepnet/node.h>

int
main(void)
{
  nn_identity_t *id = NULL;
  nn_node_settings_t s;
  char hex[2 * NN_NODE_ID_LEN + 1];
  if (nn_selftest_run(NULL, NULL) != NN_OK) {
    fprintf(stderr, "consumer: the self-test failed\n");
    return 1;
  }
  if (nn_identity_generate(&id) != NN_OK) {
    fprintf(stderr, "consumer: no identity\n");
    return 1;
  }
  nn_node_id_to_hex(nn_identity_node_id(id), hex);
  nn_identity_free(id);
  nn_node_settings_default(&s);
  printf("nepnet %s on OpenSSL %s: node id %.16s..., default route %s, api token mode 0%o\n", nn_version(),
         nn_openssl_version(), hex, nn_route_str(s.route), (unsigned)s.api_token_mode);
  return strlen(hex) == 2 * NN_NODE_ID_LEN ? 0 : 1;
}
