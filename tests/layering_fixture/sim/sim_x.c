/* sim: may use every library layer */
#include "dht/table.h"
