/* deconvolve -decon_truth FILE: score the input and the result against a known truth, and with
   -decon_monitor every iterate too (PSNR, least-squares-scaled PSNR, SSIM, RSNR). */
#ifndef PDECON_APP_TRUTH_H
#define PDECON_APP_TRUTH_H

#include "app.h"
#include <pdecon/decon/decon.h>
#include <pdecon/io/io.h>

typedef struct {
  char            spec[PETSC_MAX_PATH_LEN]; /* "" : no truth */
  PetscBool       monitor;                  /* -decon_monitor given: score every iterate */
  PetscBool       attached;                 /* the monitor is set on the current solver */
  const PdLayout *lay;                      /* the solver's data layout, which the truth shares */
  float          *t;
} AppTruth;

/* Reads -decon_truth and whether -decon_monitor is on (prefix: the solver's options prefix). */
PetscErrorCode AppTruthSetFromOptions(MPI_Comm comm, const char *prefix, AppTruth *tr);
/* A new solver was made: the monitor must be set again on it. */
PetscErrorCode AppTruthSolverChanged(AppTruth *tr);
/* Reads the truth onto the solver's data layout (its size must be the input's), prints the
   input's quality (the data, already read) and sets the per-iteration monitor. */
PetscErrorCode AppTruthAttach(MPI_Comm comm, AppTruth *tr, PdDecon d, const char *input, const PdImageInfo *info);
/* Prints the quality of the solution. */
PetscErrorCode AppTruthReport(MPI_Comm comm, AppTruth *tr, PdDecon d);
PetscErrorCode AppTruthDestroy(AppTruth *tr);

#endif
