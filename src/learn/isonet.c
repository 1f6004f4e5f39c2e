/* Isonet-1 and Isonet-2 (Weigert, Royer, Jug, Myers, MICCAI 2017) with the engine (cnn.h):

   Isonet-1:  r = C1,1( ReLU C1,5( ReLU C32,5( ReLU C64,9(x̃) ) ) ),             ŷ = x̃ + r
   Isonet-2:  e1 = ReLU C16,7(x̃),  e2 = ReLU C32,7(M2 e1),  b = ReLU C64,7(M2 e2),
              d2 = ReLU C32,7([U2 b, e2]),  d1 = ReLU C16,7([U2 d2, e1]),         ŷ = x̃ + C1,1(d1)

   C_n,k: n filters k×k, "same" zero padding, bias; M2 max-pooling 2, U2 nearest upsampling 2,
   [a, b] concatenation along channels. The skips concatenate (the U-Net topology of the paper's
   figure, as CSBDeep's U-Net blocks), the 1×1 output layer is linear and the output residual.

   Initialisation (PdIsonetInit): biases 0 and
     glorot    Glorot-uniform weights (CSBDeep's; Isonet-2's default),
     identity  the same with the output layer's weights 0, so that r = 0 and ŷ = x̃ at the start,
     he        identity with He-normal weights, N(0, 2/fan_in), for the convolutions followed by a
               ReLU (Isonet-1's default);
   Isonet-1's C1,5 takes its draws in absolute value: its inputs are ReLU outputs (>= 0), so its
   single ReLU unit starts alive (with signed weights about half of the draws start with it off
   everywhere). With Glorot's output weight (uniform in ±√3 for a 1×1 layer from one channel)
   Isonet-1 starts with a residual of the size of the data (validation PSNR −0.7 dB against the
   input's 14.9). When that weight is negative the unit can only lower the input, and Adam's first
   steps, which move every parameter by about the learning rate, remove the residual fastest by
   pushing the C1,5 pre-activation below 0 everywhere: the unit died within 12 to 20 steps (2 of 4
   seeds) and only the output bias learnt after that. A zero output weight takes the sign the data
   ask for; He's scale, which keeps the activations' variance through the ReLUs, then learnt faster
   than Glorot's for each seed tried. Isonet-2's output layer reads 16 channels (Glorot bound 0.59,
   a small initial residual): it learnt faster from "glorot" than from "identity", and "he" gave
   the same PSNR (docs/cnn_methods.md). */
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
  PetscCall(PdIsonetInitialize(net, version, PdIsonetDefaultInit(version), seed));
  *out = net;
  PetscFunctionReturn(0);
}

PdIsonetInit PdIsonetDefaultInit(PetscInt version) { return version == 1 ? PD_ISONET_INIT_HE : PD_ISONET_INIT_GLOROT; }

const char *const PdIsonetInits[] = {"identity", "glorot", "he", "PdIsonetInit", "PD_ISONET_INIT_", NULL};

/* Sets every parameter of one of PdIsonetCreate's networks from seed. */
PetscErrorCode PdIsonetInitialize(PdNN net, PetscInt version, PdIsonetInit init, unsigned long long seed)
{
  PetscInt id, woff, nw;
  float   *theta;

  PetscFunctionBegin;
  PetscCall(PdNNInitialize(net, PD_NN_INIT_GLOROT_UNIFORM, 0, seed));
  if (init == PD_ISONET_INIT_HE) {
    PetscInt nl;
    PetscCall(PdNNGetNumLayers(net, &nl));
    for (PetscInt l = 0; l + 1 < nl; l++) {
      PdNNLayerKind k0, k1;
      PetscCall(PdNNGetLayerInfo(net, l, &k0, NULL, NULL, NULL, NULL, NULL));
      PetscCall(PdNNGetLayerInfo(net, l + 1, &k1, NULL, NULL, NULL, NULL, NULL));
      if (k0 == PD_NN_CONV && k1 == PD_NN_RELU) PetscCall(PdNNInitializeLayer(net, l, PD_NN_INIT_KAIMING_NORMAL, 0, seed));
    }
  }
  PetscCall(PdNNGetParams(net, &theta, NULL));
  if (version == 1) {
    PetscCall(PdNNFindLayer(net, "c3", &id));
    PetscCall(PdNNGetLayerInfo(net, id, NULL, NULL, &woff, &nw, NULL, NULL));
    for (PetscInt i = woff; i < woff + nw; i++) theta[i] = fabsf(theta[i]);
  }
  if (init != PD_ISONET_INIT_GLOROT) {
    PetscCall(PdNNFindLayer(net, "out", &id));
    PetscCall(PdNNGetLayerInfo(net, id, NULL, NULL, &woff, &nw, NULL, NULL));
    PetscCall(PetscArrayzero(theta + woff, nw));
  }
  PetscFunctionReturn(0);
}

/* Isonet-1's C1,5 pre-activation on x: the first three convolutions of net (their parameters lead
   the flat array) in a network of their own. */
PetscErrorCode PdIsonet1UnitActivity(PdNN net, const PdTensor *x, double *npos, double *ntot)
{
  PdNN     probe;
  PdTensor a;
  float   *src, *dst;
  PetscInt n, m, id, nl;

  PetscFunctionBegin;
  PetscCall(PdNNFindLayer(net, "c3", &id));
  PetscCall(PdNNGetNumLayers(net, &nl));
  PetscCheck(id == 4 && nl == 8, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "not an Isonet-1 network");
  PetscCall(PdNNCreate(2, &probe));
  PetscCall(ConvReLU(probe, "c1", 1, 64, 9));
  PetscCall(ConvReLU(probe, "c2", 64, 32, 5));
  PetscCall(PdNNAddConv(probe, "c3", 32, 1, 5, 1, PD_NN_SAME, PETSC_TRUE));
  PetscCall(PdNNSetUp(probe));
  PetscCall(PdNNGetParams(net, &src, &n));
  PetscCall(PdNNGetParams(probe, &dst, &m));
  PetscCall(PetscArraycpy(dst, src, m));
  PetscCall(PdNNForward(probe, NULL, x, &a));
  *npos = 0;
  for (PetscInt i = 0; i < PdTensorSize(&a); i++) *npos += a.v[i] > 0;
  *ntot = (double)PdTensorSize(&a);
  PetscCall(PdNNDestroy(&probe));
  PetscFunctionReturn(0);
}
