/* What a writer needs to leave no partial file and to fail on every rank at once: collective
   failure status, atomic output (a temporary name renamed when complete) and the format a file
   name announces. Used by the image formats (src/io) and by every other writer of files
   (pictures in src/viz, model files). */
#ifndef PDECON_IO_OUTPUT_H
#define PDECON_IO_OUTPUT_H

#include <pdecon/core/sys.h>

#define PD_IO_MSG 1024

/* A failure found by one rank, kept as data until all ranks agree on it: file libraries report
   errors on one rank at a time, but the error must be raised on every rank with one message. */
typedef struct {
  int  code; /* 0: fine; else PD_ERR_FILE, PD_ERR_INPUT or another PETSc code */
  char msg[PD_IO_MSG];
} PdIOStatus;

/* Records a failure (the first one wins). */
void PdIOFail(PdIOStatus *st, int code, const char *fmt, ...) PETSC_ATTRIBUTE_FORMAT(3, 4);
/* Collective: the status of the lowest failing rank, on every rank (code 0 when none failed). */
PetscErrorCode PdIOShare(MPI_Comm comm, const PdIOStatus *st, PdIOStatus *out);
/* Collective: when any rank failed, every rank raises the failure of the lowest such rank. */
PetscErrorCode PdIOAgree(MPI_Comm comm, const PdIOStatus *st);
/* Collective: the status of rank root, raised on all ranks when it failed. */
PetscErrorCode PdIOAgreeRoot(MPI_Comm comm, int root, const PdIOStatus *st);

typedef enum { PD_FMT_NONE, PD_FMT_HDF5, PD_FMT_TIFF, PD_FMT_PNG } PdFormat;
/* The format a file name announces by its extension (.h5/.hdf5/.he5, .tif/.tiff, .png). */
PdFormat PdFormatOfPath(const char *path);

/* Atomic output. PdTempPathCreate (collective) makes ".name.tmp.<pid of rank 0>" next to path
   after checking the output directory. PdOutputFinish (collective) agrees on st over all ranks,
   then rank 0 renames tmp to path (commit and no failure) or removes tmp, and the failure, if
   any, is raised on all ranks. */
PetscErrorCode PdTempPathCreate(MPI_Comm comm, const char *path, char *tmp, size_t len);
PetscErrorCode PdOutputFinish(MPI_Comm comm, const char *tmp, const char *path, PetscBool commit, const PdIOStatus *st);

#endif
