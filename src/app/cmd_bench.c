/* pdecon bench: the cost of one iteration of a method against the bare FFTs it needs (2 forward
   + 2 inverse transforms of the working size), measured side by side in the same run, plus the
   peak memory per rank and, on more than one rank, the same operation on a single rank in the
   same process for the parallel speed-up. Sizes are working sizes (periodic boundary). */
#include "app.h"
#include <pdecon/decon.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  double iter, fft4, planning; /* seconds: one iteration, 2+2 bare FFTs, FFT planning */
  PetscInt nvol;
  double   volmib;             /* one working volume per rank, MiB */
} BenchResult;

static PetscErrorCode ParseSizes(const char *s, ptrdiff_t sizes[][3], int *count)
{
  char buf[1024], *tok, *save = NULL;

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(buf, s, sizeof(buf)));
  *count = 0;
  for (tok = strtok_r(buf, ",", &save); tok && *count < 16; tok = strtok_r(NULL, ",", &save)) {
    long z, y, x;
    PetscCheck(sscanf(tok, "%ldx%ldx%ld", &z, &y, &x) == 3 && z > 0 && y > 0 && x > 0, PETSC_COMM_WORLD, PD_ERR_INPUT, "-bench_sizes: '%s' is not ZxYxX", tok);
    sizes[*count][0] = z;
    sizes[*count][1] = y;
    sizes[*count][2] = x;
    (*count)++;
  }
  PetscFunctionReturn(0);
}

/* Median of n values (n small). */
static double Median(double *v, int n)
{
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
      double t = v[j];
      v[j]     = v[j - 1];
      v[j - 1] = t;
    }
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static PetscErrorCode BenchOne(MPI_Comm comm, const char *method, const ptrdiff_t n[3], PetscInt reps, BenchResult *r)
{
  PdDecon         d;
  PdFFTConv       conv;
  const PdLayout *lay;
  float          *y;
  double          t[64] = {0}, change;
  ptrdiff_t       pn[3] = {PetscMin(n[0], 9), PetscMin(n[1], 9), PetscMin(n[2], 9)};
  float          *psf;
  unsigned long long s = 12345;

  PetscFunctionBegin;
  reps = PetscMin(reps, 64);
  PetscCall(PetscMalloc1(pn[0] * pn[1] * pn[2], &psf));
  for (ptrdiff_t i = 0; i < pn[0] * pn[1] * pn[2]; i++) psf[i] = 1.0f;
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetFromOptions(d));
  PetscCall(PdDeconSetMethod(d, method));
  PetscCall(PdDeconSetBoundary(d, PD_BOUNDARY_PERIODIC));
  PetscCall(PdDeconSetBackground(d, 1.0));
  PetscCall(PdDeconSetImageSize(d, n, "benchmark"));
  PetscCall(PdDeconSetPSF(d, pn, psf, "benchmark PSF"));
  PetscCall(PetscFree(psf));
  PetscCall(PdDeconSetUp(d));
  PetscCall(PdDeconGetData(d, &lay, &y));
  for (ptrdiff_t i = 0; i < lay->nzl * lay->n[1] * lay->n[2]; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    y[i] = 1.0f + (float)((s >> 40) % 100);
  }
  PetscCall(PdDeconGetFFTConv(d, &conv));
  PetscCall(PdFFTConvGetPlanTime(conv, &r->planning, NULL));
  PetscCall(PdDeconStep(d, NULL, &change)); /* warm-up; also prepares weights and state */
  for (PetscInt i = 0; i < reps; i++) {
    PetscCallMPI(MPI_Barrier(comm));
    double t0 = PdTime();
    PetscCall(PdDeconStep(d, NULL, &change));
    PetscCallMPI(MPI_Barrier(comm));
    t[i] = PdTime() - t0;
  }
  r->iter = Median(t, (int)reps);
  /* The bare transforms on the same buffer (its contents no longer matter). */
  for (PetscInt i = 0; i < reps; i++) {
    PetscCallMPI(MPI_Barrier(comm));
    double t0 = PdTime();
    for (int k = 0; k < 2; k++) {
      PetscCall(PdFFTConvForward(conv));
      PetscCall(PdFFTConvInverse(conv));
    }
    PetscCallMPI(MPI_Barrier(comm));
    t[i] = PdTime() - t0;
  }
  r->fft4 = Median(t, (int)reps);
  PetscCall(PdDeconGetVolumeCount(d, &r->nvol));
  {
    const PdLayout *wl;
    PetscCall(PdFFTConvGetLayout(conv, &wl));
    r->volmib = (double)(wl->nzl * wl->ps) * 4.0 / 1048576.0;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &r->volmib, 1, MPI_DOUBLE, MPI_MAX, comm));
  }
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

PetscErrorCode CmdBench(MPI_Comm comm)
{
  char        sizes_s[1024] = "64x256x256,128x512x512", method[32] = "rl";
  ptrdiff_t   sizes[16][3];
  int         nsizes, rank, size;
  PetscInt    reps = 5;
  PetscBool   serial = PETSC_TRUE;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscOptionsBegin(comm, NULL, "pdecon bench", "");
  PetscCall(PetscOptionsString("-bench_sizes", "Working sizes ZxYxX, comma separated", "", sizes_s, sizes_s, sizeof(sizes_s), NULL));
  PetscCall(PetscOptionsString("-bench_method", "Method whose iteration is timed", "", method, method, sizeof(method), NULL));
  PetscCall(PetscOptionsInt("-bench_reps", "Timed repetitions (the median is reported)", "", reps, &reps, NULL));
  PetscCall(PetscOptionsBool("-bench_serial", "Also time the same operation on one rank in this run (speed-up)", "", serial, &serial, NULL));
  PetscOptionsEnd();
  {
    PdDecon tmp; /* so that -help lists the solver and FFT options too */
    PetscCall(PdDeconCreate(comm, &tmp));
    PetscCall(PdDeconSetFromOptions(tmp));
    PetscCall(PdDeconDestroy(&tmp));
  }
  if (AppHelpRequested()) PetscFunctionReturn(0);
  PetscCall(AppCheckOptionsUsed(comm));
  PetscCheck(reps >= 1, comm, PD_ERR_INPUT, "-bench_reps must be at least 1");
  PetscCall(ParseSizes(sizes_s, sizes, &nsizes));

  PetscCall(PetscPrintf(comm, "pdecon bench: method %s, %d rank%s, median of %" PetscInt_FMT " repetitions\n", method, size, size > 1 ? "s" : "", reps));
  PetscCall(PetscPrintf(comm, "%-14s %5s %12s %12s %7s %9s %12s %12s %10s\n", "size z,y,x", "ranks", "iter [s]", "4 FFTs [s]", "iter/FFT", "plan [s]", "state MiB", "peak MiB", "speed-up"));
  for (int i = 0; i < nsizes; i++) {
    BenchResult r, r1 = {0, 0, 0, 0, 0};
    double      peak;
    char        label[64], spd[32] = "-";

    PetscCall(BenchOne(comm, method, sizes[i], reps, &r));
    PetscCall(PdPeakMemory(comm, NULL, &peak));
    if (serial && size > 1) {
      /* One rank repeats the operation alone; the others wait without spinning. */
      if (rank == 0) PetscCall(BenchOne(PETSC_COMM_SELF, method, sizes[i], reps, &r1));
      MPI_Request req;
      int         done = 0;
      PetscCallMPI(MPI_Ibarrier(comm, &req));
      while (!done) {
        PetscCallMPI(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
        if (!done) usleep(2000);
      }
      PetscCallMPI(MPI_Bcast(&r1, sizeof(r1), MPI_BYTE, 0, comm));
      snprintf(spd, sizeof(spd), "%.2fx", r1.iter / r.iter);
    }
    snprintf(label, sizeof(label), "%tdx%tdx%td", sizes[i][0], sizes[i][1], sizes[i][2]);
    /* state: the method's working volumes + the OTF (one more volume) + the data (<= one) */
    PetscCall(PetscPrintf(comm, "%-14s %5d %12.4f %12.4f %7.3f %9.2f %12.1f %12.1f %10s\n", label, size, r.iter, r.fft4, r.iter / r.fft4, r.planning, (r.nvol + 2) * r.volmib, peak / 1048576.0, spd));
    if (serial && size > 1)
      PetscCall(PetscPrintf(comm, "%-14s %5d %12.4f %12.4f %7.3f %9.2f %12.1f %12s %10s\n", label, 1, r1.iter, r1.fft4, r1.iter / r1.fft4, r1.planning, (r1.nvol + 2) * r1.volmib, "-", "(in-process)"));
  }
  PetscFunctionReturn(0);
}
