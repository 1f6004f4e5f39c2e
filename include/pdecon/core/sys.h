/* Common definitions: error conventions, logging events, small helpers. */
#ifndef PDECON_SYS_H
#define PDECON_SYS_H

#include <petscsys.h>
#include <mpi.h>
#include <stddef.h>

/* Errors a user can cause (bad file, bad option, bad data) use these codes. The front end prints
   them as one line "pdecon: error: <message>"; every other code gets PETSc's full trace. */
#define PD_ERR_INPUT PETSC_ERR_USER_INPUT
#define PD_ERR_FILE  PETSC_ERR_FILE_OPEN

/* A hot loop compiled for several x86-64 targets, the one the CPU has chosen at run time (GCC on
   x86-64; elsewhere one build). ISO C has no floating-point contraction, so plain products and
   sums are the same arithmetic in every clone; only a simd reduction's lane count, and with it
   the order of its sum, differs. A complex product written out is not: GCC fuses it
   (vfmaddsub) in the vector body but not in the remainder loop, so such a loop runs over one
   row at a time, where the split between the two falls at the same place on every rank.
   PD_CLONE_INLINE marks a helper of a cloned function: inlined into every clone, so that it is
   compiled for the clone's target (a helper left out of line is built for the baseline only). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
  /* x86-64-v4: AVX-512 with its byte and word instructions (BW, DQ, VL), which the bfloat16
     state's conversions need to stay 512 bits wide (with AVX-512F alone they ran at 256 bits with
     extracts: rl_biggs's update 8 % slower, docs/scaling.md) */
  #define PD_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
  #define PD_TARGET_CLONES
#endif
#if defined(__GNUC__)
  #define PD_CLONE_INLINE static inline __attribute__((always_inline))
#else
  #define PD_CLONE_INLINE static inline
#endif

/* A pass that streams rows of a volume from memory while it works on rows in cache asks for the
   row PdPrefetchRows ahead, at least 2 KiB of its stream ahead (PdPrefetchRow). The hardware
   prefetcher alone starts late: a pass reads one plane right after a 2-D transform, and a 4 KiB
   page at a time. Measured inside the transforms at 64×256×256: the ratio pass 19 % faster, RL's
   update 14 % (docs/scaling.md); 1 KiB ahead gains half of that, 4 KiB no more. */
#define PD_PREFETCH_BYTES 2048
static inline ptrdiff_t PdPrefetchRows(size_t row_bytes) { return row_bytes ? (ptrdiff_t)((PD_PREFETCH_BYTES + row_bytes - 1) / row_bytes) : 1; }
static inline void PdPrefetchRow(const void *row, size_t bytes)
{
#if defined(__GNUC__)
  const char *p = (const char *)row;
  for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + b, 0, 3);
  if (bytes) __builtin_prefetch(p + bytes - 1, 0, 3); /* the last line of a row that starts mid-line */
#else
  (void)row, (void)bytes; /* a hint only */
#endif
}

/* Collective check: every rank raises the same error when any rank's condition fails, so a
   problem found in one slab never leaves the other ranks waiting in a collective call. */
#define PdCheckAll(comm, cond, code, ...) \
  do { \
    int _pd_ok = (cond) ? 1 : 0, _pd_all; \
    PetscCallMPI(MPI_Allreduce(&_pd_ok, &_pd_all, 1, MPI_INT, MPI_MIN, (comm))); \
    PetscCheck(_pd_all, (comm), (code), __VA_ARGS__); \
  } while (0)

/* Logging events, registered once by PdInitializePackage(). */
/* FFTTranspose (the exchange between ranks) is nested in FFTForward and FFTInverse; WCRRConv is
   the convolution work of the learned regulariser (wcrr.h). */
extern PetscLogEvent PD_EV_FFT_FWD, PD_EV_FFT_INV, PD_EV_FFT_TRANSPOSE, PD_EV_FFT_PLAN, PD_EV_POINTWISE, PD_EV_READ,
  PD_EV_WRITE, PD_EV_COMM, PD_EV_HALO, PD_EV_WCRR;
extern PetscClassId PD_CLASSID;

PetscErrorCode PdInitializePackage(void);

/* Threads per rank (-threads N, default 1) for FFTW plans made afterwards and for the OpenMP
   pointwise loops: a node runs ranks x threads = cores, e.g. 1 x 8 or 8 x 1. */
PetscErrorCode PdSetThreads(int n);
int            PdGetThreads(void);
/* Whether volumes of 2 MiB or more ask for 2 MiB pages (PdVolumeAlloc; -huge_pages, default on). */
void      PdSetHugePages(PetscBool on);
PetscBool PdGetHugePages(void);

/* Wall clock in seconds (MPI_Wtime). */
static inline double PdTime(void) { return MPI_Wtime(); }

/* Sum of doubles over the communicator (logged as communication). */
PetscErrorCode PdAllreduceSum(MPI_Comm comm, double *vals, int n);
PetscErrorCode PdAllreduceMax(MPI_Comm comm, double *vals, int n);
PetscErrorCode PdAllreduceMin(MPI_Comm comm, double *vals, int n);

/* Stop requests. After PdStopHandlerInstall, SIGTERM and SIGUSR1 (the warning signals batch
   systems send before a time limit) only set a flag; iterative solvers poll it once per
   iteration with PdStopRequested (collective: true on every rank when any rank got a signal),
   write a checkpoint and stop. A program using it starts PETSc with -no_signal_handler: PETSc's
   own handler, removed at PetscFinalize, would give SIGTERM its default action back, and a late
   second signal would then kill a rank that has saved its state (src/app/main.c). */
PetscErrorCode PdStopHandlerInstall(void);
PetscErrorCode PdStopRequested(MPI_Comm comm, PetscBool *stop);
/* Status the executable exits with after a requested stop with its checkpoint written
   (EX_TEMPFAIL: "try again", i.e. resubmit with -restart). */
#define PD_EXIT_STOPPED 75

/* Peak resident memory of this process in bytes (from the OS), and its maximum over ranks. */
PetscErrorCode PdPeakMemory(MPI_Comm comm, double *mine, double *maxall);

#endif
