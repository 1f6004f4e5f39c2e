/* The cycleGAN's U-Net generator and PatchGAN discriminators (cyclegan_nets.h). */
#include <pdecon/learn/cyclegan_nets.h>

#define PD_GAN_INIT_STD 0.02

/* conv 3³ (no bias) → instance norm → ReLU, named prefix_{conv,norm,relu} */
static PetscErrorCode CIR(PdNN net, const char *prefix, PetscInt cin, PetscInt cout)
{
  char n[64];

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(n, sizeof(n), "%s_conv", prefix));
  PetscCall(PdNNAddConv(net, n, cin, cout, 3, 1, PD_NN_SAME, PETSC_FALSE));
  PetscCall(PetscSNPrintf(n, sizeof(n), "%s_norm", prefix));
  PetscCall(PdNNAddInstanceNorm(net, n));
  PetscCall(PetscSNPrintf(n, sizeof(n), "%s_relu", prefix));
  PetscCall(PdNNAddReLU(net, n));
  PetscFunctionReturn(0);
}

PetscErrorCode PdUNet3DCreate(PetscInt depth, PetscInt width, unsigned long long seed, PdNN *G)
{
  PdNN     net;
  PetscInt skip[16];
  char     n[64];

  PetscFunctionBegin;
  PetscCheck(depth >= 1 && depth < 16 && width >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "U-Net: depth %" PetscInt_FMT " must be in 1..15 and width %" PetscInt_FMT " positive", depth, width);
  PetscCall(PdNNCreate(3, &net));
  PetscCall(CIR(net, "e0a", 1, width));
  PetscCall(CIR(net, "e0b", width, width));
  PetscCall(PdNNGetLast(net, &skip[0]));
  for (PetscInt l = 1; l <= depth; l++) {
    const PetscInt wi = width << (l - 1), wo = width << l;
    PetscCall(PetscSNPrintf(n, sizeof(n), "pool%" PetscInt_FMT, l));
    PetscCall(PdNNAddMaxPool2(net, n));
    PetscCall(PetscSNPrintf(n, sizeof(n), "e%" PetscInt_FMT "a", l));
    PetscCall(CIR(net, n, wi, wo));
    PetscCall(PetscSNPrintf(n, sizeof(n), "e%" PetscInt_FMT "b", l));
    PetscCall(CIR(net, n, wo, wo));
    if (l == depth) {
      PetscCall(PetscSNPrintf(n, sizeof(n), "e%" PetscInt_FMT "c", l));
      PetscCall(CIR(net, n, wo, wo));
    }
    PetscCall(PdNNGetLast(net, &skip[l]));
  }
  for (PetscInt l = depth - 1; l >= 0; l--) {
    const PetscInt wl = width << l;
    PetscCall(PetscSNPrintf(n, sizeof(n), "up%" PetscInt_FMT, l));
    PetscCall(PdNNAddConvTranspose2(net, n, 2 * wl, wl, PETSC_TRUE));
    PetscCall(PetscSNPrintf(n, sizeof(n), "cat%" PetscInt_FMT, l));
    PetscCall(PdNNAddConcat(net, n, skip[l]));
    PetscCall(PetscSNPrintf(n, sizeof(n), "d%" PetscInt_FMT "a", l));
    PetscCall(CIR(net, n, 2 * wl, wl));
    if (l > 0) {
      PetscCall(PetscSNPrintf(n, sizeof(n), "d%" PetscInt_FMT "b", l));
      PetscCall(CIR(net, n, wl, wl));
    }
  }
  PetscCall(PdNNAddConv(net, "out1", width, 1, 1, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNAddConv(net, "out2", 1, 1, 1, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNAddSigmoid(net, "sigmoid"));
  PetscCall(PdNNSetUp(net));
  PetscCall(PdNNInitialize(net, PD_NN_INIT_GAUSSIAN, PD_GAN_INIT_STD, seed));
  *G = net;
  PetscFunctionReturn(0);
}

PetscErrorCode PdPatchGAN3DCreate(PetscInt scale, PetscInt width, unsigned long long seed, PdNN *D)
{
  PdNN           net;
  const PetscInt ch[5] = {1, width, 2 * width, 4 * width, 8 * width};
  char           n[64];

  PetscFunctionBegin;
  PetscCheck(scale >= 1 && scale <= 3 && width >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PatchGAN: scale %" PetscInt_FMT " must be 1, 2 or 3 and width positive", scale);
  PetscCall(PdNNCreate(3, &net));
  for (PetscInt s = 1; s < scale; s++) {
    PetscCall(PetscSNPrintf(n, sizeof(n), "down%" PetscInt_FMT, s));
    PetscCall(PdNNAddAvgPool3(net, n));
  }
  for (PetscInt l = 0; l < 4; l++) {
    PetscCall(PetscSNPrintf(n, sizeof(n), "c%" PetscInt_FMT, l + 1));
    PetscCall(PdNNAddConv(net, n, ch[l], ch[l + 1], 4, l < 3 ? 2 : 1, 2, (PetscBool)(l == 0)));
    if (l > 0) {
      PetscCall(PetscSNPrintf(n, sizeof(n), "c%" PetscInt_FMT "_norm", l + 1));
      PetscCall(PdNNAddInstanceNorm(net, n));
    }
    PetscCall(PetscSNPrintf(n, sizeof(n), "c%" PetscInt_FMT "_lrelu", l + 1));
    PetscCall(PdNNAddLeakyReLU(net, n, 0.2));
  }
  PetscCall(PdNNAddConv(net, "out", ch[4], 1, 4, 1, 2, PETSC_TRUE));
  PetscCall(PdNNSetUp(net));
  PetscCall(PdNNInitialize(net, PD_NN_INIT_GAUSSIAN, PD_GAN_INIT_STD, seed));
  *D = net;
  PetscFunctionReturn(0);
}
