/* Memory planner: what one deconvolution needs per rank, known before anything large is
   allocated, checked against the memory the rank may use.

   Per rank: the method's working volumes (x, weights, FFT buffer and the method's own state,
   PdMethodOps.nvolumes; state kept in 16 bits counts half, PdMethodOps.half_volumes), the OTF (one spectrum, half of one when it is real; two with an unmatched back projector), the data on the image box, the FFT's
   plane buffers (one per thread and thread 0's ring; the spectrum lives in the FFT buffer itself,
   fftconv.h), the PSF (and its box sums where the weights are computed, box_weights.c; only those once the
   PSF is released, PdDeconSetReleasePSF), a method's own workspace (PdMethodOps.workspace: garl's regulariser), and the
   process's baseline (libraries, MPI buffers: its resident size measured when the estimate is
   made). Available: -decon_memory_limit (MiB per rank) if given, else the node's MemAvailable (and the
   cgroup limit a batch system sets, if lower) shared by the ranks on the node. */
#include "decon/decon_impl.h"
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <math.h>

/* Resident set size now, bytes (from /proc/self/statm). */
static double ResidentNow(void)
{
  long  pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return (double)resident * 4096.0;
}

/* Bytes this node lets its processes use: MemAvailable, or a lower cgroup (v2 or v1) limit. */
static double NodeAvailable(void)
{
  double avail = 0, lim;
  char   line[256];
  FILE  *f = fopen("/proc/meminfo", "r");
  if (f) {
    while (fgets(line, sizeof(line), f))
      if (sscanf(line, "MemAvailable: %lf kB", &avail) == 1) break;
    fclose(f);
  }
  avail *= 1024.0;
  const char *cg[] = {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
  for (int i = 0; i < 2; i++)
    if ((f = fopen(cg[i], "r"))) {
      if (fscanf(f, "%lf", &lim) == 1 && lim > 0 && lim < avail) avail = lim;
      fclose(f);
    }
  return avail;
}

PetscBool PdDeconRealOTF(PdDecon d) { return (PetscBool)(d->ops->real_otf && d->nviews <= 1 && !d->ops->backprojector); }

PetscErrorCode PdDeconEstimateMemory(PdDecon d, const ptrdiff_t n[3], PdMemoryEstimate *e)
{
  ptrdiff_t bnz, z0, nzl, y0, nky;
  size_t    nwork, nplanes;
  double    vol, spec;
  int       size, rank;

  PetscFunctionBegin;
  memset(e, 0, sizeof(*e));
  PetscCallMPI(MPI_Comm_size(d->comm, &size));
  PetscCallMPI(MPI_Comm_rank(d->comm, &rank));
  /* the same query the FFT set-up makes, without allocating anything */
  PetscCall(PdFFTConvLocalSizes(d->comm, n, &nwork, &nplanes));
  vol  = 4.0 * (double)nwork; /* one working volume */
  PdBlockRange(n[0], size, rank, &z0, &nzl); /* this rank's planes */
  PdBlockRange(n[1], size, rank, &y0, &nky); /* and spectral rows */
  spec = 8.0 * (double)PetscMax(n[0] * nky * (n[2] / 2 + 1), 1); /* one spectrum (the OTF's size) */
  bnz     = PetscMax(0, PetscMin(z0 + nzl, d->m[0]) - z0);
  e->nvol = d->ops->nvolumes + (d->nviews > 1 ? 2 : 0); /* multi-view: the point u and the sum */
  if (d->ops->row_weights && !PdDeconComputesWeights(d, n)) e->nvol++; /* the weights stored after all */
  if (d->ops->extra_volumes) e->nvol += d->ops->extra_volumes(d);
  e->nhalf    = d->ops->half_volumes ? d->ops->half_volumes(d) : 0;
  e->volumes  = (e->nvol + 0.5 * e->nhalf) * vol;
  e->otf      = spec * (d->ops->backprojector ? 2 : 1) * (d->nviews > 1 ? d->nviews + 1 : 1); /* + an unmatched back projector; multi-view: each view's and the summed PSF's */
  if (PdDeconRealOTF(d)) {
    PetscBool sym, zsym;
    PetscCall(PdFFTConvPSFIsCentrosymmetric(n, d->pn, d->psf, d->pc, &sym));
    if (sym) e->otf *= 0.5; /* its real part only */
    PetscCall(PdFFTConvPSFIsZSymmetric(n, d->pn, d->psf, d->pc, &zsym));
    if (sym && zsym) e->otf *= (double)(n[0] / 2 + 1) / (double)n[0]; /* and of kz <= n0/2 only */
    e->otf_real = sym;
  }
  e->fft      = 4.0 * (double)nplanes;
  e->data     = 4.0 * (double)bnz * (double)(d->m[1] * d->m[2]) * (double)(PdDeconViewCount(d) + (PdStopRuleKeepsBox(d) ? 1 : 0)); /* + the stop rule's copy of x */
  e->psf      = 8.0 * (double)(d->pn[0] * d->pn[1] * d->pn[2]) * (double)(d->nviews > 1 ? d->nviews + 1 : 1);
  if (PdDeconComputesWeights(d, n)) { /* the PSF's box sums; a released PSF is gone before the method's state comes */
    if (d->release_psf) e->psf = 0;
    e->psf += PdBoxWeightsBytes(d->pn, n);
  }
  if (d->ops->workspace) PetscCall(d->ops->workspace(d, n, z0, nzl, &e->method));
  /* Memory freed earlier (a previous solve) may still be held by the allocator and would count
     twice: hand it back before measuring. */
  (void)malloc_trim(0);
  e->baseline = ResidentNow();
  e->total    = e->volumes + e->otf + e->fft + e->data + e->psf + e->method + e->baseline;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &e->total, 1, MPI_DOUBLE, MPI_MAX, d->comm));
  /* what scales with 1/ranks, to say how many ranks would fit */
  e->distributed = (e->volumes + e->otf + e->data) * size;
  e->fixed       = e->psf + e->method + e->baseline; /* bounded workspaces: taken as fixed */
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &e->distributed, 1, MPI_DOUBLE, MPI_MAX, d->comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &e->fixed, 1, MPI_DOUBLE, MPI_MAX, d->comm));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconGetMemoryAvailable(PdDecon d, double *bytes)
{
  MPI_Comm node;
  int      local;

  PetscFunctionBegin;
  if (d->memory_limit > 0) {
    *bytes = d->memory_limit * 1048576.0;
    PetscFunctionReturn(0);
  }
  PetscCallMPI(MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  PetscCallMPI(MPI_Comm_size(node, &local));
  PetscCallMPI(MPI_Comm_free(&node));
  *bytes = NodeAvailable() / local;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, bytes, 1, MPI_DOUBLE, MPI_MIN, d->comm));
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconCheckMemory(PdDecon d, const ptrdiff_t n[3])
{
  PdMemoryEstimate e;
  double           avail;
  char             half[64] = "";

  PetscFunctionBegin;
  PetscCall(PdDeconEstimateMemory(d, n, &e));
  PetscCall(PdDeconGetMemoryAvailable(d, &avail));
  if (e.nhalf) PetscCall(PetscSNPrintf(half, sizeof(half), " and %" PetscInt_FMT " in 16 bits", e.nhalf));
  d->memory_estimate = e.total;
  if (d->memory_view)
    PetscCall(PetscPrintf(d->comm,
                          "memory per rank: %.1f MiB = %" PetscInt_FMT " working volumes%s %.1f + OTF%s%s %.1f + FFT planes %.1f + data %.1f + PSF %.1f + method workspace %.1f + process %.1f; available %.1f MiB\n",
                          e.total / 1048576.0, e.nvol, half, e.volumes / 1048576.0, d->ops->backprojector ? " and back projector" : "", e.otf_real ? " (real)" : "", e.otf / 1048576.0, e.fft / 1048576.0, e.data / 1048576.0, e.psf / 1048576.0, e.method / 1048576.0, e.baseline / 1048576.0,
                          avail / 1048576.0));
  if (avail > 0 && e.total > avail) {
    /* ranks needed: fixed + distributed / P <= avail, with P at most the number of planes */
    double need = avail > e.fixed ? ceil(e.distributed / (avail - e.fixed)) : -1;
    if (need > 0 && need <= n[0])
      SETERRQ(d->comm, PD_ERR_INPUT, "%s: needs %.0f MiB per rank but %.0f MiB are available per rank (%s); it would fit on %.0f ranks (of the same memory) or more", d->dataname, e.total / 1048576.0,
              avail / 1048576.0, d->memory_limit > 0 ? "-decon_memory_limit" : "memory of this node shared by its ranks", need);
    SETERRQ(d->comm, PD_ERR_INPUT, "%s: needs %.0f MiB per rank but %.0f MiB are available per rank (%s), and no rank count up to the %td planes of the working volume would fit", d->dataname,
            e.total / 1048576.0, avail / 1048576.0, d->memory_limit > 0 ? "-decon_memory_limit" : "memory of this node shared by its ranks", n[0]);
  }
  PetscFunctionReturn(0);
}
