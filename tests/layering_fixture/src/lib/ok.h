/* lib */
#include "nepnet/error.h"
