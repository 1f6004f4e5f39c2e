/* The table of deconvolution methods selected with -decon_method, in the order -help lists them.
   Each method's ops table and equations live in the file of its name (rl.c, rl_biggs.c, rltv.c,
   rl_smoothtv.c, garl.c, admm.c, blind.c, lw.c, lw_plus.c, tm.c, ictm.c, nif.c, trif.c, rif.c,
   wiener.c); shared parts in rrl.c, rltv_common.c and dl2_*.c. */
#include "decon/decon_impl.h"

extern const PdMethodOps PdMethod_RL, PdMethod_RLBiggs, PdMethod_RLWB, PdMethod_RLOMW, PdMethod_Blind;
extern const PdMethodOps PdMethod_RLTV, PdMethod_RLSmoothTV, PdMethod_GARL;
extern const PdMethodOps PdMethod_ADMM;
extern const PdMethodOps PdMethod_LW, PdMethod_LWPlus, PdMethod_TM, PdMethod_ICTM, PdMethod_NIF, PdMethod_TRIF, PdMethod_RIF, PdMethod_Wiener;

const PdMethodOps *const PdMethods[] = {&PdMethod_RL, &PdMethod_RLBiggs, &PdMethod_RLWB, &PdMethod_RLOMW, &PdMethod_RLTV, &PdMethod_RLSmoothTV, &PdMethod_GARL, &PdMethod_ADMM, &PdMethod_Blind,
  &PdMethod_LW, &PdMethod_LWPlus, &PdMethod_TM, &PdMethod_ICTM, &PdMethod_NIF, &PdMethod_TRIF, &PdMethod_RIF, &PdMethod_Wiener};
const int                PdNumMethods = (int)(sizeof(PdMethods) / sizeof(PdMethods[0]));
