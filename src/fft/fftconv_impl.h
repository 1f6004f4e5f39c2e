/* Private state of PdFFTConv, shared by fftconv.c (plans, OTF, operators) and fft_transpose.c
   (buffers and the distributed transforms). */
#ifndef PDECON_FFTCONV_IMPL_H
#define PDECON_FFTCONV_IMPL_H

#include <pdecon/fft/fftconv.h>
#include <fftw3-mpi.h>

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
  size_t          nwork, nspec; /* floats in the work buffer and in a separate spectrum buffer */
  float          *work;         /* real slabs; the 2-D spectra of the planes pass through it */
  float          *spec;         /* spectrum, (kz, ky, kx) layout; the work buffer itself on 1 rank */
  /* peers on this node write and read each other's spectra through a shared-memory window */
  PetscBool       use_shm;      /* -fft_shared_memory */
  PetscInt        shm_ranks;    /* -fft_shared_memory_ranks: most ranks per window (0: a whole node) */
  MPI_Comm        node;         /* ranks of xcomm on this node (MPI_COMM_NULL: all messages) */
  MPI_Win         swin;         /* window holding spec (MPI_WIN_NULL: own allocation) */
  float         **peer_spec;    /* per rank of xcomm: its spectrum if on this node, else NULL */
  float          *otf;          /* ncplx complex values (interleaved), or ncplx reals when otf_real; NULL until a PSF is set */
  PetscBool       otf_real;     /* the OTF is stored as its real part (a centro-symmetric PSF) */
  PetscBool       allow_real;   /* PdFFTConvSetRealOTF: the owner takes the real storage when it applies */
  fftwf_complex  *filter;       /* a second transfer function in the OTF's layout and scale (NULL: none) */
  fftwf_complex **scratch;      /* one 2-D plane spectrum per thread */
  int             nthreads;
  fftwf_plan      plane_fwd, plane_inv; /* one plane: real (padded rows) <-> scratch spectrum */
  /* the columns of zblk spectral rows (ky) along kz, and of the zrem rows left at the end: the
     convolutions transform, filter and transform back one such block at a time, in cache */
  ptrdiff_t       zblk, zrem;
  fftwf_plan      zb_fwd, zb_inv, zr_fwd, zr_inv;
  PdFFTPlaneFn    plane_fn;     /* run on each plane after its inverse transform (NULL: none) */
  void           *plane_ctx;
  MPI_Request    *req;          /* at most one per (plane, peer) and direction */
  double          plan_time;
  PetscBool       setup;
};

/* Allocates work and spec (in shared-memory windows when peers share the node) and the request
   list; frees them. */
PetscErrorCode PdFFTBuffersCreate(PdFFTConv c);
PetscErrorCode PdFFTBuffersDestroy(PdFFTConv c);
/* The distributed transforms without the step along kz: 2-D transforms of the local planes and
   the exchange into the (kz, ky, kx) spectrum, untransformed along kz; and the way back. */
PetscErrorCode PdFFTPlanesForward(PdFFTConv c);
PetscErrorCode PdFFTPlanesInverse(PdFFTConv c);
/* The spectrum along kz, in place, block by block (sign FFTW_FORWARD or FFTW_BACKWARD). */
void PdFFTColumns(PdFFTConv c, int sign);


#include "fft/fft_blocks.h"

#endif
