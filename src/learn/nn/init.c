/* Weight initialisers (nn.h). fan_in = cin·k^dims and fan_out = cout·k^dims, for a transposed
   conv as PyTorch counts them on its [cin][cout][2]^dims weights (fan_in = cout·2^dims). Each
   layer draws from the counter-based stream (seed, layer id), weights in storage order. */
#include "learn/nn/nn_impl.h"
#include <pdecon/core/random.h>
#include <math.h>

PetscErrorCode PdNNInitializeLayer(PdNN net, PetscInt id, PdNNInit init, double std, unsigned long long seed)
{
  const PdNNLayer *L;
  PdRandStream     r;
  double           fin, fout, taps;

  PetscFunctionBegin;
  PetscCheck(net->setup, PETSC_COMM_SELF, PETSC_ERR_ORDER, "call PdNNSetUp first");
  PetscCheck(id >= 0 && id < net->nl, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "no layer %" PetscInt_FMT, id);
  L = &net->L[id];
  if (!L->nw) PetscFunctionReturn(0);
  taps = pow((double)L->k, (double)net->dims);
  fin  = (L->kind == PD_NN_CONV_TRANSPOSE2 ? L->cout : L->cin) * taps;
  fout = (L->kind == PD_NN_CONV_TRANSPOSE2 ? L->cin : L->cout) * taps;
  r    = PdRandStreamCreate(seed, (unsigned long long)id);
  for (PetscInt i = 0; i < L->nw; i++) {
    double v;
    switch (init) {
    case PD_NN_INIT_GAUSSIAN:
      v = std * PdRandNormal(&r);
      break;
    case PD_NN_INIT_GLOROT_UNIFORM:
      v = sqrt(6.0 / (fin + fout)) * (2.0 * PdRandUniform(&r) - 1.0);
      break;
    case PD_NN_INIT_KAIMING_NORMAL:
      v = sqrt(2.0 / fin) * PdRandNormal(&r);
      break;
    default:
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "unknown initialiser %d", (int)init);
    }
    net->theta[L->woff + i] = (float)v;
  }
  for (PetscInt i = 0; i < L->nb; i++) net->theta[L->boff + i] = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode PdNNInitialize(PdNN net, PdNNInit init, double std, unsigned long long seed)
{
  PetscFunctionBegin;
  for (PetscInt l = 0; l < net->nl; l++) PetscCall(PdNNInitializeLayer(net, l, init, std, seed));
  PetscFunctionReturn(0);
}
