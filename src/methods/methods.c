/* The table of deconvolution methods selected with -decon_method. Each lives in its own file. */
#include "decon/decon_impl.h"

extern const PdMethodOps PdMethod_RL, PdMethod_RLBiggs, PdMethod_RLWB, PdMethod_RLOMW, PdMethod_Blind;
extern const PdMethodOps PdMethod_RLTV, PdMethod_RLSmoothTV, PdMethod_GARL;
extern const PdMethodOps PdMethod_ADMM;
extern const PdMethodOps PdMethod_LW, PdMethod_LWPlus, PdMethod_TM, PdMethod_ICTM, PdMethod_NIF, PdMethod_TRIF, PdMethod_RIF, PdMethod_Wiener;

const PdMethodOps *const PdMethods[] = {&PdMethod_RL, &PdMethod_RLBiggs, &PdMethod_RLWB, &PdMethod_RLOMW, &PdMethod_RLTV, &PdMethod_RLSmoothTV, &PdMethod_GARL, &PdMethod_ADMM, &PdMethod_Blind,
  &PdMethod_LW, &PdMethod_LWPlus, &PdMethod_TM, &PdMethod_ICTM, &PdMethod_NIF, &PdMethod_TRIF, &PdMethod_RIF, &PdMethod_Wiener};
const int                PdNumMethods = (int)(sizeof(PdMethods) / sizeof(PdMethods[0]));
