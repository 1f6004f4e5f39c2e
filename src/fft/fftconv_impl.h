/* Private state of PdFFTConv, shared by fftconv.c (plans, OTF, operators) and fft_transpose.c
   (buffers and the distributed transforms). */
#ifndef PDECON_FFTCONV_IMPL_H
#define PDECON_FFTCONV_IMPL_H

#include <pdecon/fft/fftconv.h>
#include <fftw3-mpi.h>

/* The transforms along kz of a block's m columns (kz m apart): the first nbody, a multiple of 4,
   in one plan and the rest (fewer than 4) in another. FFTW's vector codelets take columns four at
   a time; an odd count (n2/2 + 1 is odd for every n2 divisible by 4) sent a whole block down a
   slower path (measured at 64 kz: 129 columns 3.5 ms a spectrum of 256 rows, 128 + 1 2.3 ms). */
typedef struct {
  fftwf_plan body, tail;
  ptrdiff_t  nbody;
} PdKzPlan;

struct _p_PdFFTConv {
  MPI_Comm        comm;         /* the caller's communicator */
  MPI_Comm        xcomm;        /* a duplicate that carries only the transposes' messages */
  int             rank, size;
  ptrdiff_t       n[3], nc;     /* working size (z, y, x); nc = n2/2 + 1 complex values per row */
  unsigned        planner;      /* FFTW_ESTIMATE / FFTW_MEASURE / FFTW_PATIENT */
  char           *prefix;       /* options prefix, NULL: none */
  char            wisdom[PETSC_MAX_PATH_LEN]; /* "" = no wisdom file */
  PdLayout       *lay;          /* real-space slabs of the work buffer */
  ptrdiff_t      *ystart;       /* size + 1 entries: rank r owns spectral rows [ystart[r], ystart[r+1]) */
  ptrdiff_t       nky, ky0;     /* this rank's spectral rows */
  ptrdiff_t       ncplx;        /* complex values in this rank's spectrum: n0 * nky * nc */
  ptrdiff_t       zmax, ymax;   /* the block rule's planes and spectral rows per rank: ceil(n0/P), ceil(n1/P) */
  size_t          nwork;        /* floats in the work buffer: room for the planes and for the slots */
  float          *work;         /* real slabs; the spectrum, in the slots, in the same buffer */
  float          *spec;         /* the work buffer: the spectrum in (kz, ky, kx) order after PdFFTConvForward */
  fftwf_complex **colbuf;       /* one block of spectral columns per thread */
  unsigned char  *visited;      /* zmax * size flags: the slots' permutation to (kz, ky, kx) order */
  float          *otf;          /* ncplx complex values (interleaved), or ncplx reals when otf_real; NULL until a PSF is set */
  PetscBool       otf_real;     /* the OTF is stored as its real part (a centro-symmetric PSF) */
  PetscBool       otf_zhalf;    /* real and even in kz (a PSF also symmetric under z -> -z): kz <= n0/2 stored */
  PetscBool       otf_blocked;  /* stored block by block of spectral rows, in the order the kz blocks read it */
  PetscBool       planes;       /* the work buffer holds its planes' 2-D transforms (PdFFTConvApplyTwoPlanes with keep) */
  PetscBool       allow_real;   /* PdFFTConvSetRealOTF: the OTF is private to H, Hᵀ (real, blocked storage) */
  fftwf_complex  *filter;       /* a second transfer function in the OTF's layout and scale (NULL: none) */
  fftwf_complex **scratch;      /* one 2-D plane spectrum per thread, then PD_FFT_RING - 1 more: thread 0's ring */
  int             nthreads;
  fftwf_plan      plane_fwd, plane_inv; /* one plane: real (padded rows) <-> scratch spectrum */
  /* the columns of zblk spectral rows (ky) along kz, and of the zrem rows left at the end: the
     convolutions transform, filter and transform back one such block at a time, in cache */
  ptrdiff_t       zblk, zrem;
  PdKzPlan        zb[2], zr[2]; /* forward, backward: a block's columns; the last block's */
  PdFFTPlaneFn    plane_fn;     /* run on each plane after its inverse transform (NULL: none) */
  void           *plane_ctx;
  PdFFTPlaneFn    fwd_plane_fn; /* run on each plane before its forward transform (NULL: none) */
  void           *fwd_plane_ctx;
  MPI_Request    *req;          /* at most one per (plane, peer) and direction */
  double          plan_time;
  PetscBool       setup;
};

/* Allocates the work buffer, the column blocks and the request list; frees them. */
PetscErrorCode PdFFTBuffersCreate(PdFFTConv c);
PetscErrorCode PdFFTBuffersDestroy(PdFFTConv c);
/* The distributed transforms without the step along kz: 2-D transforms of the local planes and
   the exchange into the slots (fft_blocks.h), untransformed along kz; and the way back. */
PetscErrorCode PdFFTPlanesForward(PdFFTConv c);
PetscErrorCode PdFFTPlanesInverse(PdFFTConv c);
/* Between two convolutions: the first's inverse plane transforms, fn on each plane, and the
   second's forward plane transforms, plane by plane while each is in cache where the slots allow
   it (the slots of a plane are its own rows), else one after the other. Logs its own events. */
PetscErrorCode PdFFTPlanesBetween(PdFFTConv c, PdFFTPlaneFn fn, void *ctx);
/* The inverse plane transforms, then the forward ones, each over the whole volume (with the
   plane functions set); logged. */
PetscErrorCode PdFFTPlanesInverseThenForward(PdFFTConv c);
/* The spectrum along kz, block by block (sign FFTW_FORWARD or FFTW_BACKWARD), where it lies. */
void PdFFTColumns(PdFFTConv c, int sign);
/* The spectrum from the slots into (kz, ky, kx) order and back (nothing to do on one rank). */
void PdFFTSlotsToSpectrum(PdFFTConv c);
void PdFFTSpectrumToSlots(PdFFTConv c);


#include "fft/fft_blocks.h"

#endif
