/* dht */
#include "lib/ok.h"
