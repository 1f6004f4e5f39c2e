/* The pdecon front end: one executable, one file per subcommand. */
#ifndef PDECON_APP_H
#define PDECON_APP_H

#include <pdecon/core/sys.h>
#include <pdecon/psf/psf.h>
#include <pdecon/core/layout.h>
#include <pdecon/io/io.h>

typedef PetscErrorCode (*AppCommand)(MPI_Comm comm);

PetscErrorCode CmdDeconvolve(MPI_Comm comm);
PetscErrorCode CmdPSF(MPI_Comm comm);
PetscErrorCode CmdSimulate(MPI_Comm comm);
PetscErrorCode CmdTrain(MPI_Comm comm);
PetscErrorCode CmdDemo(MPI_Comm comm);
PetscErrorCode CmdBench(MPI_Comm comm);
PetscErrorCode CmdCompare(MPI_Comm comm);

PetscErrorCode CmdRestore(MPI_Comm comm);

/* pdecon train -model srcnn|isonet1|isonet2 (train_cnn.c); kind is a PdCNNKind. */
PetscErrorCode AppTrainCNN(MPI_Comm comm, int kind);
/* pdecon train -model cyclegan|unet (train_gan.c). */
PetscErrorCode AppTrainGAN(MPI_Comm comm, PetscBool unet);
/* Shared by the trainers (cmd_train.c): the model and checkpoint may be no input (inputs has
   room for two more entries); the stop report (exit status 75); the checkpoint removed once the
   model is written. */
PetscErrorCode AppTrainCheckFiles(MPI_Comm comm, const char *output, int nin, const char *inputs[], const char *restart);
PetscErrorCode AppTrainReportStop(MPI_Comm comm, PetscInt step);
PetscErrorCode AppTrainRemoveCheckpoint(MPI_Comm comm);
/* A compact distributed volume (z-slabs of lay) whole on every rank (PetscFree). */
PetscErrorCode AppAllgatherVolume(const PdLayout *lay, const float *v, float **all);
/* pdecon bench -bench_model isonet1|isonet2|srcnn (bench_model.c). */
PetscErrorCode AppBenchModel(MPI_Comm comm, const char *model);

/* pdecon bench -bench_scaling tiles (bench_tiles.c): tile-parallel against slab-parallel
   throughput on a stack of size n, its iterations, on 1, 2, 4, ... ranks; the table also to csv. */
PetscErrorCode AppBenchTiles(MPI_Comm comm, const char *method, PetscInt its, const ptrdiff_t n[3], PetscInt reps, const char *csv);
/* Waits on a barrier of comm without spinning: ranks with nothing to do give their core away. */
PetscErrorCode AppIdleBarrier(MPI_Comm comm);

/* pdecon bench -bench_train (bench_train.c). */
PetscErrorCode AppBenchTrain(MPI_Comm comm, PetscInt reps, PetscBool serial);

/* Exit status a command asks for besides success and errors (PD_EXIT_STOPPED). */
extern int AppExitStatus;

/* True when -help was given: commands read their options (so PETSc lists them) and stop. */
PetscBool AppHelpRequested(void);
/* The message of the last error a user can fix (for summaries). */
extern char AppLastError[1024];
/* Errors a user can fix (files, options, data), as opposed to bugs. */
PetscBool AppIsUserError(PetscErrorCode ierr);
/* Refuses options nobody read (typos), naming them; call once all options have been read. */
PetscErrorCode AppCheckOptionsUsed(MPI_Comm comm);

/* The PSF: a file (-psf FILE[:/dataset]) or a model (-psf_type bornwolf|gaussian|gibsonlanni with
   -psf_na, -psf_ni, -psf_lambda, -psf_dxy, -psf_dz, -psf_size, -psf_sigma, and for Gibson-Lanni
   -psf_ni0, -psf_ns, -psf_ng, -psf_ng0, -psf_tg, -psf_tg0, -psf_ti0, -psf_zp). voxel: the image's voxel size
   (nm, 0 = unknown), the default for -psf_dxy and -psf_dz. Returns a compact array on every
   rank and a name for messages (the file, or "Born & Wolf PSF"). */
typedef struct {
  char      file[PETSC_MAX_PATH_LEN];
  PetscInt  type; /* 0 bornwolf, 1 gaussian, 2 gibsonlanni */
  PdOptics  optics;
  PdGibsonLanni gl; /* layers of the Gibson-Lanni model (its optics come from `optics`) */
  double    sigma[3];
  ptrdiff_t size[3]; /* 0: default */
  PetscBool voxel_given;          /* -psf_dxy or -psf_dz given: the model ignores the image's voxel size */
  PetscBool accept_voxel_mismatch; /* -psf_accept_voxel_mismatch: a measured PSF sampled unlike the data is used anyway */
} AppPSFOptions;
PetscErrorCode AppPSFSetFromOptions(MPI_Comm comm, const double voxel[3], AppPSFOptions *o);
PetscErrorCode AppPSFCompute(MPI_Comm comm, const AppPSFOptions *o, ptrdiff_t pn[3], float **psf, char *name, size_t namelen);
/* The PSF for deconvolving the image `img` (input: its name for messages): a measured PSF's voxel
   size is checked against the image's (refused when they differ, unless
   -psf_accept_voxel_mismatch); a model PSF's depth covers the stack's depth both ways (2 m0 - 1
   planes, within -decon_pad and the periodic boundary), and what was assumed or chosen is said.
   voxel: the voxel size the result has (the image's, else the PSF's; 0 where neither says). */
PetscErrorCode AppPSFForImage(MPI_Comm comm, const AppPSFOptions *o, const PdImageInfo *img, const char *input, ptrdiff_t pn[3], float **psf, char *name, size_t namelen, double voxel[3]);
/* One warning line on stderr from rank 0: "pdecon: warning: <what>". */
PetscErrorCode AppWarning(MPI_Comm comm, const char *fmt, ...) PETSC_ATTRIBUTE_FORMAT(2, 3);
/* "z,y,x" option into three sizes; returns set. */
PetscErrorCode AppOptionsGetSize3(const char *opt, const char *help, ptrdiff_t n[3], PetscBool *set);
/* PETSc's error for an option value it cannot parse (a letter string for a number, an unknown
   enum value), rewritten as one line naming the option and what it accepts; false for other
   messages. */
PetscBool AppOptionValueError(const char *mess, char *line, size_t len);
/* Records the names of the options a command reads (between the two calls), so that a mistyped
   one can be answered with the closest: AppOptionsClosest("decon_maxit") gives "-decon_max_it"
   ("" when none is close). */
PetscErrorCode AppOptionsRecordNames(void);
PetscErrorCode AppOptionsRecordNamesEnd(void);
void           AppOptionsClosest(const char *name, char *best, size_t len);
/* The options database as one string (for output attributes). Free with PetscFree. */
PetscErrorCode AppOptionsString(char **s);

#endif
