/* The 2-D restoration networks, built with the CNN engine (nn.h):

   SRCNN 9-1-5 (Dong, Loy, He, Tang, ECCV 2014), valid convolutions, input side s → output s − 12:
     C64,9×9 + ReLU → C32,1×1 + ReLU → C1,5×5 (linear)
     init N(0, 0.001²), biases 0; learning-rate multipliers (weights, biases) (1, 0.1), (1, 0.1),
     (0.1, 0.1): the last layer learns ten times slower, as the paper needs to converge.
   Isonet-1 (Weigert, Royer, Jug, Myers, MICCAI 2017), "same" convolutions, residual output:
     r = C1,1×1( ReLU C1,5×5( ReLU C32,5×5( ReLU C64,9×9(x̃) ) ) ),   ŷ = x̃ + r
   Isonet-2, U-Net-like with concatenated skips (sides divisible by 4):
     e1 = ReLU C16,7×7(x̃);  e2 = ReLU C32,7×7(M2 e1);  b = ReLU C64,7×7(M2 e2)
     d2 = ReLU C32,7×7([U2 b, e2]);  d1 = ReLU C16,7×7([U2 d2, e1]);  ŷ = x̃ + C1,1×1(d1)
   Isonet-2's weights start Glorot-uniform, Isonet-1's He-normal for the ReLU layers with the C1,5
   weights in absolute value and the output layer's weights 0, so that it starts as ŷ = x̃; biases 0.

   A model file is the engine's (PdNNSave) with model_kind "srcnn", "isonet1" or "isonet2". */
#ifndef PDECON_CNN_H
#define PDECON_CNN_H

#include <pdecon/learn/nn.h>

typedef enum { PD_CNN_SRCNN, PD_CNN_ISONET1, PD_CNN_ISONET2 } PdCNNKind;
/* "srcnn", "isonet1", "isonet2" (model_kind in files, -model in pdecon), in enum order. */
extern const char *const PdCNNKinds[];

/* The kind named s; PETSC_FALSE when s names none of them. */
PetscBool PdCNNKindFromString(const char *s, PdCNNKind *kind);
/* The network of a kind, set up, with its paper's initialisation from seed and its learning-rate
   multipliers. */
PetscErrorCode PdCNNCreate(PdCNNKind kind, unsigned long long seed, PdNN *net);
PetscErrorCode PdSRCNNCreate(unsigned long long seed, PdNN *net);
PetscErrorCode PdIsonetCreate(PetscInt version, unsigned long long seed, PdNN *net);
/* Isonet's initialisations: "glorot" (CSBDeep's Glorot-uniform), "identity" (the same with the
   output layer's weights 0: r = 0 at the start), "he" (identity with He-normal weights for the
   ReLU layers). PdIsonetCreate takes the version's default: he for Isonet-1, glorot for Isonet-2
   (isonet.c says why). */
typedef enum { PD_ISONET_INIT_IDENTITY, PD_ISONET_INIT_GLOROT, PD_ISONET_INIT_HE } PdIsonetInit;
extern const char *const PdIsonetInits[];
PdIsonetInit   PdIsonetDefaultInit(PetscInt version);
PetscErrorCode PdIsonetInitialize(PdNN net, PetscInt version, PdIsonetInit init, unsigned long long seed);
/* Isonet-1's single C1,5 ReLU unit on the inputs x (n×1×h×w): npos of the ntot pre-activations
   are positive (the unit passes a signal and a gradient there). */
PetscErrorCode PdIsonet1UnitActivity(PdNN net, const PdTensor *x, double *npos, double *ntot);
/* Pixels lost at each border by valid convolutions (SRCNN 6, Isonet 0), and the factor image
   sides must be divisible by (Isonet-2 4, others 1). */
PetscInt PdCNNBorder(PdCNNKind kind);
PetscInt PdCNNSideMultiple(PdCNNKind kind);
/* A model file: its kind (an error naming the file when it is not one of these), the network
   built and loaded (shapes and finite values checked by the engine). Collective. */
PetscErrorCode PdCNNLoad(MPI_Comm comm, const char *path, PdCNNKind *kind, PdNN *net);

/* The network on one image of ny × nx pixels (row-major), output of the same size: SRCNN's input
   is first padded by its border with replicated edge pixels, Isonet-2's reflected up to sides
   divisible by 4 and the output cropped back. work: inference work of the network. */
PetscErrorCode PdCNNApply2D(PdCNNKind kind, PdNN net, PdNNWork work, PetscInt ny, PetscInt nx, const float *in, float *out);

#endif
