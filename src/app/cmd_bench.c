/* pdecon bench: the cost of one iteration of a method against the bare FFTs it needs (2 forward
   + 2 inverse transforms of the working size), measured side by side in the same run, plus the
   peak memory per rank and, on more than one rank, the same operation on a single rank in the
   same process for the parallel speed-up. -bench_concurrent adds what the machine allows: every
   rank solving the whole problem alone at the same time (P independent copies compete for memory
   bandwidth and caches as the distributed run's ranks do, with no communication), whose
   throughput bounds the speed-up one run can reach. Sizes are working sizes (periodic boundary).
   -bench_scaling strong|weak: the scaling benchmark instead (see BenchScaling below);
   -bench_train: the training benchmark (bench_train.c). */
#include "app.h"
#include <pdecon/decon/decon.h>
#include <pdecon/io/io.h>
#include <pdecon/viz/plot.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  double iter, fft4, planning; /* seconds: one iteration, 2+2 bare FFTs, FFT planning */
  double ratio;                /* median over the repetitions of iteration / bare FFTs */
  PetscBool otf_real;          /* the OTF is stored as its real part */
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

/* The benchmark PSF, 9 x 9 x 9 with its peak in the middle: a bell exp(-r²/2σ²) with σ = 1.5
   (z) and 1.2 (y, x) voxels. "symmetric": the bell as it is, centro-symmetric like a model PSF
   (Born & Wolf, Gibson-Lanni without a depth term), so that RL stores its OTF as real values and
   only kz <= n0/2 (PdFFTConvSetRealOTF). "asymmetric": σ_z 1.0 below the focus and 2.0 above it,
   as a refractive-index mismatch or a measured bead gives, whose OTF is complex. */
static const char *const bench_psfs[] = {"symmetric", "asymmetric", "BenchPSF", "", NULL};

static void BenchPSF(int kind, const ptrdiff_t pn[3], float *psf)
{
  for (ptrdiff_t k = 0; k < pn[0]; k++)
    for (ptrdiff_t j = 0; j < pn[1]; j++)
      for (ptrdiff_t i = 0; i < pn[2]; i++) {
        const double z = (double)(k - pn[0] / 2), y = (double)(j - pn[1] / 2), x = (double)(i - pn[2] / 2);
        const double sz = kind == 0 ? 1.5 : z < 0 ? 1.0 : 2.0, sr = 1.2;
        psf[(k * pn[1] + j) * pn[2] + i] = (float)exp(-0.5 * (z * z / (sz * sz) + (y * y + x * x) / (sr * sr)));
      }
}

/* The benchmark problem: working size n (periodic boundary), the PSF above, background 1 and
   pseudo-random data in [1, 100]; set up and ready to step. */
static PetscErrorCode BenchSetUp(MPI_Comm comm, const char *method, int psfkind, const ptrdiff_t n[3], PdDecon *dd, const PdLayout **lay, float **y)
{
  PdDecon            d;
  ptrdiff_t          pn[3] = {PetscMin(n[0], 9), PetscMin(n[1], 9), PetscMin(n[2], 9)};
  float             *psf;
  unsigned long long s = 12345;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(pn[0] * pn[1] * pn[2], &psf));
  BenchPSF(psfkind, pn, psf);
  PetscCall(PdDeconCreate(comm, &d));
  PetscCall(PdDeconSetFromOptions(d));
  PetscCall(PdDeconSetMethod(d, method));
  PetscCall(PdDeconSetBoundary(d, PD_BOUNDARY_PERIODIC));
  PetscCall(PdDeconSetBackground(d, 1.0));
  PetscCall(PdDeconSetImageSize(d, n, "benchmark"));
  PetscCall(PdDeconSetPSF(d, pn, psf, "benchmark PSF"));
  PetscCall(PetscFree(psf));
  PetscCall(PdDeconSetUp(d));
  PetscCall(PdDeconGetData(d, lay, y));
  for (ptrdiff_t i = 0; i < (*lay)->nzl * (*lay)->n[1] * (*lay)->n[2]; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    (*y)[i] = 1.0f + (float)((s >> 40) % 100);
  }
  *dd = d;
  PetscFunctionReturn(0);
}

/* k round trips leave the FFT buffer multiplied by N^k (unnormalised transforms); the next
   iteration may start from it (RL keeps its iterate there), so it is scaled back, untimed, with
   no copy of the buffer. */
static PetscErrorCode UndoRoundTrips(PdFFTConv conv, MPI_Comm comm, const ptrdiff_t n[3], int k)
{
  float *work;
  size_t nwork;

  PetscFunctionBegin;
  PetscCall(PdFFTConvGetWork(conv, &work));
  PetscCall(PdFFTConvLocalSizes(comm, n, &nwork, NULL));
  const float s = (float)pow((double)n[0] * (double)n[1] * (double)n[2], -k);
  for (size_t j = 0; j < nwork; j++) work[j] *= s;
  PetscFunctionReturn(0);
}

/* One problem on comm; each timed repetition starts and ends with a barrier of sync (comm
   itself, or a larger communicator whose ranks each time their own copy in step). Each
   repetition times one iteration and then the bare transforms back to back, so that a machine
   whose speed drifts (other jobs, clocks) slows both alike: the ratio reported is the median of
   the repetitions' own ratios. */
static PetscErrorCode BenchOne(MPI_Comm comm, MPI_Comm sync, const char *method, int psfkind, const ptrdiff_t n[3], PetscInt reps, BenchResult *r)
{
  PdDecon         d;
  PdFFTConv       conv;
  const PdLayout *lay;
  float          *y;
  double          ti[64] = {0}, tf[64] = {0}, q[64] = {0}, change;

  PetscFunctionBegin;
  reps = PetscMin(reps, 64);
  PetscCall(BenchSetUp(comm, method, psfkind, n, &d, &lay, &y));
  PetscCall(PdDeconGetFFTConv(d, &conv));
  PetscCall(PdFFTConvGetPlanTime(conv, &r->planning, NULL));
  PetscCall(PdFFTConvGetOTFIsReal(conv, &r->otf_real));
  PetscCall(PdDeconStep(d, NULL, &change)); /* warm-up; also prepares weights and state */
  for (PetscInt i = 0; i < reps; i++) {
    PetscCallMPI(MPI_Barrier(sync));
    double t0 = PdTime();
    PetscCall(PdDeconStep(d, NULL, &change));
    PetscCallMPI(MPI_Barrier(sync));
    ti[i] = PdTime() - t0;
    /* The bare transforms on the FFT buffer, as H runs them: the spectrum stays in the layout H
       leaves it in (PdFFTConvForward would also reorder it). */
    PetscCallMPI(MPI_Barrier(sync));
    t0 = PdTime();
    for (int k = 0; k < 2; k++) PetscCall(PdFFTConvRoundTrip(conv));
    PetscCallMPI(MPI_Barrier(sync));
    tf[i] = PdTime() - t0;
    q[i]  = ti[i] / tf[i];
    PetscCall(UndoRoundTrips(conv, comm, n, 2));
  }
  r->iter  = Median(ti, (int)reps);
  r->fft4  = Median(tf, (int)reps);
  r->ratio = Median(q, (int)reps);
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

/* ------------------------------------------------------------------------------------------------
   Scaling benchmark (-bench_scaling strong|weak): within one run of P ranks, the iteration of a
   method on sub-communicators of k = 1, 2, 4, ..., P ranks (and P), with its cost split into FFT
   compute, the transposes between ranks, pointwise work, halo exchanges, reductions and the rest, plus the
   time to write and read the volume (HDF5). Strong: the same working size for every k; weak: the
   size per rank fixed (n0 = k × base n0). */

typedef struct {
  int       k;
  ptrdiff_t n[3];
  double    iter;                                                    /* median s per iteration */
  double    fft_compute, transpose, pointwise, halo, reduction, other; /* s per iteration */
  double    ffts;                 /* transforms per iteration (forward + inverse, from the log) */
  double    fft_bare, fft_events; /* bare transforms of one iteration; FFT events inside it */
  double    io_write, io_read;    /* s per volume */
  double    io_mib;               /* one volume, MiB */
  double    speedup, efficiency;
} ScalingRow;

enum { EV_PW, EV_HALO, EV_COMM, EV_FWD, EV_INV, EV_TR, EV_N };

/* Time (s) and count of the events this benchmark splits an iteration into, on this rank. */
static PetscErrorCode EventSnapshot(double t[EV_N], double cnt[EV_N])
{
  const PetscLogEvent ev[EV_N] = {PD_EV_POINTWISE, PD_EV_HALO, PD_EV_COMM, PD_EV_FFT_FWD, PD_EV_FFT_INV, PD_EV_FFT_TRANSPOSE};

  PetscFunctionBegin;
  for (int i = 0; i < EV_N; i++) {
    PetscEventPerfInfo info;
    PetscCall(PetscLogEventGetPerfInfo(PETSC_DETERMINE, ev[i], &info));
    t[i]   = info.time;
    cnt[i] = info.count;
  }
  PetscFunctionReturn(0);
}

/* Time of op(ctx) between barriers, and the median of `reps` such times. */
typedef PetscErrorCode (*TimedOp)(void *);
static PetscErrorCode TimeOnce(MPI_Comm comm, TimedOp op, void *ctx, double *t)
{
  PetscFunctionBegin;
  PetscCallMPI(MPI_Barrier(comm));
  double t0 = PdTime();
  PetscCall(op(ctx));
  PetscCallMPI(MPI_Barrier(comm));
  *t = PdTime() - t0;
  PetscFunctionReturn(0);
}

static PetscErrorCode TimeMedian(MPI_Comm comm, PetscInt reps, TimedOp op, void *ctx, double *med)
{
  double t[64];

  PetscFunctionBegin;
  reps = PetscMin(reps, 64);
  for (PetscInt i = 0; i < reps; i++) PetscCall(TimeOnce(comm, op, ctx, &t[i]));
  *med = Median(t, (int)reps);
  PetscFunctionReturn(0);
}

static PetscErrorCode OpStep(void *ctx)
{
  double change;

  PetscFunctionBegin;
  PetscCall(PdDeconStep((PdDecon)ctx, NULL, &change));
  PetscFunctionReturn(0);
}

static PetscErrorCode OpFFTPair(void *ctx)
{
  PetscFunctionBegin;
  PetscCall(PdFFTConvRoundTrip((PdFFTConv)ctx));
  PetscFunctionReturn(0);
}

typedef struct {
  const char     *spec;
  const PdLayout *lay;
  float          *v;
} IOCtx;

static PetscErrorCode OpWrite(void *ctx)
{
  IOCtx *io = (IOCtx *)ctx;

  PetscFunctionBegin;
  PetscCall(PdImageWrite(io->spec, io->lay, io->v, NULL));
  PetscFunctionReturn(0);
}

static PetscErrorCode OpRead(void *ctx)
{
  IOCtx *io = (IOCtx *)ctx;

  PetscFunctionBegin;
  PetscCall(PdImageRead(io->spec, io->lay, io->v));
  PetscFunctionReturn(0);
}

/* One row of the scaling table, on comm (the k ranks of the sub-communicator). iofile: a
   temporary HDF5 file, removed afterwards.
   Each repetition times, back to back, one iteration and one bare forward + inverse transform
   pair (on the iterate; the FFT buffer is scaled back after it, outside the timing), so that a busy machine disturbs both alike; the medians are reported, the pair scaled
   by the transforms one iteration does (from the event log). The transposes are the FFTTranspose
   event inside the iteration (the exchange, waiting for the slowest rank included), FFT compute
   the rest of the FFT events. */
static PetscErrorCode ScalingOne(MPI_Comm comm, const char *method, int psfkind, const ptrdiff_t n[3], PetscInt reps, const char *iofile, ScalingRow *r)
{
  PdDecon         d;
  PdFFTConv       conv;
  const PdLayout *lay;
  float          *y;
  double          e0[EV_N], c0[EV_N], e1[EV_N], c1[EV_N], ev[EV_N + 1] = {0}, ti[64], tf[64];
  char            spec[PETSC_MAX_PATH_LEN + 16];
  IOCtx           io;
  int             rank;

  PetscFunctionBegin;
  reps = PetscMin(reps, 64);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &r->k));
  for (int i = 0; i < 3; i++) r->n[i] = n[i];
  PetscCall(BenchSetUp(comm, method, psfkind, n, &d, &lay, &y));
  PetscCall(PdDeconGetFFTConv(d, &conv));
  PetscCall(OpStep(d)); /* warm-up; also prepares weights and state */

  for (PetscInt i = 0; i < reps; i++) {
    /* the iteration, and what the log saw during it (max over ranks below: the slowest rank sets
       the pace) */
    PetscCall(EventSnapshot(e0, c0));
    PetscCall(TimeOnce(comm, OpStep, d, &ti[i]));
    PetscCall(EventSnapshot(e1, c1));
    for (int j = 0; j < EV_N; j++) ev[j] += (e1[j] - e0[j]) / (double)reps;
    ev[EV_N] += (c1[EV_FWD] - c0[EV_FWD] + c1[EV_INV] - c0[EV_INV]) / (double)reps;
    /* bare transforms on the iterate, then the buffer as the method left it */
    PetscCall(TimeOnce(comm, OpFFTPair, conv, &tf[i]));
    PetscCall(UndoRoundTrips(conv, comm, n, 1));
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, ev, EV_N + 1, MPI_DOUBLE, MPI_MAX, comm));
  r->iter        = Median(ti, (int)reps);
  r->pointwise   = ev[EV_PW];
  r->halo        = ev[EV_HALO];
  r->reduction   = ev[EV_COMM];
  r->fft_events  = ev[EV_FWD] + ev[EV_INV];
  r->ffts        = ev[EV_N];
  r->fft_bare    = Median(tf, (int)reps) * r->ffts / 2;
  r->transpose   = ev[EV_TR];
  r->fft_compute = PetscMax(r->fft_events - r->transpose, 0.0);
  r->other       = PetscMax(r->iter - (r->fft_compute + r->transpose + r->pointwise + r->halo + r->reduction), 0.0);

  /* I/O of one volume: write (atomically, collective HDF5), then read back */
  PetscCall(PetscSNPrintf(spec, sizeof(spec), "%s:/data", iofile));
  io.spec   = spec;
  io.lay    = lay;
  io.v      = y;
  r->io_mib = (double)PdLayoutGlobalCount(lay) * 4.0 / 1048576.0;
  PetscCall(TimeMedian(comm, PetscMin(reps, 3), OpWrite, &io, &r->io_write));
  PetscCall(TimeMedian(comm, PetscMin(reps, 3), OpRead, &io, &r->io_read));
  if (!rank) (void)unlink(iofile);
  PetscCall(PdDeconDestroy(&d));
  PetscFunctionReturn(0);
}

/* Rank 0 checks that it can create path (its directory is writable, it is not a directory). */
static PetscErrorCode CheckWritable(MPI_Comm comm, const char *path)
{
  char dir[PETSC_MAX_PATH_LEN], *slash;
  int  ok = 1, rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    struct stat sb;
    PetscCall(PetscStrncpy(dir, path, sizeof(dir)));
    slash = strrchr(dir, '/');
    if (!slash) PetscCall(PetscStrncpy(dir, ".", sizeof(dir)));
    else if (slash == dir) slash[1] = 0;
    else *slash = 0;
    ok = path[0] && access(dir, W_OK) == 0 && !(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
  }
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  PetscCheck(ok, comm, PD_ERR_FILE, "%s: cannot create this file (its directory must exist and be writable)", path);
  PetscFunctionReturn(0);
}

static const char *const scaling_cols[] = {"FFT compute", "transposes", "pointwise", "halo", "reductions", "other"};

static void RowParts(const ScalingRow *r, double part[6])
{
  part[0] = r->fft_compute;
  part[1] = r->transpose;
  part[2] = r->pointwise;
  part[3] = r->halo;
  part[4] = r->reduction;
  part[5] = r->other;
}

/* The CSV, written by rank 0 to a temporary name and renamed. */
static PetscErrorCode ScalingCSV(MPI_Comm comm, const char *path, const char *mode, const char *method, PetscInt reps, int nk, const ScalingRow *rows)
{
  char tmp[PETSC_MAX_PATH_LEN + 32], msg[256] = "";
  int  rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    FILE *f;
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    f = fopen(tmp, "w");
    if (!f) snprintf(msg, sizeof(msg), "%s", strerror(errno));
    else {
      fprintf(f, "mode,method,ranks,nz,ny,nx,reps,iter_s,fft_compute_s,transpose_s,pointwise_s,halo_s,reduction_s,other_s,ffts_per_iter,fft_bare_s,fft_events_s,io_write_s,io_read_s,io_mib,speedup,efficiency\n");
      for (int j = 0; j < nk; j++) {
        const ScalingRow *r = &rows[j];
        fprintf(f, "%s,%s,%d,%td,%td,%td,%" PetscInt_FMT ",%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", mode, method, r->k, r->n[0], r->n[1], r->n[2], reps, r->iter, r->fft_compute, r->transpose,
                r->pointwise, r->halo, r->reduction, r->other, r->ffts, r->fft_bare, r->fft_events, r->io_write, r->io_read, r->io_mib, r->speedup, r->efficiency);
      }
      if (ferror(f)) snprintf(msg, sizeof(msg), "write error");
      if (fclose(f) && !msg[0]) snprintf(msg, sizeof(msg), "%s", strerror(errno));
      if (!msg[0] && rename(tmp, path)) snprintf(msg, sizeof(msg), "%s", strerror(errno));
      if (msg[0]) (void)unlink(tmp);
    }
  }
  PetscCallMPI(MPI_Bcast(msg, sizeof(msg), MPI_CHAR, 0, comm));
  PetscCheck(!msg[0], comm, PD_ERR_FILE, "%s: cannot write (%s)", path, msg);
  PetscFunctionReturn(0);
}

/* The plot: time per iteration as stacked bars by component (left axis), the measured iteration
   time as a black tick on each bar, parallel efficiency as a line with markers (right axis), a
   legend and the I/O times per volume. Every rank draws it; rank 0 writes it. */
static PetscErrorCode ScalingPlot(MPI_Comm comm, const char *path, const char *mode, const char *method, PetscInt reps, int nk, const ScalingRow *rows)
{
  const PdColor col[8] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {190, 190, 190}, {0, 0, 0}, {0, 128, 128}};
  const PdColor grid = {228, 228, 228}, ideal = {150, 150, 150}, subtle = {90, 90, 90};
  const int     W = 1080, H = 640, L = 100, T = 84, R = 700, B = 560, LX = 800;
  PdPlot        p;
  PdCanvas      c;
  char          lab[40][16], title[160], line[96];
  const char   *labels[40], *leg[8];
  PdColor       legc[8];
  PdLegendKind  kinds[8];
  double        ymax = 0, emax = 1.2, step, x[40], e[40], legbottom;

  PetscFunctionBegin;
  for (int j = 0; j < nk; j++) {
    double part[6], sum = 0;
    RowParts(&rows[j], part);
    for (int k = 0; k < 6; k++) sum += part[k];
    ymax = PetscMax(ymax, PetscMax(sum, rows[j].iter));
    emax = PetscMax(emax, rows[j].efficiency * 1.1);
    snprintf(lab[j], sizeof(lab[j]), "%d", rows[j].k);
    labels[j] = lab[j];
    x[j]      = j;
    e[j]      = rows[j].efficiency;
  }
  if (!(ymax > 0)) ymax = 1;
  step = PdPlotNiceStep(0, ymax * 1.12, 6);
  PetscCall(PdPlotCreate(W, H, &p));
  PetscCall(PdPlotGetCanvas(p, &c));
  PetscCall(PdPlotSetFrame(p, L, T, R, B));
  PetscCall(PdPlotSetRange(p, PD_AXIS_Y, 0, ceil(ymax * 1.12 / step) * step));
  PetscCall(PdPlotSetRange(p, PD_AXIS_Y2, 0, ceil(emax / 0.2) * 0.2));
  PetscCall(PdPlotGrid(p, PD_AXIS_Y, step, grid));
  PetscCall(PdPlotAxisCategories(p, nk, labels, "ranks"));
  PetscCall(PdPlotAxisDraw(p, PD_AXIS_Y, step, "%g", "time per iteration [s]"));
  PetscCall(PdPlotAxisDraw(p, PD_AXIS_Y2, 0.2, "%.1f", "parallel efficiency"));
  {
    double ex[2] = {-0.5, nk - 0.5}, ey[2] = {1, 1};
    PetscCall(PdPlotLine(p, PD_AXIS_Y2, 2, ex, ey, 1, PETSC_TRUE, ideal));
  }
  for (int j = 0; j < nk; j++) {
    double part[6], y0 = 0;
    RowParts(&rows[j], part);
    for (int k = 0; k < 6; k++) {
      if (part[k] > 0) PetscCall(PdPlotBar(p, PD_AXIS_Y, j, 0.56, y0, y0 + part[k], col[k]));
      y0 += part[k];
    }
    PetscCall(PdPlotTick(p, PD_AXIS_Y, j, 0.7, rows[j].iter, 3, col[6]));
  }
  PetscCall(PdPlotLine(p, PD_AXIS_Y2, nk, x, e, 2.5, PETSC_FALSE, col[7]));
  PetscCall(PdPlotMarkers(p, PD_AXIS_Y2, nk, x, e, 10, col[7]));
  /* the measured iteration time above each bar, on a white ground over the efficiency line */
  for (int j = 0; j < nk; j++) {
    double part[6], sum = 0, px, py, pe, tw, ty;
    RowParts(&rows[j], part);
    for (int k = 0; k < 6; k++) sum += part[k];
    PetscCall(PdPlotToPixel(p, PD_AXIS_Y, j, PetscMax(sum, rows[j].iter), &px, &py));
    PetscCall(PdPlotToPixel(p, PD_AXIS_Y2, j, e[j], NULL, &pe));
    snprintf(line, sizeof(line), "%.3g s", rows[j].iter);
    PetscCall(PdCanvasTextWidth(c, 14, PD_TEXT_NORMAL, line, &tw));
    ty = py - 14; /* text middle */
    if (fabs(pe - ty) < 20) ty = pe - 22 - 8 >= T ? pe - 22 : pe + 22; /* clear of the marker */
    PetscCall(PdCanvasFillRect(c, px - tw / 2 - 3, ty - 9, tw + 6, 18, PdWhite));
    PetscCall(PdCanvasText(c, px, ty, 14, PD_TEXT_NORMAL, PD_ALIGN_CENTER, PdInk, line));
  }
  if (!strcmp(mode, "strong"))
    snprintf(title, sizeof(title), "pdecon strong scaling: %s, working size %td \xC3\x97 %td \xC3\x97 %td", method, rows[0].n[0], rows[0].n[1], rows[0].n[2]);
  else snprintf(title, sizeof(title), "pdecon weak scaling: %s, %td \xC3\x97 %td \xC3\x97 %td per rank (z grows)", method, rows[0].n[0], rows[0].n[1], rows[0].n[2]);
  PetscCall(PdCanvasText(c, W / 2.0, 28, 20, PD_TEXT_BOLD, PD_ALIGN_CENTER, PdInk, title));
  snprintf(line, sizeof(line), "median of %" PetscInt_FMT " timed iterations; efficiency %s", reps, !strcmp(mode, "strong") ? "T\xE2\x82\x81 / (k T\xE2\x82\x96)" : "T\xE2\x82\x81 / T\xE2\x82\x96");
  PetscCall(PdCanvasText(c, W / 2.0, 56, 14, PD_TEXT_NORMAL, PD_ALIGN_CENTER, subtle, line));
  for (int k = 0; k < 6; k++) {
    leg[k]   = scaling_cols[k];
    legc[k]  = col[k];
    kinds[k] = PD_LEGEND_BOX;
  }
  leg[6]   = "iteration time";
  legc[6]  = col[6];
  kinds[6] = PD_LEGEND_DASH;
  leg[7]   = "efficiency";
  legc[7]  = col[7];
  kinds[7] = PD_LEGEND_LINE;
  PetscCall(PdPlotLegend(p, LX, T, 14, 8, leg, legc, kinds, &legbottom));
  {
    const double ty = legbottom + 36;
    PetscCall(PdCanvasText(c, LX, ty, 14, PD_TEXT_BOLD, PD_ALIGN_LEFT, PdInk, "I/O per volume [s]"));
    PetscCall(PdCanvasText(c, LX + 50, ty + 26, 14, PD_TEXT_NORMAL, PD_ALIGN_RIGHT, subtle, "ranks"));
    PetscCall(PdCanvasText(c, LX + 130, ty + 26, 14, PD_TEXT_NORMAL, PD_ALIGN_RIGHT, subtle, "write"));
    PetscCall(PdCanvasText(c, LX + 210, ty + 26, 14, PD_TEXT_NORMAL, PD_ALIGN_RIGHT, subtle, "read"));
    for (int j = 0; j < nk && j < 10; j++) {
      const double yj = ty + 50 + 20 * j;
      snprintf(line, sizeof(line), "%d", rows[j].k);
      PetscCall(PdCanvasText(c, LX + 50, yj, 14, PD_TEXT_NORMAL, PD_ALIGN_RIGHT, PdInk, line));
      snprintf(line, sizeof(line), "%.4f", rows[j].io_write);
      PetscCall(PdCanvasText(c, LX + 130, yj, 14, PD_TEXT_NORMAL, PD_ALIGN_RIGHT, PdInk, line));
      snprintf(line, sizeof(line), "%.4f", rows[j].io_read);
      PetscCall(PdCanvasText(c, LX + 210, yj, 14, PD_TEXT_NORMAL, PD_ALIGN_RIGHT, PdInk, line));
    }
  }
  PetscCall(PdPlotWritePNG(p, comm, path));
  PetscCall(PdPlotDestroy(&p));
  PetscFunctionReturn(0);
}

static PetscErrorCode BenchScaling(MPI_Comm comm, const char *mode, const char *method, int psfkind, const ptrdiff_t base[3], PetscInt reps, const char *csv, const char *png, const char *dir)
{
  int        rank, size, nk = 0, ks[40];
  ScalingRow rows[40];
  PetscBool  logging;
  char       iofile[PETSC_MAX_PATH_LEN];
  long       pid = (long)getpid();
  const PetscBool weak = (PetscBool)!strcmp(mode, "weak");

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  for (int k = 1; k <= size && nk < 39; k *= 2) ks[nk++] = k;
  if (ks[nk - 1] != size) ks[nk++] = size;
  /* outputs are checked before any work starts */
  PetscCallMPI(MPI_Bcast(&pid, 1, MPI_LONG, 0, comm));
  PetscCall(PetscSNPrintf(iofile, sizeof(iofile), "%s/pdecon-bench-io-%ld.h5", dir, pid));
  PetscCall(PdOutputCheck(comm, iofile, 0, NULL));
  PetscCall(CheckWritable(comm, csv));
  PetscCall(PdOutputCheck(comm, png, 0, NULL));
  /* the breakdown comes from PETSc's event log: start it unless -log_view already did */
  PetscCall(PetscLogIsActive(&logging));
  if (!logging) PetscCall(PetscLogDefaultBegin());

  PetscCall(PetscPrintf(comm, "pdecon bench: %s scaling, method %s, %s %tdx%tdx%td, ranks", mode, method, weak ? "per rank" : "working size", base[0], base[1], base[2]));
  for (int j = 0; j < nk; j++) PetscCall(PetscPrintf(comm, " %d", ks[j]));
  PetscCall(PetscPrintf(comm, ", median of %" PetscInt_FMT " repetitions\n", reps));
  PetscCall(PetscPrintf(comm, "seconds per iteration; I/O seconds per volume\n"));
  PetscCall(PetscPrintf(comm, "%5s %-14s %9s %9s %9s %9s %9s %9s %9s %9s %9s %8s %8s\n", "ranks", "size z,y,x", "iter", "FFT", "transp.", "pointw.", "halo", "reduce", "other", "IO write", "IO read", "speed-up", "effic."));
  for (int j = 0; j < nk; j++) {
    const int      k = ks[j];
    MPI_Comm       sub;
    ptrdiff_t      n[3] = {base[0] * (weak ? k : 1), base[1], base[2]};
    PetscErrorCode ierr = 0;
    int            err;
    ScalingRow    *r = &rows[j];

    PetscCall(PetscMemzero(r, sizeof(*r)));
    PetscCallMPI(MPI_Comm_split(comm, rank < k ? 0 : MPI_UNDEFINED, rank, &sub));
    if (sub != MPI_COMM_NULL) {
      /* An error here is raised on the k ranks only: it is carried to the waiting ranks below
         instead of leaving them in the barrier (the handler has already reported it). */
      ierr = ScalingOne(sub, method, psfkind, n, reps, iofile, r);
      PetscCallMPI(MPI_Comm_free(&sub));
    }
    PetscCall(AppIdleBarrier(comm));
    err = (int)ierr;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &err, 1, MPI_INT, MPI_MAX, comm));
    PetscCheck(!err, comm, (PetscErrorCode)err, "bench: the run on %d rank%s failed", k, k > 1 ? "s" : "");
    PetscCallMPI(MPI_Bcast(r, (int)sizeof(*r), MPI_BYTE, 0, comm));
    r->speedup    = weak ? k * rows[0].iter / r->iter : rows[0].iter / r->iter;
    r->efficiency = weak ? rows[0].iter / r->iter : rows[0].iter / (k * r->iter);
    {
      char label[64];
      snprintf(label, sizeof(label), "%tdx%tdx%td", r->n[0], r->n[1], r->n[2]);
      PetscCall(PetscPrintf(comm, "%5d %-14s %9.3g %9.3g %9.3g %9.3g %9.3g %9.3g %9.3g %9.3g %9.3g %8.3g %8.3g\n", k, label, r->iter, r->fft_compute, r->transpose, r->pointwise, r->halo, r->reduction, r->other, r->io_write, r->io_read, r->speedup,
                            r->efficiency));
    }
  }
  PetscCall(ScalingCSV(comm, csv, mode, method, reps, nk, rows));
  PetscCall(ScalingPlot(comm, png, mode, method, reps, nk, rows));
  PetscCall(PetscPrintf(comm, "wrote %s and %s\n", csv, png));
  PetscFunctionReturn(0);
}

PetscErrorCode CmdBench(MPI_Comm comm)
{
  char        sizes_s[1024] = "64x256x256,128x512x512", method[32] = "rl", bmodel[32] = "", scaling[16] = "", csv[PETSC_MAX_PATH_LEN] = "", png[PETSC_MAX_PATH_LEN] = "", dir[PETSC_MAX_PATH_LEN] = "/tmp";
  ptrdiff_t   sizes[16][3];
  int         nsizes, rank, size;
  PetscInt    reps = 5, its = 10;
  PetscEnum   psfkind = (PetscEnum)0;
  PetscBool   serial = PETSC_TRUE, train = PETSC_FALSE, concurrent = PETSC_FALSE;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscOptionsBegin(comm, NULL, "pdecon bench", "");
  PetscCall(PetscOptionsString("-bench_sizes", "Working sizes ZxYxX, comma separated", "", sizes_s, sizes_s, sizeof(sizes_s), NULL));
  PetscCall(PetscOptionsString("-bench_method", "Method whose iteration is timed", "", method, method, sizeof(method), NULL));
  PetscCall(PetscOptionsInt("-bench_reps", "Timed repetitions (the median is reported)", "", reps, &reps, NULL));
  PetscCall(PetscOptionsEnum("-bench_psf", "Benchmark PSF: symmetric (real OTF, as a model PSF) or asymmetric (complex OTF, as a measured one)", "", bench_psfs, psfkind, &psfkind, NULL));
  PetscCall(PetscOptionsBool("-bench_serial", "Also time the same operation on one rank in this run (speed-up)", "", serial, &serial, NULL));
  PetscCall(PetscOptionsString("-bench_scaling", "Scaling benchmark instead: strong (fixed working size, the first of -bench_sizes) or weak (that size per rank, z grows with the ranks), on 1, 2, 4, ... ranks; tiles: tile-parallel against slab-parallel throughput on that stack", "", scaling, scaling, sizeof(scaling), NULL));
  PetscCall(PetscOptionsInt("-bench_its", "Scaling benchmark of tiles: iterations of each whole deconvolution", "", its, &its, NULL));
  PetscCall(PetscOptionsString("-bench_csv", "Scaling benchmark: CSV table (default pdecon-scaling-<mode>.csv)", "", csv, csv, sizeof(csv), NULL));
  PetscCall(PetscOptionsString("-bench_png", "Scaling benchmark: plot (default pdecon-scaling-<mode>.png)", "", png, png, sizeof(png), NULL));
  PetscCall(PetscOptionsBool("-bench_concurrent", "Also time every rank solving the whole problem alone at the same time: the speed-up the machine allows (each rank holds a full copy)", "", concurrent, &concurrent, NULL));
  PetscCall(PetscOptionsBool("-bench_train", "Training benchmark instead: one batch gradient of pdecon train (-train_* options) on all ranks and on one", "", train, &train, NULL));
  PetscCall(PetscOptionsString("-bench_model", "Restoration network benchmark instead: isonet1, isonet2 or srcnn against PyTorch (bench_model.c)", "", bmodel, bmodel, sizeof(bmodel), NULL));
  PetscCall(PetscOptionsString("-bench_dir", "Scaling benchmark: directory for the temporary HDF5 file of the I/O timing", "", dir, dir, sizeof(dir), NULL));
  PetscOptionsEnd();
  {
    PdDecon tmp; /* so that -help lists the solver and FFT options too */
    PetscCall(PdDeconCreate(comm, &tmp));
    PetscCall(PdDeconSetFromOptions(tmp));
    PetscCall(PdDeconDestroy(&tmp));
  }
  PetscCheck(reps >= 1, comm, PD_ERR_INPUT, "-bench_reps must be at least 1");
  if (bmodel[0]) {
    PetscCall(AppBenchModel(comm, bmodel));
    PetscFunctionReturn(0);
  }
  if (train) {
    PetscCall(AppBenchTrain(comm, reps, serial)); /* reads the -train_* options first */
    PetscFunctionReturn(0);
  }
  if (AppHelpRequested()) PetscFunctionReturn(0);
  PetscCall(AppCheckOptionsUsed(comm));
  PetscCall(ParseSizes(sizes_s, sizes, &nsizes));
  if (scaling[0]) {
    PetscCheck(nsizes >= 1, comm, PD_ERR_INPUT, "-bench_sizes: no size given");
    PetscCheck(!strcmp(scaling, "strong") || !strcmp(scaling, "weak") || !strcmp(scaling, "tiles"), comm, PD_ERR_INPUT, "-bench_scaling: '%s' is not strong, weak or tiles", scaling);
    PetscCheck(reps <= 64, comm, PD_ERR_INPUT, "-bench_reps: at most 64 for the scaling benchmark");
    if (!csv[0]) PetscCall(PetscSNPrintf(csv, sizeof(csv), "pdecon-scaling-%s.csv", scaling));
    if (!strcmp(scaling, "tiles")) {
      PetscCall(CheckWritable(comm, csv));
      PetscCall(AppBenchTiles(comm, method, its, sizes[0], reps, csv));
      PetscFunctionReturn(0);
    }
    if (!png[0]) PetscCall(PetscSNPrintf(png, sizeof(png), "pdecon-scaling-%s.png", scaling));
    PetscCall(BenchScaling(comm, scaling, method, psfkind, sizes[0], reps, csv, png, dir));
    PetscFunctionReturn(0);
  }

  PetscCall(PetscPrintf(comm, "pdecon bench: method %s, %d rank%s, %s PSF, median of %" PetscInt_FMT " repetitions (iter/FFT: the median of each repetition's ratio)\n", method, size, size > 1 ? "s" : "", bench_psfs[psfkind], reps));
  PetscCall(PetscPrintf(comm, "%-14s %5s %12s %12s %7s %9s %12s %12s %10s %8s\n", "size z,y,x", "ranks", "iter [s]", "4 FFTs [s]", "iter/FFT", "plan [s]", "state MiB", "peak MiB", "speed-up", "OTF"));
  for (int i = 0; i < nsizes; i++) {
    BenchResult r, r1;
    double      peak;
    char        label[64], spd[32] = "-";

    PetscCall(PetscMemzero(&r1, sizeof(r1)));

    PetscCall(BenchOne(comm, comm, method, psfkind, sizes[i], reps, &r));
    PetscCall(PdPeakMemory(comm, NULL, &peak));
    if (serial && size > 1) {
      /* One rank repeats the operation alone; the others wait without spinning. */
      if (rank == 0) PetscCall(BenchOne(PETSC_COMM_SELF, PETSC_COMM_SELF, method, psfkind, sizes[i], reps, &r1));
      PetscCall(AppIdleBarrier(comm));
      PetscCallMPI(MPI_Bcast(&r1, sizeof(r1), MPI_BYTE, 0, comm));
      snprintf(spd, sizeof(spd), "%.2fx", r1.iter / r.iter);
    }
    snprintf(label, sizeof(label), "%tdx%tdx%td", sizes[i][0], sizes[i][1], sizes[i][2]);
    /* state: the method's working volumes + the OTF (one more volume) + the data (<= one) */
    PetscCall(PetscPrintf(comm, "%-14s %5d %12.4f %12.4f %7.3f %9.2f %12.1f %12.1f %10s %8s\n", label, size, r.iter, r.fft4, r.ratio, r.planning, (r.nvol + 2) * r.volmib, peak / 1048576.0, spd, r.otf_real ? "real" : "complex"));
    if (serial && size > 1)
      PetscCall(PetscPrintf(comm, "%-14s %5d %12.4f %12.4f %7.3f %9.2f %12.1f %12s %10s\n", label, 1, r1.iter, r1.fft4, r1.ratio, r1.planning, (r1.nvol + 2) * r1.volmib, "-", "(in-process)"));
    if (concurrent && size > 1) {
      BenchResult rc;
      double      tmax[3];

      /* every rank alone on the whole problem, the repetitions in step (barriers of comm): the
         slowest copy sets the pace */
      PetscCall(BenchOne(PETSC_COMM_SELF, comm, method, psfkind, sizes[i], reps, &rc));
      tmax[0] = rc.iter;
      tmax[1] = rc.fft4;
      tmax[2] = rc.ratio;
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, tmax, 3, MPI_DOUBLE, MPI_MAX, comm));
      PetscCall(PetscPrintf(comm, "%-14s %3dx1 %12.4f %12.4f %7.3f %9.2f %12.1f %12s %10s\n", label, size, tmax[0], tmax[1], tmax[2], rc.planning, (rc.nvol + 2) * rc.volmib, "-", "(concurrent)"));
      if (serial) {
        /* throughput of P independent copies against one alone: the most one run can gain */
        double ceiling = size * r1.iter / tmax[0];
        PetscCall(PetscPrintf(comm, "%-14s machine allows %.2fx on %d ranks (%d concurrent copies); this run reaches %.2fx = %.0f %% of it\n", label, ceiling, size, size, r1.iter / r.iter, 100.0 * (r1.iter / r.iter) / ceiling));
      }
    }
  }
  PetscFunctionReturn(0);
}
