/** \file commands.h \brief Sub-commands of the nepnet CLI that live in their own files. */
#ifndef NN_APP_COMMANDS_H
#define NN_APP_COMMANDS_H

/** `nepnet sim ...`; argv[0] is "sim". */
int nepnet_cmd_sim(int argc, char **argv);

#endif
