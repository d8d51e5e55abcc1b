/* crypto */
#include "nepnet/error.h"
