/**
 * \file ui.h
 * \brief The status page's files, embedded in the binary at build time (cmake/embed_ui.cmake
 * generates the table from src/node/ui/ and Debian's libjs-dygraphs): the API serves them at
 * their paths without a token, since they hold no data; the page fetches its data with the token.
 */
#ifndef NN_NODE_UI_H
#define NN_NODE_UI_H

#include <stddef.h>

typedef struct nn_ui_asset_t {
  const char *path; /**< "/", "/ui/app.js" ... */
  const char *content_type;
  const unsigned char *data;
  size_t len;
} nn_ui_asset_t;

/** Every file of the page; the last entry has path NULL. */
extern const nn_ui_asset_t nn_ui_assets[];

#endif
