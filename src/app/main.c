/* pdecon: distributed 3D deconvolution for fluorescence microscopy.
   pdecon <command> [options]; commands: deconvolve, psf, simulate, train, restore, demo, bench. */
#include "app.h"
#include <stdio.h>
#include <string.h>

static const char usage[] =
  "pdecon: distributed 3D deconvolution for fluorescence microscopy\n"
  "usage: mpirun -n <ranks> pdecon <command> [options]\n"
  "commands:\n"
  "  deconvolve  -input FILE -psf FILE|-psf_type MODEL -output FILE [-decon_method rl|rl_biggs ...]\n"
  "  psf         compute a model PSF: -psf_type bornwolf|gaussian -output FILE\n"
  "  simulate    microtubule phantom, blurred, with Poisson+Gaussian noise: -output FILE.h5\n"
  "  demo        simulate, deconvolve with RL and accelerated RL, print a quality table\n"
  "  train       learn GARL's regulariser by denoising: -output MODEL.h5 [-train_data FILE,...];\n"
  "              -model srcnn|isonet1|isonet2: a restoration network\n"
  "  restore     restore a stack with a trained network: -model MODEL.h5 -input FILE -output FILE\n"
  "  bench       time one iteration against its bare FFTs: -bench_sizes 64x256x256,...;\n"
  "              -bench_scaling strong|weak: parallel scaling with a CSV and a PNG plot\n"
  "common options: -threads N (threads per rank, default 1), -options_file FILE, -log_view\n"
  "`pdecon <command> -help` lists that command's options with their defaults.\n";

static const struct {
  const char *name;
  AppCommand  fn;
} commands[] = {
  {"deconvolve", CmdDeconvolve}, {"psf", CmdPSF}, {"simulate", CmdSimulate}, {"train", CmdTrain}, {"restore", CmdRestore}, {"demo", CmdDemo}, {"bench", CmdBench},
};

static PetscBool help_requested = PETSC_FALSE;
int              AppExitStatus  = 0;
PetscBool        AppHelpRequested(void) { return help_requested; }

/* Errors the user can fix (bad file, bad option, bad data) are printed once, on one line, by
   rank 0 (they are raised on every rank at once); -error_trace adds PETSc's trace. Anything
   else is a bug and gets PETSc's full trace. */
static PetscBool user_error = PETSC_FALSE;
char             AppLastError[1024] = "";

PetscBool AppIsUserError(PetscErrorCode n)
{
  return (PetscBool)(n == PD_ERR_INPUT || n == PD_ERR_FILE || n == PETSC_ERR_FILE_READ || n == PETSC_ERR_FILE_WRITE || n == PETSC_ERR_FILE_UNEXPECTED || n == PETSC_ERR_NOT_CONVERGED);
}

static PetscErrorCode ErrorHandler(MPI_Comm comm, int line, const char *fun, const char *file, PetscErrorCode n, PetscErrorType p, const char *mess, void *ctx)
{
  int rank = 0;
  (void)ctx;
  if (AppIsUserError(n)) {
    PetscBool trace = PETSC_FALSE;
    PetscOptionsGetBool(NULL, NULL, "-error_trace", &trace, NULL);
    if (p == PETSC_ERROR_INITIAL) {
      user_error = PETSC_TRUE;
      if (mess) snprintf(AppLastError, sizeof(AppLastError), "%s", mess);
      MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
      if (rank == 0 && mess) fprintf(stderr, "pdecon: error: %s\n", mess);
    }
    if (trace) return PetscTraceBackErrorHandler(comm, line, fun, file, n, p, mess, NULL);
    return n;
  }
  return PetscTraceBackErrorHandler(comm, line, fun, file, n, p, mess, NULL);
}

PetscErrorCode AppCheckOptionsUsed(MPI_Comm comm)
{
  PetscInt  n;
  char    **names, **values, list[1024] = "";

  PetscFunctionBegin;
  PetscCall(PetscOptionsLeftGet(NULL, &n, &names, &values));
  for (PetscInt i = 0; i < n; i++) {
    /* PETSc's own run-time options are read later (at PetscFinalize) */
    if (!strncmp(names[i], "log", 3) || !strncmp(names[i], "malloc", 6) || !strncmp(names[i], "options_", 8) || !strcmp(names[i], "error_trace") || !strncmp(names[i], "memory_view", 11))
      continue;
    PetscCall(PetscStrlcat(list, list[0] ? ", -" : "-", sizeof(list)));
    PetscCall(PetscStrlcat(list, names[i], sizeof(list)));
  }
  PetscCall(PetscOptionsLeftRestore(NULL, &n, &names, &values));
  PetscCheck(!list[0], comm, PD_ERR_INPUT, "unknown option%s %s (see -help)", strchr(list, ',') ? "s" : "", list);
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  AppCommand     fn = NULL;
  PetscErrorCode ierr;
  char         **args = argv;
  int            nargs = argc;

  /* The command word is taken out before PETSc reads the options. */
  if (argc >= 2 && argv[1][0] != '-') {
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
      if (!strcmp(argv[1], commands[i].name)) fn = commands[i].fn;
    if (!fn) {
      fprintf(stderr, "pdecon: error: unknown command '%s'\n%s", argv[1], usage);
      return 2;
    }
    argv[1] = argv[0];
    args    = argv + 1;
    nargs   = argc - 1;
  }
  /* pdecon handles SIGTERM and SIGUSR1 itself (PdStopHandlerInstall: save the state, exit 75).
     PETSc's handler would turn SIGTERM into an abort, and PetscFinalize, removing it, restores
     the default action, so that a second stop signal during shutdown would kill a rank that has
     already saved its state. Crashes are reported by MPI's own handler. */
  if (PetscOptionsSetValue(NULL, "-no_signal_handler", NULL)) return 1;
  ierr = PetscInitialize(&nargs, &args, NULL, usage);
  if (ierr) return 1;
  PetscOptionsHasName(NULL, NULL, "-help", &help_requested);
  if (!fn) {
    if (!help_requested) PetscPrintf(PETSC_COMM_WORLD, "%s", usage);
    PetscFinalize();
    return help_requested ? 0 : 2;
  }
  PetscPushErrorHandler(ErrorHandler, NULL);
  ierr = PdInitializePackage();
  if (!ierr) ierr = fn(PETSC_COMM_WORLD);
  if (ierr) {
    /* A user error was raised on every rank, so all can finalize; anything else may have
       happened on one rank only and must not wait for the others. */
    if (!user_error) PETSCABORT(PETSC_COMM_WORLD, ierr);
    PetscOptionsClear(NULL); /* no "unused option" warnings after an error */
    PetscFinalize();
    return 1;
  }
  ierr = PetscFinalize();
  return ierr ? 1 : AppExitStatus;
}
