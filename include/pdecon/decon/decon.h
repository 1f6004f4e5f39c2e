/* PdDecon: one solver object for every iterative deconvolution method.

   Model: y ~ Poisson(H x + b) on the measured box, x >= 0. The object owns the distributed FFT
   convolution, the measured data y, the background b, the current estimate x and the method's
   state; every method runs through the same loop (PdDeconSolve) with the same monitors,
   convergence test and results.

   Typical use:
     PdDeconCreate(comm, &d); PdDeconSetFromOptions(d);
     PdDeconSetImageSize(d, m, "data.tif"); PdDeconSetPSF(d, pn, psf, "psf.tif");
     PdDeconSetUp(d);                       plans FFTs, computes the OTF
     PdDeconGetData(d, &lay, &y);           fill y (e.g. PdImageRead(spec, lay, y))
     PdDeconSolve(d); PdDeconGetSolution(d, &lay, &x);

   Boundaries: "padded" (default) works on the image padded by the PSF extent (rounded up to FFT
   friendly sizes) and treats voxels outside the measured box as unknown (Bertero-Boccacci
   weights: the data term lives on the box only and updates are normalised by Hᵀ1). "periodic"
   uses the image size as is (wrap-around). */
#ifndef PDECON_DECON_H
#define PDECON_DECON_H

#include <pdecon/fft/fftconv.h>
#include <pdecon/psf/psfprep.h>

typedef struct _p_PdDecon *PdDecon;

typedef enum {
  PD_DECON_ITERATING       = 0,
  PD_DECON_CONVERGED_RTOL  = 2,  /* ||x_{k+1} - x_k|| / ||x_k|| < rtol */
  PD_DECON_CONVERGED_ITS   = 3,  /* ran max_it iterations */
  PD_DECON_CONVERGED_STOP_RULE = 4, /* the stop rule (stop_rule.h) was met */
  PD_DECON_DIVERGED_NANORINF = -4,
  PD_DECON_STOPPED_SIGNAL  = -5   /* SIGTERM/SIGUSR1: checkpoint written, resume with -restart */
} PdDeconConvergedReason;
extern const char *const PdDeconConvergedReasons[];

typedef enum { PD_BOUNDARY_PADDED, PD_BOUNDARY_PERIODIC } PdBoundary;
extern const char *const PdBoundaryTypes[];

/* The initial estimate (-decon_start; decon/start.c): the flat mean flux, the data above the
   background (the smooth start outside the image box), the data back-projected,
   w · Hᵀ(M (y − b)₊), the data's Wiener filter, or the solution of the problem binned 2 x 2
   laterally (decon/start_coarse.c). */
typedef enum { PD_START_FLAT, PD_START_DATA, PD_START_SMOOTH, PD_START_WIENER, PD_START_COARSE } PdDeconStart;
extern const char *const PdDeconStartTypes[];

/* Monitor: called after every iteration with the objective of the iterate that entered the
   step (Poisson I-divergence over the measured box, NaN when not computed) and the relative
   change of the estimate. */
typedef PetscErrorCode (*PdDeconMonitorFn)(PdDecon, PetscInt it, double objective, double change, void *ctx);

PetscErrorCode PdDeconCreate(MPI_Comm comm, PdDecon *d);
PetscErrorCode PdDeconSetFromOptions(PdDecon d);
/* Prepends prefix to every option name the solver, its method and its FFT read ("a_" reads
   -a_decon_max_it), so that two solvers in one program can be configured apart (PETSc's
   convention); call before PdDeconSetFromOptions. */
PetscErrorCode PdDeconSetOptionsPrefix(PdDecon d, const char prefix[]);
PetscErrorCode PdDeconGetOptionsPrefix(PdDecon d, const char *prefix[]);
PetscErrorCode PdDeconSetMethod(PdDecon d, const char *method);
PetscErrorCode PdDeconGetMethod(PdDecon d, const char **method);
PetscErrorCode PdDeconSetTolerances(PdDecon d, PetscInt max_it, double rtol);
/* b >= 0: known background; b < 0: estimate it from the data (a low percentile). */
PetscErrorCode PdDeconSetBackground(PdDecon d, double b);
PetscErrorCode PdDeconGetBackground(PdDecon d, double *b);
PetscErrorCode PdDeconSetBoundary(PdDecon d, PdBoundary b);
/* The initial estimate (-decon_start; default: the method's, flat for most). */
PetscErrorCode PdDeconSetStart(PdDecon d, PdDeconStart start);
/* name is used in error messages (the data file). */
PetscErrorCode PdDeconSetImageSize(PdDecon d, const ptrdiff_t m[3], const char *name);
/* Copies the PSF (compact, same on every rank); it is validated, normalised, centred and cropped
   in PdDeconSetUp. name is used in error messages. */
PetscErrorCode PdDeconSetPSF(PdDecon d, const ptrdiff_t pn[3], const float *psf, const char *name);
/* With release, the PSF is freed as soon as nothing needs it any more: where the weights come
   from its box sums (rl, rl_biggs; box_weights.c), once they and the OTF exist. For an owner that
   keeps one method (another method cannot be set afterwards); default: kept. */
PetscErrorCode PdDeconSetReleasePSF(PdDecon d, PetscBool release);
PetscErrorCode PdDeconSetUp(PdDecon d);
/* The measured data: compact image-size slabs (the image box of the working slabs). Valid as
   floats until the next PdDeconStep or PdDeconSolve: from there on rl and rl_biggs hold integral
   data (0 to 65535) as 16-bit counts in the same buffer (-decon_data_counts, default on; the
   same results, half the data's memory); call PdDeconGetData again to read them as floats. */
PetscErrorCode PdDeconGetData(PdDecon d, const PdLayout **lay, float **y);
/* Whether this rank holds its data as 16-bit counts now. */
PetscErrorCode PdDeconGetDataCounts(PdDecon d, PetscBool *counts);

/* Multi-view deconvolution (docs/methods/multiview.md): V measurements of one object, y_v ~
   Poisson(h_v * x + b), e.g. the 32 detector elements of an Airyscan. psfs: V compact PSFs of
   size pn one after another, on every rank, in one common frame (their relative shifts and
   brightnesses matter): negative values are set to 0 and all are divided by their total sum;
   the sum of the views' PSFs gives the centre. Instead of PdDeconSetPSF, before PdDeconSetUp.
   Methods: rl, rl_biggs, rltv, rl_smoothtv, garl (those built on the RL correction, which becomes
   Σ_v h_v ⋆ (y_v / (h_v * x + b)) / Σ_v h_v ⋆ 1). V = 1 is the single-view problem. */
PetscErrorCode PdDeconSetViews(PdDecon d, PetscInt V, const ptrdiff_t pn[3], const float *psfs, const char *name);
/* Data of view v (0 <= v < V), as PdDeconGetData. */
PetscErrorCode PdDeconGetViewData(PdDecon d, PetscInt v, const PdLayout **lay, float **y);
PetscErrorCode PdDeconSolve(PdDecon d);
/* The estimate on the image box (a strided view into the working volume). */
PetscErrorCode PdDeconGetSolution(PdDecon d, const PdLayout **lay, const float **x);
PetscErrorCode PdDeconGetWorkingSize(PdDecon d, ptrdiff_t n[3]);
PetscErrorCode PdDeconGetFFTConv(PdDecon d, PdFFTConv *conv);
PetscErrorCode PdDeconGetIterationNumber(PdDecon d, PetscInt *it);
PetscErrorCode PdDeconGetConvergedReason(PdDecon d, PdDeconConvergedReason *r);
/* Seconds spent in the initial estimate and the iteration loop: so far when called from a
   monitor, in total after. */
PetscErrorCode PdDeconGetSolveTime(PdDecon d, double *seconds);
PetscErrorCode PdDeconMonitorSet(PdDecon d, PdDeconMonitorFn fn, void *ctx);
/* Removes every monitor set with PdDeconMonitorSet (the -decon_monitor one included). */
PetscErrorCode PdDeconMonitorCancel(PdDecon d);
PetscErrorCode PdDeconView(PdDecon d, PetscViewer v);
/* "Deconvolution (rl) converged due to CONVERGED_RTOL iterations 37 (12.1 s)" */
PetscErrorCode PdDeconConvergedReasonView(PdDecon d, PetscViewer v);
PetscErrorCode PdDeconDestroy(PdDecon *d);

/* The methods -decon_method accepts, in table order; direct: a filter (one step), not iterative. */
int         PdDeconMethodCount(void);
const char *PdDeconMethodName(int i, PetscBool *direct);
/* Iterations method i runs when none are asked for, where the method has its own count (1 for a
   direct filter, 2-3 for the unmatched back projectors); 0: it uses the solver's default. */
PetscInt    PdDeconMethodDefaultIterations(int i);

/* Memory per rank, bytes: what the planner expects (before allocation) for working size n. */
typedef struct {
  PetscInt nvol;                                   /* working volumes of the method */
  PetscInt nhalf;                                  /* and its volumes in 16 bits (half each) */
  PetscBool otf_real;                              /* the OTF stored as its real part */
  double   volumes, otf, fft, data, psf, method, baseline; /* parts, bytes on this rank (method: its own workspace) */
  double   total;                                  /* max over ranks */
  double   distributed, fixed;                     /* total = fixed + distributed / ranks */
} PdMemoryEstimate;
PetscErrorCode PdDeconEstimateMemory(PdDecon d, const ptrdiff_t n[3], PdMemoryEstimate *e);
/* Bytes a rank may use: -decon_memory_limit, else the node's available memory shared by its
   ranks (min over ranks). */
PetscErrorCode PdDeconGetMemoryAvailable(PdDecon d, double *bytes);
/* The estimate made by the last PdDeconSetUp (bytes per rank, max over ranks). */
PetscErrorCode PdDeconGetMemoryEstimate(PdDecon d, double *bytes);

/* Checkpoints: every `every` iterations (0: only when a stop signal arrives, see
   PdStopHandlerInstall) the full state goes to `path` (HDF5, atomically). A restart continues
   from such a file, on any number of ranks, to the same result as an uninterrupted run; it is
   refused when the settings that shape the result differ. */
PetscErrorCode PdDeconSetCheckpoint(PdDecon d, const char *path, PetscInt every);
PetscErrorCode PdDeconGetCheckpoint(PdDecon d, const char **path);
PetscErrorCode PdDeconSetRestart(PdDecon d, const char *path);

/* Run one more iteration of the current method from the current state (benchmarks). */
PetscErrorCode PdDeconStep(PdDecon d, double *objective, double *change);
/* Working-size float volumes the method keeps per rank (besides the OTF and compact data). */
PetscErrorCode PdDeconGetVolumeCount(PdDecon d, PetscInt *count);

#endif
