/* app: may use sim and every library layer */
#include "sim/sim_x.h"
#include "dht/table.h"
