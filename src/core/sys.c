/* Package registration (log events) and small collective helpers. */
#include <pdecon/core/sys.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <fftw3-mpi.h>
#include <omp.h>

PetscLogEvent PD_EV_FFT_FWD, PD_EV_FFT_INV, PD_EV_FFT_TRANSPOSE, PD_EV_FFT_PLAN, PD_EV_POINTWISE, PD_EV_READ,
  PD_EV_WRITE, PD_EV_COMM, PD_EV_HALO, PD_EV_WCRR;
PetscClassId PD_CLASSID;

static PetscBool pd_registered = PETSC_FALSE;

static PetscErrorCode PdFinalizePackage(void)
{
  PetscFunctionBegin;
  fftwf_mpi_cleanup();
  pd_registered = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode PdInitializePackage(void)
{
  PetscFunctionBegin;
  if (pd_registered) PetscFunctionReturn(0);
  pd_registered = PETSC_TRUE;
  /* FFTW's threads first, then its MPI part (FFTW's rule) */
  PetscCheck(fftwf_init_threads(), PETSC_COMM_SELF, PETSC_ERR_LIB, "FFTW threads could not start");
  fftwf_mpi_init();
  PetscCall(PetscRegisterFinalize(PdFinalizePackage));
  PetscCall(PetscClassIdRegister("pdecon", &PD_CLASSID));
  PetscCall(PetscLogEventRegister("FFTForward", PD_CLASSID, &PD_EV_FFT_FWD));
  PetscCall(PetscLogEventRegister("FFTInverse", PD_CLASSID, &PD_EV_FFT_INV));
  PetscCall(PetscLogEventRegister("FFTTranspose", PD_CLASSID, &PD_EV_FFT_TRANSPOSE));
  PetscCall(PetscLogEventRegister("FFTPlan", PD_CLASSID, &PD_EV_FFT_PLAN));
  PetscCall(PetscLogEventRegister("Pointwise", PD_CLASSID, &PD_EV_POINTWISE));
  PetscCall(PetscLogEventRegister("IORead", PD_CLASSID, &PD_EV_READ));
  PetscCall(PetscLogEventRegister("IOWrite", PD_CLASSID, &PD_EV_WRITE));
  PetscCall(PetscLogEventRegister("CommReduce", PD_CLASSID, &PD_EV_COMM));
  PetscCall(PetscLogEventRegister("CommHalo", PD_CLASSID, &PD_EV_HALO));
  PetscCall(PetscLogEventRegister("WCRRConv", PD_CLASSID, &PD_EV_WCRR));
  {
    /* One thread per rank unless -threads says otherwise: never OpenMP's "all cores" default,
       which would oversubscribe a node running one rank per core. */
    PetscInt  n = 1;
    PetscBool set;
    PetscCall(PetscOptionsGetInt(NULL, NULL, "-threads", &n, &set));
    PetscCheck(n >= 1, PETSC_COMM_WORLD, PD_ERR_INPUT, "-threads must be at least 1");
    PetscCall(PdSetThreads((int)n));
  }
  {
    /* Volumes in 2 MiB pages (PdVolumeAlloc): on unless -huge_pages 0 (a node whose kernel
       stalls to compact memory for them, or a measurement without them) */
    PetscBool on = PETSC_TRUE;
    PetscCall(PetscOptionsGetBool(NULL, NULL, "-huge_pages", &on, NULL));
    PdSetHugePages(on);
  }
  PetscFunctionReturn(0);
}

static int pd_threads = 1;

PetscErrorCode PdSetThreads(int n)
{
  PetscFunctionBegin;
  pd_threads = n;
  omp_set_num_threads(n);
  fftwf_plan_with_nthreads(n); /* plans made from now on */
  PetscFunctionReturn(0);
}

int PdGetThreads(void) { return pd_threads; }

static PetscBool pd_huge_pages = PETSC_TRUE;
void             PdSetHugePages(PetscBool on) { pd_huge_pages = on; }
PetscBool        PdGetHugePages(void) { return pd_huge_pages; }

static PetscErrorCode AllreduceOp(MPI_Comm comm, double *vals, int n, MPI_Op op)
{
  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PD_EV_COMM, 0, 0, 0, 0));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, vals, n, MPI_DOUBLE, op, comm));
  PetscCall(PetscLogEventEnd(PD_EV_COMM, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode PdAllreduceSum(MPI_Comm comm, double *vals, int n) { return AllreduceOp(comm, vals, n, MPI_SUM); }
PetscErrorCode PdAllreduceMax(MPI_Comm comm, double *vals, int n) { return AllreduceOp(comm, vals, n, MPI_MAX); }
PetscErrorCode PdAllreduceMin(MPI_Comm comm, double *vals, int n) { return AllreduceOp(comm, vals, n, MPI_MIN); }

PetscErrorCode PdPeakMemory(MPI_Comm comm, double *mine, double *maxall)
{
  struct rusage ru;
  double        m;

  PetscFunctionBegin;
  getrusage(RUSAGE_SELF, &ru);
  m = (double)ru.ru_maxrss * 1024.0; /* Linux reports kilobytes */
  if (mine) *mine = m;
  if (maxall) PetscCallMPI(MPI_Allreduce(&m, maxall, 1, MPI_DOUBLE, MPI_MAX, comm));
  PetscFunctionReturn(0);
}

static volatile sig_atomic_t pd_stop_signal = 0;

static void StopHandler(int sig) { pd_stop_signal = sig; }

PetscErrorCode PdStopHandlerInstall(void)
{
  struct sigaction sa;

  PetscFunctionBegin;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = StopHandler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  /* SIGINT: Ctrl-C, which mpirun passes on to the ranks */
  PetscCheck(sigaction(SIGTERM, &sa, NULL) == 0 && sigaction(SIGUSR1, &sa, NULL) == 0 && sigaction(SIGINT, &sa, NULL) == 0, PETSC_COMM_SELF, PETSC_ERR_SYS, "cannot install the signal handlers");
  PetscFunctionReturn(0);
}

PetscErrorCode PdStopRequested(MPI_Comm comm, PetscBool *stop)
{
  int mine = pd_stop_signal != 0, any;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm));
  *stop = any ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}
