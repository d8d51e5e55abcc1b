/** \file commands.h \brief Sub-commands of the nepnet CLI that live in their own files. */
#ifndef NN_APP_COMMANDS_H
#define NN_APP_COMMANDS_H

#include "nepnet/identity.h"

#define NEPNET_DEFAULT_BIND "127.0.0.1:9800"

/** Load or create DATADIR/identity.key, explaining a failure with the file and the fix;
 *  \a verbose 1 prints the file and algorithm, 0 the node id alone, -1 nothing. */
nn_identity_t *nepnet_open_identity(const char *datadir, int verbose);

/** `nepnet listen` and `nepnet connect`: the secure-channel echo demo (cmd_channel.c). */
int nepnet_cmd_listen(const char *datadir, int argc, char **argv);
int nepnet_cmd_connect(const char *datadir, int argc, char **argv);
/** The text of `nepnet --help`. */
extern const char nepnet_usage[];

/** `nepnet sim ...`; argv[0] is "sim". */
int nepnet_cmd_sim(int argc, char **argv);
/** `nepnet nat ...` (cmd_nat.c): NAT behaviour discovery and a standalone STUN server; argv[0]
 *  is "nat". */
int nepnet_cmd_nat(int argc, char **argv);
/** `nepnet sim mixnet ...` (cmd_sim_mixnet.c); argv[0] is "sim". */
int nepnet_cmd_sim_mixnet(int argc, char **argv);

/** `nepnet send FILE`: submit a transaction through the API of the node at \a datadir
 *  (DATADIR/api.address and DATADIR/api.token, written by nepnetd); argv[0] is "send". */
int nepnet_cmd_send(const char *datadir, int argc, char **argv);
/** `nepnet status [--watch]`: the status of the node at \a datadir through its API. */
int nepnet_cmd_status(const char *datadir, int argc, char **argv);
/** `nepnet tx ID` (cmd_view.c): one of our transactions' timeline, followed to its end. */
int nepnet_cmd_tx(const char *datadir, int argc, char **argv);
/** `nepnet peers`: the node's gossip peers. */
int nepnet_cmd_peers(const char *datadir, int argc, char **argv);
/** `nepnet ui`: the status page's address, with the token in its fragment. */
int nepnet_cmd_ui(const char *datadir, int argc, char **argv);
/** Print the timeline of our transaction \a id (hex) at the node at \a addr as it happens, until
 *  it ends or \a timeout_s passes; \a json: one JSON line per step and the entry at the end.
 *  Returns the exit status: 0 propagated, 2 embargoed, 3 direct, 4 dropped, 5 timed out, 1 error. */
int nepnet_follow_tx(const char *cmd, const char *addr, const char *token, const char *id, unsigned timeout_s,
                     int json);
/** `nepnet devnet up N | down | demo ...`; argv[0] is "devnet". \a argv0 locates nepnetd (the
 *  daemon is looked for next to the nepnet binary first). */
int nepnet_cmd_devnet(const char *argv0, int argc, char **argv);

#endif
