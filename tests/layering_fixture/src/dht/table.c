/* dht */
#include "dht/table.h"
#include "table.h"
#include "crypto/keys.h"
