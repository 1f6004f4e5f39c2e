/* SRCNN 9-1-5 (Dong, Loy, He, Tang, ECCV 2014) with the engine (cnn.h):

     F1 = max(0, W1 ∗ Y + B1)   64 filters 9×9
     F2 = max(0, W2 ∗ F1 + B2)  32 filters 1×1
     F  = W3 ∗ F2 + B3          1 filter 5×5, linear

   valid convolutions (a 33×33 input gives 21×21), N(0, 0.001²) weights, zero biases, and Caffe's
   learning-rate multipliers of the official network. */
#include <pdecon/learn/cnn.h>

PetscErrorCode PdSRCNNCreate(unsigned long long seed, PdNN *out)
{
  PdNN net;

  PetscFunctionBegin;
  PetscCall(PdNNCreate(2, &net));
  PetscCall(PdNNAddConv(net, "conv1", 1, 64, 9, 1, PD_NN_VALID, PETSC_TRUE));
  PetscCall(PdNNAddReLU(net, "relu1"));
  PetscCall(PdNNAddConv(net, "conv2", 64, 32, 1, 1, PD_NN_VALID, PETSC_TRUE));
  PetscCall(PdNNAddReLU(net, "relu2"));
  PetscCall(PdNNAddConv(net, "conv3", 32, 1, 5, 1, PD_NN_VALID, PETSC_TRUE));
  PetscCall(PdNNSetUp(net));
  PetscCall(PdNNInitialize(net, PD_NN_INIT_GAUSSIAN, 0.001, seed));
  PetscCall(PdNNSetLRMult(net, 0, 1.0, 0.1));
  PetscCall(PdNNSetLRMult(net, 2, 1.0, 0.1));
  PetscCall(PdNNSetLRMult(net, 4, 0.1, 0.1));
  *out = net;
  PetscFunctionReturn(0);
}
