/* Isonet-1 and Isonet-2 (Weigert, Royer, Jug, Myers, MICCAI 2017) with the engine (cnn.h):

   Isonet-1:  r = C1,1( ReLU C1,5( ReLU C32,5( ReLU C64,9(x̃) ) ) ),             ŷ = x̃ + r
   Isonet-2:  e1 = ReLU C16,7(x̃),  e2 = ReLU C32,7(M2 e1),  b = ReLU C64,7(M2 e2),
              d2 = ReLU C32,7([U2 b, e2]),  d1 = ReLU C16,7([U2 d2, e1]),         ŷ = x̃ + C1,1(d1)

   C_n,k: n filters k×k, "same" zero padding, bias; M2 max-pooling 2, U2 nearest upsampling 2,
   [a, b] concatenation along channels. The skips concatenate (the U-Net topology of the paper's
   figure, as CSBDeep's U-Net blocks), the 1×1 output layer is linear and the output residual.
   Weights Glorot-uniform, biases 0 (CSBDeep's initialisation); Isonet-1's C1,5 takes its draws in
   absolute value: its inputs are ReLU outputs (>= 0), so its single ReLU unit starts alive. With
   signed weights about half of the draws start with that unit off everywhere, the output is the
   input and no gradient reaches the network. */
#include <pdecon/learn/cnn.h>
#include <math.h>

static PetscErrorCode ConvReLU(PdNN net, const char *name, PetscInt cin, PetscInt cout, PetscInt k)
{
  char relu[64];

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(relu, sizeof(relu), "%s_relu", name));
  PetscCall(PdNNAddConv(net, name, cin, cout, k, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNAddReLU(net, relu));
  PetscFunctionReturn(0);
}

PetscErrorCode PdIsonetCreate(PetscInt version, unsigned long long seed, PdNN *out)
{
  PdNN     net;
  PetscInt e1, e2;

  PetscFunctionBegin;
  PetscCheck(version == 1 || version == 2, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Isonet-%" PetscInt_FMT ": only Isonet-1 and Isonet-2 exist", version);
  PetscCall(PdNNCreate(2, &net));
  if (version == 1) {
    PetscCall(ConvReLU(net, "c1", 1, 64, 9));
    PetscCall(ConvReLU(net, "c2", 64, 32, 5));
    PetscCall(ConvReLU(net, "c3", 32, 1, 5));
    PetscCall(PdNNAddConv(net, "out", 1, 1, 1, 1, PD_NN_SAME, PETSC_TRUE));
  } else {
    PetscCall(ConvReLU(net, "e1", 1, 16, 7));
    PetscCall(PdNNGetLast(net, &e1));
    PetscCall(PdNNAddMaxPool2(net, "pool1"));
    PetscCall(ConvReLU(net, "e2", 16, 32, 7));
    PetscCall(PdNNGetLast(net, &e2));
    PetscCall(PdNNAddMaxPool2(net, "pool2"));
    PetscCall(ConvReLU(net, "b", 32, 64, 7));
    PetscCall(PdNNAddUpsample2(net, "up2"));
    PetscCall(PdNNAddConcat(net, "cat2", e2));
    PetscCall(ConvReLU(net, "d2", 96, 32, 7));
    PetscCall(PdNNAddUpsample2(net, "up1"));
    PetscCall(PdNNAddConcat(net, "cat1", e1));
    PetscCall(ConvReLU(net, "d1", 48, 16, 7));
    PetscCall(PdNNAddConv(net, "out", 16, 1, 1, 1, PD_NN_SAME, PETSC_TRUE));
  }
  PetscCall(PdNNAddResidual(net, "residual", PD_NN_INPUT));
  PetscCall(PdNNSetUp(net));
  PetscCall(PdNNInitialize(net, PD_NN_INIT_GLOROT_UNIFORM, 0, seed));
  if (version == 1) {
    PetscInt id, woff, nw;
    float   *theta;
    PetscCall(PdNNFindLayer(net, "c3", &id));
    PetscCall(PdNNGetLayerInfo(net, id, NULL, NULL, &woff, &nw, NULL, NULL));
    PetscCall(PdNNGetParams(net, &theta, NULL));
    for (PetscInt i = woff; i < woff + nw; i++) theta[i] = fabsf(theta[i]);
  }
  *out = net;
  PetscFunctionReturn(0);
}
