/* crypto */
#include "crypto/keys.h"

#include "nowhere/thing.h" /* VIOLATION: no layer claims this header */
