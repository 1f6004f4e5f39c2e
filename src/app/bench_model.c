/* pdecon bench -bench_model isonet1|isonet2|srcnn: the restoration networks on the CPU.

   Times, with the engine (nn.h), a data-parallel training step (global batch B of S×S patches,
   -bench_model_batch and -bench_model_size, default 16 and 64, shared among the ranks: forward,
   MSE loss, backward, one MPI_Allreduce of the gradients, Adam) and inference (the batch, shared
   among the ranks, and one 512×512 image per rank). When a python3 with torch is found
   (-bench_python, else python3, then /usr/bin/python3), rank 0 then runs
   scripts/bench_torch_cnn.py with ranks × threads threads on the same problem in the same run and
   the ratios are printed. Medians of -bench_reps calls after one warm-up; on a shared machine
   the engine and PyTorch take turns for -bench_rounds rounds and each keeps its best round. */
#include "app.h"
#include <pdecon/learn/cnn.h>
#include <pdecon/core/random.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  double train, infer, infer512; /* samples/s, output Mpix/s, output Mpix/s */
} Rates;

static PetscErrorCode Fill(PdTensor *t, unsigned long long seed)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < PdTensorSize(t); i++) {
    PdRandStream r = PdRandStreamCreate(seed, (unsigned long long)i);
    t->v[i]        = (float)PdRandUniform(&r);
  }
  PetscFunctionReturn(0);
}

/* Median seconds (slowest rank) of reps calls of op after one warm-up. */
typedef PetscErrorCode (*Op)(void *ctx);
static PetscErrorCode Median(MPI_Comm comm, PetscInt reps, Op op, void *ctx, double *med)
{
  double *ts;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(reps, &ts));
  PetscCall(op(ctx));
  for (PetscInt r = 0; r < reps; r++) {
    double t0;
    PetscCallMPI(MPI_Barrier(comm));
    t0 = PdTime();
    PetscCall(op(ctx));
    ts[r] = PdTime() - t0;
    PetscCall(PdAllreduceMax(comm, &ts[r], 1));
  }
  PetscCall(PetscSortReal(reps, ts));
  *med = ts[reps / 2];
  PetscCall(PetscFree(ts));
  PetscFunctionReturn(0);
}

typedef struct {
  MPI_Comm  comm;
  PdNN      net;
  PdNNWork  train, infer;
  PdTensor  x, y, dy, big;
  PdAdam    adam;
  PetscInt  B;
} Bench;

static PetscErrorCode TrainStep(void *ctx)
{
  Bench   *b = (Bench *)ctx;
  PdTensor out;
  double   loss = 0;
  float   *theta, *grad;
  PetscInt n;

  PetscFunctionBegin;
  PetscCall(PdNNZeroGrads(b->net));
  if (b->x.n > 0) {
    PetscCall(PdNNForward(b->net, b->train, &b->x, &out));
    PetscCall(PdNNLoss(PD_NN_LOSS_MSE, &out, &b->y, 1.0 / (double)b->B, &loss, &b->dy));
    PetscCall(PdNNBackward(b->net, b->train, &b->dy, NULL));
  }
  PetscCall(PdNNGetParams(b->net, &theta, &n));
  PetscCall(PdNNGetGrads(b->net, &grad, NULL));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, grad, (int)n, MPI_FLOAT, MPI_SUM, b->comm));
  PetscCall(PdAdamStepFloat(b->adam, 1e-4, NULL, grad, theta));
  PetscFunctionReturn(0);
}

static PetscErrorCode InferBatch(void *ctx)
{
  Bench   *b = (Bench *)ctx;
  PdTensor out;

  PetscFunctionBegin;
  if (b->x.n > 0) PetscCall(PdNNForward(b->net, b->infer, &b->x, &out));
  PetscFunctionReturn(0);
}

static PetscErrorCode Infer512(void *ctx)
{
  Bench   *b = (Bench *)ctx;
  PdTensor out;

  PetscFunctionBegin;
  PetscCall(PdNNForward(b->net, b->infer, &b->big, &out));
  PetscFunctionReturn(0);
}

/* The first python that imports torch: the given one, else python3, else /usr/bin/python3
   (empty: none). */
static void FindPython(const char *given, char *py, size_t len)
{
  const char *cands[3] = {given, "python3", "/usr/bin/python3"};
  py[0]                = 0;
  for (int i = 0; i < 3; i++) {
    char cmd[PETSC_MAX_PATH_LEN + 64];
    if (!cands[i] || !cands[i][0]) continue;
    snprintf(cmd, sizeof(cmd), "%s -c 'import torch' >/dev/null 2>&1", cands[i]);
    if (system(cmd) == 0) {
      snprintf(py, len, "%s", cands[i]);
      return;
    }
    if (given && given[0]) return; /* a python named by the user is the only one tried */
  }
}

/* scripts/bench_torch_cnn.py beside the executable's source tree (the build directory sits in
   it), else in the current directory. */
static void FindScript(char *path, size_t len)
{
  char    exe[PETSC_MAX_PATH_LEN];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  snprintf(path, len, "scripts/bench_torch_cnn.py");
  if (k > 0) {
    char try[PETSC_MAX_PATH_LEN + 64];
    exe[k] = 0;
    snprintf(try, sizeof(try), "%s/../scripts/bench_torch_cnn.py", dirname(exe));
    if (access(try, R_OK) == 0) snprintf(path, len, "%s", try);
  }
}

/* Rank 0 runs the PyTorch script; rates broadcast (all 0 when it failed). */
static PetscErrorCode RunTorch(MPI_Comm comm, const char *py, const char *model, int threads, PetscInt B, PetscInt S, double min_time, Rates *t, PetscBool *ok)
{
  int    rank;
  double v[4] = {0, 0, 0, 0};

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    char  script[2 * PETSC_MAX_PATH_LEN], cmd[4 * PETSC_MAX_PATH_LEN], line[512];
    FILE *p;
    FindScript(script, sizeof(script));
    snprintf(cmd, sizeof(cmd), "OMP_NUM_THREADS=%d %s %s --model %s --threads %d --batch %d --size %d --min-time %g --repeats 1 2>&1", threads, py, script, model, threads, (int)B, (int)S, min_time);
    if ((p = popen(cmd, "r"))) {
      while (fgets(line, sizeof(line), p)) {
        char m[32];
        int  th;
        if (sscanf(line, "TORCH model %31s threads %d train %lf infer_batch %lf infer_512 %lf", m, &th, &v[0], &v[1], &v[2]) == 5) v[3] = 1;
      }
      pclose(p);
    }
  }
  PetscCallMPI(MPI_Bcast(v, 4, MPI_DOUBLE, 0, comm));
  t->train    = v[0];
  t->infer    = v[1];
  t->infer512 = v[2];
  *ok         = (PetscBool)(v[3] > 0);
  PetscFunctionReturn(0);
}

PetscErrorCode AppBenchModel(MPI_Comm comm, const char *model)
{
  PetscInt  B = 16, S = 64, reps = 5, rounds = 3, in[5], out[5], np;
  PdNNBackend backend;
  PetscBool torch = PETSC_TRUE, ok = PETSC_FALSE;
  char      python[PETSC_MAX_PATH_LEN] = "", py[PETSC_MAX_PATH_LEN];
  double    min_time = 3, tt = 0, ti = 0, tb = 0;
  int       rank, size;
  ptrdiff_t j0, nj;
  PdCNNKind kind;
  Bench     b;
  Rates     c, t = {0, 0, 0};

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscOptionsBegin(comm, NULL, "pdecon bench -bench_model", "");
  PetscCall(PetscOptionsInt("-bench_model_batch", "Global batch of the training step and of the batched inference", "", B, &B, NULL));
  PetscCall(PetscOptionsInt("-bench_model_size", "Side of the square patches", "", S, &S, NULL));
  PetscCall(PetscOptionsInt("-bench_reps", "Timed repetitions (the median is reported)", "", reps, &reps, NULL));
  PetscCall(PetscOptionsInt("-bench_rounds", "Rounds in which the engine and PyTorch take turns (the best of each is reported)", "", rounds, &rounds, NULL));
  PetscCall(PetscOptionsBool("-bench_torch", "Also time the same networks in PyTorch (scripts/bench_torch_cnn.py) when torch is found", "", torch, &torch, NULL));
  PetscCall(PetscOptionsString("-bench_python", "Python with torch for the comparison (default: python3, then /usr/bin/python3)", "", python, python, sizeof(python), NULL));
  PetscCall(PetscOptionsReal("-bench_torch_time", "PyTorch: seconds of timing per figure and repeat", "", min_time, &min_time, NULL));
  PetscOptionsEnd();
  PetscCall(PdNNBackendSetFromOptions(comm));
  if (AppHelpRequested()) PetscFunctionReturn(0);
  PetscCall(AppCheckOptionsUsed(comm));
  PetscCheck(PdCNNKindFromString(model, &kind), comm, PD_ERR_INPUT, "-bench_model %s: unknown model (srcnn, isonet1, isonet2)", model);
  PetscCheck(B >= 1 && reps >= 1 && rounds >= 1 && min_time > 0, comm, PD_ERR_INPUT, "-bench_model_batch, -bench_reps, -bench_rounds and -bench_torch_time must be positive");
  PetscCheck(S > 2 * PdCNNBorder(kind) && S % PdCNNSideMultiple(kind) == 0, comm, PD_ERR_INPUT, "-bench_model_size %" PetscInt_FMT ": a %s patch must be larger than %" PetscInt_FMT " and divisible by %" PetscInt_FMT, S, model, 2 * PdCNNBorder(kind), PdCNNSideMultiple(kind));

  PetscCall(PetscMemzero(&b, sizeof(b)));
  b.comm = comm;
  b.B    = B;
  PetscCall(PdCNNCreate(kind, 1, &b.net));
  PetscCall(PdNNGetParams(b.net, NULL, &np));
  PetscCall(PdAdamCreate(np, &b.adam));
  PetscCall(PdNNWorkCreate(b.net, &b.train));
  PetscCall(PdNNWorkCreate(b.net, &b.infer));
  PetscCall(PdNNWorkSetTraining(b.infer, PETSC_FALSE));
  PdBlockRange(B, size, rank, &j0, &nj);
  PetscCall(PdTensorAlloc((PetscInt)nj, 1, 1, S, S, &b.x));
  in[0] = PetscMax(1, (PetscInt)nj);
  in[1] = in[2] = 1;
  in[3] = in[4] = S;
  PetscCall(PdNNGetOutputShape(b.net, in, out));
  PetscCall(PdTensorAlloc((PetscInt)nj, 1, 1, out[3], out[4], &b.y));
  PetscCall(PdTensorAlloc((PetscInt)nj, 1, 1, out[3], out[4], &b.dy));
  PetscCall(PdTensorAlloc(1, 1, 1, 512, 512, &b.big));
  PetscCall(Fill(&b.x, 1 + (unsigned long long)j0));
  PetscCall(Fill(&b.y, 1000 + (unsigned long long)j0));
  PetscCall(Fill(&b.big, 7));

  if (torch) FindPython(python, py, sizeof(py));
  PetscCall(PetscMemzero(&c, sizeof(c)));
  for (PetscInt r = 0; r < rounds; r++) {
    Rates     tr;
    PetscBool okr = PETSC_FALSE;

    PetscCall(Median(comm, reps, TrainStep, &b, &tt));
    PetscCall(Median(comm, reps, InferBatch, &b, &ti));
    PetscCall(Median(comm, reps, Infer512, &b, &tb));
    c.train    = PetscMax(c.train, (double)B / tt);
    c.infer    = PetscMax(c.infer, (double)(B * out[3] * out[4]) / ti / 1e6);
    c.infer512 = PetscMax(c.infer512, (double)size * (double)((512 - 2 * PdCNNBorder(kind)) * (512 - 2 * PdCNNBorder(kind))) / tb / 1e6);
    if (!torch || !py[0]) continue;
    PetscCall(RunTorch(comm, py, model, size * PdGetThreads(), B, S, min_time, &tr, &okr));
    if (!okr) continue;
    ok         = PETSC_TRUE;
    t.train    = PetscMax(t.train, tr.train);
    t.infer    = PetscMax(t.infer, tr.infer);
    t.infer512 = PetscMax(t.infer512, tr.infer512);
  }

  PetscCall(PdNNGetBackend(b.net, &backend));
  PetscCall(PetscPrintf(comm, "pdecon bench -bench_model %s: %" PetscInt_FMT " parameters, %d rank%s x %d thread%s, backend %s, best of %" PetscInt_FMT " round%s of medians of %" PetscInt_FMT "\n", model, np, size, size > 1 ? "s" : "", PdGetThreads(), PdGetThreads() > 1 ? "s" : "", PdNNBackends[backend], rounds, rounds > 1 ? "s" : "", reps));
  PetscCall(PetscPrintf(comm, "  %-42s %12s %12s %8s\n", "", "pdecon", "PyTorch", "ratio"));
  if (torch && rank == 0 && !py[0]) printf("  (no python with torch found: PyTorch not timed)\n");
  {
    const char  *what[3] = {"training step, samples/s", "inference, batch, Mpix/s", "inference, 512^2 (one per rank), Mpix/s"};
    const double cv[3] = {c.train, c.infer, c.infer512}, tv[3] = {t.train, t.infer, t.infer512};
    char         lab[64];
    for (int k = 0; k < 3; k++) {
      PetscCall(PetscSNPrintf(lab, sizeof(lab), "%s", what[k]));
      if (k < 2) PetscCall(PetscSNPrintf(lab, sizeof(lab), "%s (%" PetscInt_FMT " x %" PetscInt_FMT "^2)", what[k], B, S));
      if (ok) PetscCall(PetscPrintf(comm, "  %-42s %12.3f %12.3f %8.2f\n", lab, cv[k], tv[k], cv[k] / tv[k]));
      else PetscCall(PetscPrintf(comm, "  %-42s %12.3f %12s %8s\n", lab, cv[k], "-", "-"));
    }
  }
  if (ok) PetscCall(PetscPrintf(comm, "  (ratio: pdecon / PyTorch, PyTorch on %d thread%s in the same run)\n", size * PdGetThreads(), size * PdGetThreads() > 1 ? "s" : ""));
  PetscCall(PdTensorFree(&b.x));
  PetscCall(PdTensorFree(&b.y));
  PetscCall(PdTensorFree(&b.dy));
  PetscCall(PdTensorFree(&b.big));
  PetscCall(PdAdamDestroy(&b.adam));
  PetscCall(PdNNWorkDestroy(&b.train));
  PetscCall(PdNNWorkDestroy(&b.infer));
  PetscCall(PdNNDestroy(&b.net));
  PetscFunctionReturn(0);
}
