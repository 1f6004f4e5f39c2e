/* The receptive field of a network: how far from an output voxel an input voxel can change it.

   Walking the list, each layer's output voxel o at scale s (input voxels per voxel) depends on
   the input voxels [s·o − R, s·o + s − 1 + R]; the input has s = 1, R = 0:
     conv k, pad p, stride 1     R += s·max(p, k − 1 − p)       ((k − 1)/2 · s for "same")
     conv k, pad p, stride 2     R += s·max(p, k − 2 − p), s ← 2s
     maxpool2                    R unchanged, s ← 2s            (the block [2o, 2o + 1] is o's own)
     avgpool3 (k 3, pad 1, s 2)  R += s, s ← 2s
     upsample2, conv_transpose2  s ← s/2, R += s                (o reads o/2: half a coarse block)
     concat, residual            R = max over the two branches
     pointwise layers            unchanged
   At the output (s = 1) voxel u sees [u − R, u + R]: the bound is reached by the worst position
   of u within the coarsest blocks. Instance normalisation is not counted: its mean and variance
   span the whole input, not a neighbourhood. */
#include "learn/nn/nn_impl.h"

PetscErrorCode PdNNGetReceptiveField(PdNN net, PetscInt r[3], PetscInt *multiple)
{
  PetscInt *R, *s, top = 1;

  PetscFunctionBegin;
  PetscCheck(net->nl > 0, PETSC_COMM_SELF, PETSC_ERR_ORDER, "network without layers");
  /* entry l + 1 is layer l's output, entry 0 the input */
  PetscCall(PetscMalloc2(net->nl + 1, &R, net->nl + 1, &s));
  R[0] = 0;
  s[0] = 1;
  for (PetscInt l = 0; l < net->nl; l++) {
    const PdNNLayer *L  = &net->L[l];
    PetscInt         Rl = R[L->src + 1], sl = s[L->src + 1];

    switch (L->kind) {
    case PD_NN_CONV:
      Rl += sl * PetscMax(L->pad, L->k - L->stride - L->pad);
      sl *= L->stride;
      break;
    case PD_NN_MAXPOOL2:
      sl *= 2;
      break;
    case PD_NN_AVGPOOL3:
      Rl += sl;
      sl *= 2;
      break;
    case PD_NN_UPSAMPLE2:
    case PD_NN_CONV_TRANSPOSE2:
      sl = PetscMax(1, sl / 2);
      Rl += sl;
      break;
    case PD_NN_CONCAT:
    case PD_NN_RESIDUAL:
      Rl = PetscMax(Rl, R[L->skip + 1]);
      break;
    default:
      break;
    }
    R[l + 1] = Rl;
    s[l + 1] = sl;
    top      = PetscMax(top, sl);
  }
  r[0] = net->dims == 3 ? R[net->nl] : 0;
  r[1] = r[2] = R[net->nl];
  if (multiple) *multiple = top;
  PetscCall(PetscFree2(R, s));
  PetscFunctionReturn(0);
}
