/* Private structures of the CNN engine (nn.h): layers with an ops table, the network, the work. */
#ifndef PDECON_NN_IMPL_H
#define PDECON_NN_IMPL_H

#include <pdecon/learn/nn.h>
#include <pdecon/core/sys.h>
#include <stddef.h>

typedef struct _PdNNLayer PdNNLayer;
/* oneDNN's engine, stream and primitives of a work (conv_dnnl.c) */
typedef struct _PdNNDnnl *PdNNDnnl;
/* FFT plans, weight spectra and buffers of a work (conv_fft.c) */
typedef struct _PdNNFft *PdNNFft;

/* What one layer's forward or backward reads and writes. in is the previous layer's output, skip
   the skip layer's (concat, residual). Backward: gout = dL/dout; gin / gskip (NULL: not wanted)
   receive dL/din, dL/dskip, added to what is there when add_in / add_skip, written otherwise;
   gw, gb (NULL when frozen) are added to. */
typedef struct {
  PetscInt        dims;
  const PdTensor *in, *skip, *out;
  const PdTensor *gout;
  PdTensor       *gin, *gskip;
  PetscBool       add_in, add_skip;
  const float    *w, *b;
  float          *gw, *gb;
  PdNNWork        work;
} PdNNArgs;

typedef struct {
  /* out shape for the in (and skip) shapes; an error names the layer */
  PetscErrorCode (*shape)(const PdNNLayer *L, PetscInt dims, const PetscInt in[5], const PetscInt skip[5], PetscInt out[5]);
  PetscErrorCode (*forward)(const PdNNLayer *L, PdNNArgs *a);
  PetscErrorCode (*backward)(const PdNNLayer *L, PdNNArgs *a);
} PdNNLayerOps;

struct _PdNNLayer {
  PdNNLayerKind       kind;
  char                name[64];
  PetscInt            cin, cout, k, stride, pad; /* conv, transposed conv */
  PetscBool           bias;
  double              slope;    /* leaky ReLU */
  PetscInt            src, skip; /* ids of the inputs (PD_NN_INPUT: the network input) */
  PetscInt            woff, nw, boff, nb;
  const PdNNLayerOps *ops;
};

typedef struct {
  char     name[64];
  PetscInt n;
  double  *v;
} PdNNMeta;

struct _p_PdNN {
  PetscInt   dims, nl, nalloc;
  PdNNLayer *L;
  PetscBool  setup, frozen;
  PdNNBackend backend; /* of the convolutions */
  PetscInt   np;
  float     *theta, *grad, *lrmult;
  PetscInt  *lastread, *ibuf; /* last reader of each output (input first); inference buffers */
  PetscInt   nmeta;
  PdNNMeta  *meta;
  PdNNWork   work; /* the network's own */
};

/* A buffer that only grows. */
typedef struct {
  float *v;
  size_t cap;
} PdNNBuf;

struct _p_PdNNWork {
  PdNN      net;
  PetscBool training;
  PetscInt  nl;
  PdTensor  in;                /* the input of the last forward (a view) */
  PdTensor *act, *gact;        /* per layer: output, dL/doutput (views of abuf, gbuf) */
  PdNNBuf  *abuf, *gbuf;
  PdNNBuf   gin;               /* dL/dinput */
  PdNNBuf   scratch;           /* per-layer temporaries (im2col, per-thread gradients) */
  PetscBool forwarded;
  PdNNDnnl  dnnl;              /* oneDNN primitives (made at the first use) */
  PetscErrorCode (*dnnl_destroy)(PdNNDnnl *); /* set by the backend that made dnnl */
  PdNNFft   fft;               /* FFT plans and weight spectra (made at the first use) */
  PetscErrorCode (*fft_destroy)(PdNNFft *);
};

PETSC_INTERN PetscErrorCode PdNNBufReserve(PdNNBuf *b, size_t n);
PETSC_INTERN PetscErrorCode PdNNBufFree(PdNNBuf *b);
/* n floats of scratch in work (grown if needed, contents undefined). */
PETSC_INTERN PetscErrorCode PdNNWorkScratch(PdNNWork work, size_t n, float **s);

/* The shape function of layers whose output has their input's shape. */
PETSC_INTERN PetscErrorCode PdNNSameShape(const PdNNLayer *L, PetscInt dims, const PetscInt in[5], const PetscInt skip[5], PetscInt out[5]);

/* Ops tables, one per file. */
PETSC_INTERN const PdNNLayerOps PdNNConvOps, PdNNConvTranspose2Ops, PdNNReLUOps, PdNNLeakyReLUOps, PdNNSigmoidOps, PdNNMaxPool2Ops, PdNNUpsample2Ops, PdNNInstanceNormOps, PdNNConcatOps, PdNNResidualOps, PdNNAvgPool3Ops;

/* g[i] += Σ_t part[t·len + i]: per-thread weight gradients summed into the flat array. */
PETSC_INTERN void PdNNSumThreadGrads(const float *part, PetscInt nt, PetscInt len, float *g);
/* gb[o] += Σ over samples and positions of gout[n,o,·] (a bias gradient). */
PETSC_INTERN void PdNNBiasGrad(const PdTensor *gout, float *gb);

/* The convolution on oneDNN (conv_dnnl.c); done false: this shape is not implemented there (or
   the build has no oneDNN), the caller computes it. */
PETSC_INTERN PetscErrorCode PdNNConvDnnlForward(const PdNNLayer *L, PdNNArgs *a, PetscBool *done);
PETSC_INTERN PetscErrorCode PdNNConvDnnlBackward(const PdNNLayer *L, PdNNArgs *a, PetscBool *done);
/* The forward pass of a 2-D stride-1 convolution through FFTs (conv_fft.c). */
PETSC_INTERN PetscErrorCode PdNNConvFftForward(const PdNNLayer *L, PdNNArgs *a);
/* Its real operations for an output of n × oh × ow: the GEMMs' and the transforms' (conv_fft_plan.c). */
PETSC_INTERN void           PdNNConvFftFlops(const PdNNLayer *L, PetscInt n, PetscInt oh, PetscInt ow, double *gemm, double *transforms);
/* The backend new networks take (backend.c). */
PETSC_INTERN PdNNBackend    PdNNDefaultBackend(void);
/* Who computes this convolution's forward (backward false) or backward pass: blas, dnnl or fft
   (backend.c, from the network's backend, the layer's shape and the work's mode). */
PETSC_INTERN PdNNBackend    PdNNConvBackend(const PdNNLayer *L, const PdNNArgs *a, PetscBool backward);
/* Output tile side of the FFT path (-nn_fft_tile); whether its plans are measured (-nn_fft_measure);
   the settings as given (tile 0: by the planner) and their setter (conv_fft_plan.c). */
PETSC_INTERN PetscInt       PdNNFftTile(void);
PETSC_INTERN PetscBool      PdNNFftMeasure(void);
PETSC_INTERN void           PdNNFftGetPlanning(PetscInt *tile, PetscBool *measure);
PETSC_INTERN void           PdNNFftSetPlanning(PetscInt tile, PetscBool measure);
/* Tiles along one axis of O outputs for a k-kernel: FFT size F = T + k − 1 (a fast size), tile
   T at least min(O, tile), n tiles (conv_fft_plan.c). */
PETSC_INTERN void           PdNNFftTileAxis(ptrdiff_t O, ptrdiff_t k, ptrdiff_t tile, ptrdiff_t *F, ptrdiff_t *T, ptrdiff_t *n);

/* Threads for the engine's loops: OpenMP's (the -threads setting). */
PETSC_INTERN int PdNNThreads(void);

/* Shape helpers: spatial sizes of a shape [n c d h w]. */
static inline PetscInt PdNNSpatial(const PetscInt s[5]) { return s[2] * s[3] * s[4]; }
static inline void     PdNNShapeOf(const PdTensor *t, PetscInt s[5])
{
  s[0] = t->n;
  s[1] = t->c;
  s[2] = t->d;
  s[3] = t->h;
  s[4] = t->w;
}

#endif
