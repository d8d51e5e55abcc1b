/* lib */
#include <stdio.h>
#include "lib/ok.h"
#  include "ok.h"
#include "dht/table.h" /* VIOLATION: lib includes dht, a higher layer */
