/* Minimal assertion helpers for pdecon's test programs (run under mpirun by ctest). */
#ifndef PDECON_TESTUTIL_H
#define PDECON_TESTUTIL_H
#include <pdecon/core/sys.h>
#include <stdio.h>

extern int pd_test_failures;

/* Records a failure on this rank (printed with the rank number); the test fails if any rank fails. */
#define PD_EXPECT(cond, ...) \
  do { \
    if (!(cond)) { \
      int _r; MPI_Comm_rank(MPI_COMM_WORLD, &_r); \
      fprintf(stderr, "[%d] FAIL %s:%d: ", _r, __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); \
      pd_test_failures++; \
    } \
  } while (0)

/* Relative difference ||a-b|| / max(||b||, tiny) over n floats (local only). */
double PdTestRelDiff(const float *a, const float *b, size_t n);
/* Deterministic uniform [0,1) numbers from a seed (rank independent). */
double PdTestUniform(unsigned long long *state);
/* A small problem for method tests: h a 5×5×5 anisotropic Gaussian PSF (sum 1), y (nm voxels)
   background b plus sparse random bright voxels (30 % of them, up to b + 20). */
void PdTestSmallProblem(ptrdiff_t nm, double b, unsigned long long *seed, float *y, float h[125]);
/* A simulated acquisition for method tests: microtubule phantom (ntubes tubes, default phantom
   options otherwise) blurred by the solver's own operator (d set up), Poisson noise at snr_db
   with background bg, written into d's data. *truth (photon units, on the data layout; free with
   PdVolumeFree) and the PSNR of the data against it. */
typedef struct _p_PdDecon *PdTestDecon;
PetscErrorCode PdTestSimulate(PdTestDecon d, PetscInt ntubes, double snr_db, double bg, unsigned long long seed, float **truth, double *psnr_data);
/* Sets the method and its parameters (and the boundary, if not padded) on a new solver. */
typedef PetscErrorCode (*PdTestConfigure)(PdTestDecon d, const void *ctx);
/* Solves on comm, for iters iterations, the problem of image size m (yall, present on every rank
   of comm), PSF h of size pn and background b, with the solver set from the options and then by
   configure(d, ctx); the image-box estimate gathered on rank 0 (*xall; PetscFree). */
PetscErrorCode PdTestSolve(MPI_Comm comm, PdTestConfigure configure, const void *ctx, const ptrdiff_t m[3], const float *yall, const ptrdiff_t pn[3], const float *h, double b, int iters, float **xall);
/* Solves a configured solver on the compact image yall (present on every rank of its
   communicator) and gathers the image-box estimate on rank 0 (*xall; PetscFree). */
PetscErrorCode PdTestSolveGather(PdTestDecon d, const float *yall, float **xall);
/* Solves `method` (its options read after it is set) for nv views of an m image on comm: PSFs
   psfs and data ys one compact volume after another (on every rank), background b, its
   iterations; as_psf (nv = 1): the view given as an ordinary PSF instead of a view list. The
   image-box estimate gathered on rank 0 (*x; PetscFree). */
PetscErrorCode PdTestSolveViews(MPI_Comm comm, const char *method, const ptrdiff_t m[3], PetscInt nv, const ptrdiff_t pn[3], const float *psfs, PetscBool as_psf, const float *ys, double b, PetscInt its, float **x);

/* Direct convolution of the compact volume x (size n) with psf (size pn, centre c):
   out[i] = sum_k psf[k] x[i - (k - c)] (transpose: x[i + (k - c)]), indices taken modulo n
   (periodic) or dropped (zero outside). */
void PdTestDirectConv(const ptrdiff_t n[3], const float *x, const ptrdiff_t pn[3], const float *psf, const ptrdiff_t c[3], int periodic, int transpose, double *out);

/* PetscInitialize + PdInitializePackage. */
PetscErrorCode PdTestInitialize(int *argc, char ***argv);
/* Reduces failures over ranks, prints one summary line on rank 0, finalizes; returns exit code. */
int PdTestFinalize(const char *name);
#endif
