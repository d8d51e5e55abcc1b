/** \file commands.h \brief Sub-commands of the nepnet CLI that live in their own files. */
#ifndef NN_APP_COMMANDS_H
#define NN_APP_COMMANDS_H

/** `nepnet sim ...`; argv[0] is "sim". */
int nepnet_cmd_sim(int argc, char **argv);

/** `nepnet send FILE`: submit a transaction through the API of the node at \a datadir
 *  (DATADIR/api.address and DATADIR/api.token, written by nepnetd); argv[0] is "send". */
int nepnet_cmd_send(const char *datadir, int argc, char **argv);
/** `nepnet status`: the status of the node at \a datadir through its API. */
int nepnet_cmd_status(const char *datadir, int argc, char **argv);
/** `nepnet devnet up N | down | demo ...`; argv[0] is "devnet". \a argv0 locates nepnetd (the
 *  daemon is looked for next to the nepnet binary first). */
int nepnet_cmd_devnet(const char *argv0, int argc, char **argv);

#endif
