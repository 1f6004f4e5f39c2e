/* The CNN engine: a network is an ordered list of layers, 2D (d = 1) or 3D, on NCDHW float
   tensors (nn_tensor.h). Each layer reads the output of the layer added before it (the first reads
   the network input); the skip layers (concatenation, residual add) also read an earlier layer
   named by its id, so U-Nets and residual nets are lists too.

     PdNN net;
     PetscInt e1;
     PdNNCreate(2, &net);
     PdNNAddConv(net, "c1", 1, 16, 7, 1, PD_NN_SAME, PETSC_TRUE); PdNNAddReLU(net, "r1");
     PdNNGetLast(net, &e1);                       // keep the id for the skip
     PdNNAddMaxPool2(net, "p1"); ... PdNNAddUpsample2(net, "u1");
     PdNNAddConcat(net, "cat1", e1);              // [upsampled, e1] along channels
     PdNNAddConv(net, "out", 16, 1, 1, 1, PD_NN_SAME, PETSC_TRUE);
     PdNNAddResidual(net, "res", PD_NN_INPUT);    // ŷ = x̃ + r
     PdNNSetUp(net);                              // parameters, the flat gradient buffer
     PdNNInitialize(net, PD_NN_INIT_GLOROT_UNIFORM, 0, seed);

   All parameters are one contiguous float array and all gradients another of the same layout
   (PdNNGetParams, PdNNGetGrads): data-parallel training is one MPI_Allreduce on the gradients and
   one optimiser step on the whole array. Within a layer the weights come first, then the biases.

   Forward and backward keep their activations and work buffers in a PdNNWork (pass NULL for the
   network's own): two works let one network run twice before one backward pass (CycleGAN's G).
   Buffers grow to the largest batch and size seen and are reused: no allocation after the first
   call at a given size. The engine is per rank; its loops use OpenMP threads and OpenBLAS.

   The equations of each layer are in the comment atop its source file (src/learn/nn/). */
#ifndef PDECON_NN_H
#define PDECON_NN_H

#include <petscviewer.h>
#include <pdecon/learn/nn_tensor.h>
#include <pdecon/learn/nn_loss.h>
#include <pdecon/learn/nn_sgd.h>
#include <pdecon/learn/adam.h>

typedef struct _p_PdNN     *PdNN;
typedef struct _p_PdNNWork *PdNNWork;

/* Layer references: ids count the layers from 0 in the order added; PD_NN_INPUT is the input. */
#define PD_NN_INPUT (-1)
/* Convolution padding: "same" (odd k: p = (k−1)/2 each side), "valid" (p = 0) or any p >= 0. */
#define PD_NN_SAME  (-1)
#define PD_NN_VALID 0

typedef enum {
  PD_NN_CONV,
  PD_NN_CONV_TRANSPOSE2,
  PD_NN_RELU,
  PD_NN_LEAKY_RELU,
  PD_NN_SIGMOID,
  PD_NN_MAXPOOL2,
  PD_NN_UPSAMPLE2,
  PD_NN_INSTANCE_NORM,
  PD_NN_CONCAT,
  PD_NN_RESIDUAL,
  PD_NN_AVGPOOL3
} PdNNLayerKind;
/* Names as written in model files, in enum order. */
extern const char *const PdNNLayerKinds[];

/* Convolution backends: im2col + OpenBLAS SGEMM ("blas"), oneDNN's direct convolutions ("dnnl",
   when pdecon is built with oneDNN; shapes oneDNN lacks fall back to blas), per layer the one
   measured faster for its shape ("auto", the default; blas when built without oneDNN), or FFT
   convolution for the forward passes of inference works, 2-D, stride 1, odd k >= 5, and auto's
   choice for the rest ("fft"; auto takes it too where it is faster). A network takes -nn_backend
   when given, else the default (PdNNSetDefaultBackend); PdNNSetBackend changes one network. */
typedef enum { PD_NN_BACKEND_BLAS, PD_NN_BACKEND_DNNL, PD_NN_BACKEND_AUTO, PD_NN_BACKEND_FFT } PdNNBackend;
extern const char *const PdNNBackends[];
PetscBool      PdNNBackendAvailable(PdNNBackend backend);
PetscErrorCode PdNNSetDefaultBackend(PdNNBackend backend);
/* -nn_backend auto|blas|dnnl|fft, -nn_fft_tile and -nn_fft_measure (collective on comm): the
   default backend and the FFT path's output tile and planning, listed by -help; for commands
   that check their options before they build a network. */
PetscErrorCode PdNNBackendSetFromOptions(MPI_Comm comm);
PetscErrorCode PdNNSetBackend(PdNN net, PdNNBackend backend);
PetscErrorCode PdNNGetBackend(PdNN net, PdNNBackend *backend);

/* dims 2 (NCHW, d = 1) or 3 (NCDHW). */
PetscErrorCode PdNNCreate(PetscInt dims, PdNN *net);
PetscErrorCode PdNNDestroy(PdNN *net);

/* Layers. Names are unique within a network (at most 63 characters); they name the layer's group
   in model files and its learning-rate multipliers.
   Conv: cross-correlation with a k^dims kernel, stride 1 or 2, padding PD_NN_SAME, PD_NN_VALID or
   p >= 0 zeros on each side; weights [cout][cin][k]^dims, bias [cout] (bias PETSC_FALSE: none,
   e.g. before instance normalisation). Output size (n + 2p − k)/stride + 1, rounded down. */
PetscErrorCode PdNNAddConv(PdNN net, const char name[], PetscInt cin, PetscInt cout, PetscInt k, PetscInt stride, PetscInt pad, PetscBool bias);
/* Transposed convolution, kernel 2, stride 2 (output twice the size, blocks do not overlap):
   out[o, 2z+a, 2y+b, 2x+c] = bias[o] + Σ_i W[i,o,a,b,c]·in[i,z,y,x]; weights [cin][cout][2]^dims. */
PetscErrorCode PdNNAddConvTranspose2(PdNN net, const char name[], PetscInt cin, PetscInt cout, PetscBool bias);
PetscErrorCode PdNNAddReLU(PdNN net, const char name[]);
PetscErrorCode PdNNAddLeakyReLU(PdNN net, const char name[], double slope);
PetscErrorCode PdNNAddSigmoid(PdNN net, const char name[]);
/* Max-pooling 2 (stride 2, odd sizes rounded down); the gradient goes to the first maximum of
   each block in raster order. */
PetscErrorCode PdNNAddMaxPool2(PdNN net, const char name[]);
/* Nearest-neighbour upsampling ×2 (each value copied into its 2^dims block). */
PetscErrorCode PdNNAddUpsample2(PdNN net, const char name[]);
/* Average pooling, kernel 3, stride 2, padding 1, the padding not counted in the mean (PyTorch's
   count_include_pad=False): output side ⌊(n − 1)/2⌋ + 1 (multi-scale discriminators). */
PetscErrorCode PdNNAddAvgPool3(PdNN net, const char name[]);
/* Instance normalisation, affine = False: per sample and channel, y = (x − μ)/sqrt(σ² + 1e−5), μ
   and the biased σ² over the channel's voxels; no running statistics. */
PetscErrorCode PdNNAddInstanceNorm(PdNN net, const char name[]);
/* Concatenation along channels: [previous layer's output, skip's output] (same spatial size). */
PetscErrorCode PdNNAddConcat(PdNN net, const char name[], PetscInt skip);
/* Residual add: previous layer's output + skip's output (same shape). */
PetscErrorCode PdNNAddResidual(PdNN net, const char name[], PetscInt skip);

/* The id of the last layer added (PD_NN_INPUT when none), and of a layer by name (-2: none). */
PetscErrorCode PdNNGetLast(PdNN net, PetscInt *id);
PetscErrorCode PdNNFindLayer(PdNN net, const char name[], PetscInt *id);
PetscErrorCode PdNNGetNumLayers(PdNN net, PetscInt *n);
/* A layer's kind, name, and where its parameters sit in the flat arrays (nw weights from woff,
   nb biases from boff; 0 when it has none). */
PetscErrorCode PdNNGetLayerInfo(PdNN net, PetscInt id, PdNNLayerKind *kind, const char **name, PetscInt *woff, PetscInt *nw, PetscInt *boff, PetscInt *nb);

/* Freezes the layer list, allocates the parameters (zero), the gradients (zero) and the
   learning-rate multipliers (1). Checks that channel counts agree along the list. */
PetscErrorCode PdNNSetUp(PdNN net);

/* Initialisers (weights; biases become 0), each layer from its own counter-based random stream
   (seed, layer id), so a network is the same on every rank and a layer does not depend on the
   others:
     PD_NN_INIT_GAUSSIAN        N(0, std²)               (SRCNN: 0.001; CycleGAN family: 0.02)
     PD_NN_INIT_GLOROT_UNIFORM  U(−a, a), a = sqrt(6/(fan_in + fan_out)), fan = channels·k^dims
     PD_NN_INIT_KAIMING_NORMAL  N(0, 2/fan_in)
   std is used by PD_NN_INIT_GAUSSIAN only. PdNNInitializeLayer does one layer. */
typedef enum { PD_NN_INIT_GAUSSIAN, PD_NN_INIT_GLOROT_UNIFORM, PD_NN_INIT_KAIMING_NORMAL } PdNNInit;
PetscErrorCode PdNNInitialize(PdNN net, PdNNInit init, double std, unsigned long long seed);
PetscErrorCode PdNNInitializeLayer(PdNN net, PetscInt id, PdNNInit init, double std, unsigned long long seed);

/* The flat arrays (after PdNNSetUp): parameters, gradients and per-parameter learning-rate
   multipliers, n values each. They are the network's own storage. */
PetscErrorCode PdNNGetParams(PdNN net, float **theta, PetscInt *n);
PetscErrorCode PdNNGetGrads(PdNN net, float **grad, PetscInt *n);
PetscErrorCode PdNNGetLRMults(PdNN net, const float **mult, PetscInt *n);
/* Learning-rate multipliers of one layer's weights and biases (Caffe's lr_mult). */
PetscErrorCode PdNNSetLRMult(PdNN net, PetscInt id, double wmult, double bmult);
PetscErrorCode PdNNZeroGrads(PdNN net);
/* Frozen: backward passes gradients to the input but leaves the parameter gradients alone
   (a discriminator during the generator step). */
PetscErrorCode PdNNSetFrozen(PdNN net, PetscBool frozen);

/* Output shape for an input shape (n, c, d, h, w); error if the input does not fit (channels,
   a size that becomes 0, a concat/residual whose sizes disagree). */
PetscErrorCode PdNNGetOutputShape(PdNN net, const PetscInt in[5], PetscInt out[5]);

/* Receptive-field radius per axis (z, y, x; z is 0 for a 2-D network): an input voxel farther
   than r[a] voxels along axis a from an output voxel cannot change it (receptive_field.c gives the
   rule; instance normalisation's whole-input statistics are not counted). multiple (NULL: not
   wanted): the largest down-sampling factor, 2^depth for a U-Net (sides must be multiples of it). */
PetscErrorCode PdNNGetReceptiveField(PdNN net, PetscInt r[3], PetscInt *multiple);

PetscErrorCode PdNNWorkCreate(PdNN net, PdNNWork *work);
PetscErrorCode PdNNWorkDestroy(PdNNWork *work);
/* Training (default): forward keeps what backward needs. Inference: it does not, and the work
   holds only a few activations at a time (whole images and volumes). */
PetscErrorCode PdNNWorkSetTraining(PdNNWork work, PetscBool training);

/* out becomes a view of the output in work (NULL: the network's own), valid until the next
   forward with that work. in must stay unchanged until the backward pass. */
PetscErrorCode PdNNForward(PdNN net, PdNNWork work, const PdTensor *in, PdTensor *out);
/* Back-propagates dout (the output's shape) through the last forward with work: adds the
   parameter gradients to PdNNGetGrads (unless frozen); din (NULL: not wanted) becomes a view of
   dL/din in work. */
PetscErrorCode PdNNBackward(PdNN net, PdNNWork work, const PdTensor *dout, PdTensor *din);

/* Named metadata of a model (e.g. normalisation, patch size): n doubles, saved with the model as
   attributes "meta_<name>" and read back by PdNNLoad. Get errors if absent or of another size. */
PetscErrorCode PdNNSetMeta(PdNN net, const char name[], PetscInt n, const double vals[]);
PetscErrorCode PdNNGetMeta(PdNN net, const char name[], PetscInt n, double vals[]);

/* Model files (HDF5; rank 0 writes atomically, collective on comm): root attributes
   "model_kind" (string, e.g. "isonet1"), "dims", "layers" (the names in order) and the meta
   values; a group per layer with attributes "kind", "shape" (kind-specific integers: cin, cout,
   k, stride, pad, bias; or slope, skip) and datasets "weight", "bias" (float32), plus the
   optimiser state when adam or sgd is given ("adam_m", "adam_v", "sgd_V" per layer, root
   attribute "adam_t").
   PdNNLoad fills a network built (and set up) by the caller: the file must have the same kind,
   the same layers with the same shapes, and finite values; otherwise one error line naming the
   file and the problem, on every rank. adam / sgd (NULL: skipped) are restored when given; a file
   without that state is an error then. */
PetscErrorCode PdNNSave(PdNN net, MPI_Comm comm, const char path[], const char kind[], PdAdam adam, PdSGD sgd);
PetscErrorCode PdNNLoad(PdNN net, MPI_Comm comm, const char path[], const char kind[], PdAdam adam, PdSGD sgd);
/* The model kind stored in a file, to choose the network before loading (kind of size len). */
PetscErrorCode PdNNFileKind(MPI_Comm comm, const char path[], char kind[], size_t len);

/* A metadata value of a model file (n doubles) before any network is built, e.g. the sizes to
   build it from. Collective; an error line naming the file when absent or of another size. */
PetscErrorCode PdNNFileMeta(MPI_Comm comm, const char path[], const char name[], PetscInt n, double vals[]);

/* One line per layer: name, kind, output channels, parameters. */
PetscErrorCode PdNNView(PdNN net, PetscViewer v);

#endif
