/* The table of deconvolution methods selected with -decon_method. Each lives in its own file. */
#include "decon_impl.h"

extern const PdMethodOps PdMethod_RL, PdMethod_RLBiggs;

const PdMethodOps *const PdMethods[] = {&PdMethod_RL, &PdMethod_RLBiggs};
const int                PdNumMethods = (int)(sizeof(PdMethods) / sizeof(PdMethods[0]));
