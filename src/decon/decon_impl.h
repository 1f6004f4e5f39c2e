/* Private state of PdDecon, shared by the solver loop (decon.c) and the methods (one file each). */
#ifndef PDECON_DECON_IMPL_H
#define PDECON_DECON_IMPL_H

#include <pdecon/decon/decon.h>
#include <pdecon/decon/stop_rule.h>

/* What a checkpoint must hold to continue a method exactly: pointers to its state volumes
   (working layout) and scalars, besides the estimate x and the iteration count. A volume marked
   bf16 holds bfloat16 values (core/bfloat16.h) and is written as floats (exactly) through the FFT
   buffer, which such a method must not need between steps. */
#define PD_MAX_STATE 8
typedef struct _p_PdBoxWeights *PdBoxWeights;
typedef struct {
  PetscInt    nvol, nscal;
  float      *vol[PD_MAX_STATE];
  PetscBool   bf16[PD_MAX_STATE];
  const char *volname[PD_MAX_STATE];
  double     *scal[PD_MAX_STATE];
  const char *scalname[PD_MAX_STATE];
} PdMethodState;

/* A method. Life cycle: create (parameters with defaults in d->mctx) -> setfromoptions ->
   setup at the start of every solve (allocate state the first time, reset it from the initial
   estimate in d->x) -> step, step, ... -> destroy (parameters and state). Only step is needed;
   every other entry may be NULL. On a restart, setup runs once more after the checkpoint was
   loaded, with d->restarting set: it must then keep the loaded state and only rebuild what is
   derived from it (e.g. copy x into the FFT buffer). */
typedef struct {
  const char *name;        /* value of -decon_method */
  const char *description;
  PetscInt    nvolumes;    /* working-size volumes of state, x and Hᵀ1 weights and FFT buffer included
                              (the OTF comes on top: the memory planner counts it; the spectrum
                              shares the FFT buffer) */
  PetscBool   direct;      /* a filter: one step gives the result */
  PetscErrorCode (*create)(PdDecon);
  PetscErrorCode (*setfromoptions)(PdDecon, PetscOptionItems *PetscOptionsObject);
  PetscErrorCode (*setup)(PdDecon);
  PetscErrorCode (*step)(PdDecon, PetscBool want_objective, double *objective, double *change);
  PetscErrorCode (*view)(PdDecon, PetscViewer);
  PetscErrorCode (*destroy)(PdDecon);
  /* state to checkpoint beyond x (after setup); NULL: x is the whole state */
  PetscErrorCode (*getstate)(PdDecon, PdMethodState *);
  /* bytes per rank the method needs besides its working volumes, for a working size n and this
     rank's planes [z0, z0 + nzl) (the memory planner; NULL: none) */
  PetscErrorCode (*workspace)(PdDecon, const ptrdiff_t n[3], ptrdiff_t z0, ptrdiff_t nzl, double *bytes);
  /* an unmatched back projector B (rl_wb, rl_omw): stores B as the FFT's second filter, once per
     PSF, before the weights are computed, and says whether B differs from Hᵀ; the weights and
     PdRLCorrection then use B in place of Hᵀ, and the memory planner counts one more spectrum.
     NULL: the matched Hᵀ. */
  PetscErrorCode (*backprojector)(PdDecon, PetscBool *unmatched);
  PetscInt    default_max_it; /* iterations when none are asked for (0: the solver's default) */
  PdStopRuleType default_stop_rule; /* the stop rule when neither it nor an iteration count is asked for */
  /* the method reads the weights only through PdDeconWeightsRow, so that a single view with the
     matched Hᵀ needs no stored weights (box_weights.c): nvolumes then leaves w out, and the
     planner adds it back where it is stored (multi-view, an unmatched back projector) */
  PetscBool   row_weights;
  /* working volumes of state that the method's options add to nvolumes (NULL: none) */
  PetscInt (*extra_volumes)(PdDecon);
  /* working volumes of state stored in 16 bits, half a volume each (NULL: none) */
  PetscInt (*half_volumes)(PdDecon);
  /* the method uses the OTF only through H and Hᵀ (PdFFTConvApply), so a centro-symmetric PSF's
     OTF may be stored as its real part (PdFFTConvSetRealOTF; one view, matched Hᵀ) */
  PetscBool   real_otf;
  PdDeconStart default_start; /* the initial estimate when none is asked for (0: flat) */
  /* the steps read the data only through the ratio pass (RatioRow), so integral data may be held
     as 16-bit counts while the method iterates (data_counts.c) */
  PetscBool   data_counts;
} PdMethodOps;

/* Every method, in the order -help lists them (methods.c). */
extern const PdMethodOps *const PdMethods[];
extern const int                PdNumMethods;

/* stop_rule.c: the stop rule of the solver loop (stop_rule.h). */
typedef struct {
  PdStopRuleType type;     /* asked for (set) */
  PetscBool      set;
  double         tol;      /* < 0: the rule's default */
  double         gain;     /* data units per photon */
  PdStopRuleType active;   /* of the current solve */
  double         atol;     /* its tolerance */
  double         idiv;     /* I-divergence of the point the last RL correction corrected (NaN: none) */
  double         dev_prev; /* deviance per voxel of the iterate before (deviance rule; checkpointed) */
  double         chg_prev; /* relative change of the step before (change_rise; checkpointed) */
  double         chg_first;/* of the first step (change_rise; checkpointed) */
  double         value;    /* what stopped the solve (NaN: not the rule) */
  double         before;   /* change_rise: the change of the step before the one that stopped it */
  float         *xbox;     /* image box of the iterate entering the step (rules on the deviance) */
} PdStopRule;

struct _p_PdDecon {
  MPI_Comm        comm;
  const PdMethodOps *ops;
  void           *mctx;        /* method parameters and state */
  PetscBool       msetup;      /* method set up for the current data */

  /* problem */
  ptrdiff_t       m[3];        /* image size */
  char           *dataname, *psfname;
  ptrdiff_t       pn[3], pc[3];/* PSF size and centre (after preparation) */
  float          *psf;
  PdPSFCenter     center_mode;
  PdBoundary      boundary;
  PetscInt        pad[3];      /* padding per axis in voxels; -1: from the PSF */
  double          bg_user;     /* background asked for; < 0: estimate it from each data set */
  double          bg;          /* background in use (set when the data are prepared) */
  double          bg_percentile;
  double          weight_threshold; /* voxels with Hᵀ1 below this are not estimated */
  PetscBool       clip_negative;
  PetscBool       release_psf;   /* PdDeconSetReleasePSF: free the PSF once the box sums and the start exist */
  float          *psfc;          /* the coarse start's binned PSF, kept when the PSF is released (a batch's later data sets) */
  ptrdiff_t       psfc_n[3];     /* its size */
  double          psf_digest[2]; /* hash of the prepared PSF (checkpoints), made before it may be freed */

  /* discretisation */
  PdFFTConv       conv;
  const PdLayout *lay;         /* working slabs (owned by conv) */
  PdLayout       *blay;        /* image box view into working volumes */
  PdLayout       *dlay;        /* compact image box (data) */
  float          *work;        /* FFT buffer, real space (owned by conv) */
  float          *spec;        /* its spectrum after PdFFTConvForward (owned by conv; = work on 1 rank) */
  float          *y;           /* data, compact image box */
  uint16_t       *y16;         /* the same buffer holding the data as 16-bit counts while a method iterates (data_counts.c); NULL: floats */
  PetscBool       data_counts; /* -decon_data_counts: allow it */
  PetscBool       fft_fast_size; /* -decon_fft_fast_size: PdFFTFastSize, else PdFFTGoodSize */
  float          *w;           /* 1 / Hᵀ1 on voxels that are estimated, 0 elsewhere (NULL: computed, bw) */
  PdBoxWeights    bw;          /* the weights row by row from the PSF's box sums (NULL: stored, w) */
  float          *x;           /* current estimate, working layout */
  double          eps;         /* denominators are clipped at eps */
  double          x0;          /* flat initial value */
  PdDeconStart    start;       /* the initial estimate (start.c) */
  PetscBool       start_set;   /* asked for: the method's default no longer applies */
  double          start_k;     /* the Wiener start's noise-to-signal ratio K */
  PetscInt        start_coarse_it; /* iterations of the coarse start's binned solve */
  PetscBool       start_coarse_axial; /* it bins z too */
  PetscBool       setup, prepared, weights_ready;

  /* loop */
  PetscInt        max_it, it;
  PetscBool       max_it_set;  /* asked for (option or PdDeconSetTolerances): methods keep it */
  double          rtol, solve_time, t_start;
  double          start_time;  /* seconds the initial estimate took (counted in solve_time) */
  PetscInt        it_start; /* the iteration this solve began at (after a restart: the checkpoint's) */
  PdDeconConvergedReason reason;
  PdDeconMonitorFn monitor[4];
  void           *monitor_ctx[4];
  PetscInt        nmonitor;
  PetscViewer     monitor_viewer;
  PetscBool       converged_reason;
  PdStopRule      stop;

  /* checkpoint / restart (checkpoint.c) */
  char            checkpoint[PETSC_MAX_PATH_LEN]; /* "" = none */
  PetscInt        checkpoint_every;               /* iterations; 0 = only on a stop signal */
  char            restart[PETSC_MAX_PATH_LEN];    /* "" = start fresh */
  char           *prefix;                         /* options prefix (PdDeconSetOptionsPrefix), NULL: none */
  PetscBool       restarting;                     /* set while setup runs after a load */
  PetscBool       nested;                         /* solves inside another solver's start (start_coarse.c) */

  /* multi-view (multiview.c): V measurements y_v = h_v * x + b, y holds them one after another */
  PetscInt        nviews;      /* 0 or 1: the single-view problem */
  float          *vpsf;        /* V compact PSFs of size pn, normalised together (sum of all 1) */
  float         **otfs;        /* V OTFs, computed once at set-up */
  float          *vu, *vacc;   /* the point u and the sum of corrections during PdRLCorrection */
  double         *tsums;       /* PD_THREAD_SUMS per thread for the plane passes (PdDeconGetThreadSums) */
  int             ntsums;      /* threads tsums has room for */

  /* memory planner (memory.c) */
  double          memory_limit;    /* MiB per rank; 0 = what the node has */
  double          memory_estimate; /* bytes per rank, from the last set-up */
  PetscBool       memory_view;
};

/* data_counts.c: the data as 16-bit counts in y's own buffer (d->y16) when the method allows it,
   there is one view and every local value is an integer in [0, 65535]; and back to floats. */
PetscErrorCode PdDeconDataCompact(PdDecon d);
PetscErrorCode PdDeconDataExpand(PdDecon d);

/* stop_rule.c: options (inside PdDeconSetFromOptions' block); at each solve, before a restart
   is loaded: the rule in use; whether it needs the I-divergence and a copy of the image box (the
   memory planner counts it); before each step; after it (may put x_k back and count the iteration
   back); the lines of PdDeconView and of the converged reason; clean-up. */
PetscErrorCode PdStopRuleSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject);
PetscErrorCode PdStopRuleSetUp(PdDecon d);
PetscBool      PdStopRuleWantsObjective(PdDecon d);
PetscBool      PdStopRuleKeepsBox(PdDecon d);
/* The iteration limit: max_it, raised to PD_STOP_RULE_MAX_IT when a rule runs and no count was
   asked for. */
PetscInt       PdStopRuleIterationLimit(PdDecon d, PetscInt max_it);
PetscErrorCode PdStopRuleBeforeStep(PdDecon d);
PetscErrorCode PdStopRuleTest(PdDecon d, double change, PetscBool *stop);
PetscErrorCode PdStopRuleView(PdDecon d, PetscViewer v);
PetscErrorCode PdStopRuleReasonView(PdDecon d, PetscViewer v);
PetscErrorCode PdStopRuleDestroy(PdDecon d);
/* box_weights.c: w = 1 / Hᵀ(M·1) row by row from the PSF's prefix sums, without a stored volume */
PetscErrorCode PdBoxWeightsCreate(PdDecon d, float threshold, PdBoxWeights *bw);
PetscErrorCode PdBoxWeightsDestroy(PdBoxWeights *bw);
/* The same weights into a stored working volume w (methods that read d->w directly). */
PetscErrorCode PdBoxWeightsFill(PdDecon d, float threshold, float *w);
/* bytes per rank of the box-sum tables for a PSF of size p and a working size n */
double PdBoxWeightsBytes(const ptrdiff_t p[3], const ptrdiff_t n[3]);
/* Whether this configuration (working size n) computes the weights instead of storing them: a
   method with row_weights, one view, the matched Hᵀ, and a box-sum table smaller than a slab. */
PetscBool PdDeconComputesWeights(PdDecon d, const ptrdiff_t n[3]);
/* The weights of the local working row (z, y) (z counted in this rank's slab), rs floats: the
   stored row, or this thread's row buffer computed from the box sums (valid until the thread's
   next call; safe inside an OpenMP loop over rows). */
const float *PdDeconWeightsRow(PdDecon d, ptrdiff_t z, ptrdiff_t y);
/* decon.c: the working length of axis a for m image voxels and a PSF of p voxels on it, as
   PdDeconSetUp chooses it: m (periodic), else m + pad (-decon_pad, p - 1 by default) rounded up
   to a fast FFT length (-decon_fft_fast_size) */
ptrdiff_t PdDeconWorkingLength(PdDecon d, int a, ptrdiff_t m, ptrdiff_t p);

/* start.c: x <- the initial estimate of d->start where the weights are positive (after Prepare;
   uses the FFT buffer) */
PetscErrorCode PdDeconStartEstimate(PdDecon d);
/* the start in use: asked for, else the method's; flat with several views */
PdDeconStart PdDeconStartType(PdDecon d);
#define PD_START_WIENER_K 1e-3 /* the Wiener start's K by default */
/* A start that solves a smaller problem with a solver of its own (start_coarse.c): an ops table,
   as the methods are, since it drives the solver that calls it. setfromoptions reads (and
   checks) its solver's options with d's; estimate: x <- its solution interpolated back, done
   false (x untouched) where it has no problem to solve. */
typedef struct {
  PetscErrorCode (*setfromoptions)(PdDecon);
  PetscErrorCode (*estimate)(PdDecon, PetscBool *done);
} PdNestedStartOps;
extern const PdNestedStartOps PdStartCoarse; /* the problem binned 2 x 2 laterally */
#define PD_START_COARSE_IT 40 /* its binned iterations by default (docs/methods/acceleration.md) */
/* memory.c: per-rank estimate before allocation, and the refusal when it does not fit */
PetscErrorCode PdDeconCheckMemory(PdDecon d, const ptrdiff_t n[3]);
/* Whether the OTF may be stored real (memory.c): the method allows it, one view, matched Hᵀ. */
PetscBool PdDeconRealOTF(PdDecon d);

/* checkpoint.c: write the full state atomically; load it (after the method's setup) and set
   d->it; fingerprint of everything that changes the result. */
PetscErrorCode PdDeconCheckpointWrite(PdDecon d);
PetscErrorCode PdDeconCheckpointLoad(PdDecon d);

/* The Richardson-Lucy correction shared by RL-type methods. On entry work holds the estimate u
   (working layout, zero in the row padding). On exit work holds Hᵀ(y / (H u + b)) restricted to
   the measured box (Bertero-Boccacci; B in place of Hᵀ for a method with an unmatched back
   projector), and *objective the I-divergence of u when asked for.
   Cost: 2 forward + 2 inverse FFTs and one fused pointwise pass. */
PetscErrorCode PdRLCorrection(PdDecon d, PetscBool want_objective, double *objective);
/* A method's passes fused into PdRLCorrection: before(ctx, z, thread) makes local plane z of u in
   the FFT buffer right before H's forward transform reads it, after(ctx, z, thread) reads the
   correction's plane z right after Hᵀ's (or B's) inverse transform wrote it; either may be
   NULL. With one view they run inside the transforms, while the plane is in cache; with several
   in passes of their own, before and after the correction. thread < PdGetThreads(); the planes
   may come in any order, each exactly once. With `chain` (one view, no before) after is the
   iteration's last look at the buffer and leaves in it what the next H transforms: each plane is
   then transformed forward for the next iteration while in cache and the buffer holds the planes'
   transforms between iterations (PdFFTConvApplyTwoPlanes); the method's setup, having written the
   buffer, drops them (PdFFTConvDropPlanes). */
typedef struct {
  PdFFTPlaneFn before, after;
  void        *ctx;
  PetscBool    chain;
} PdRLPasses;
PetscErrorCode PdRLCorrectionFused(PdDecon d, PetscBool want_objective, double *objective, const PdRLPasses *passes);
/* Room for the sums of plane passes, which run on the planes in any order from any of the
   PdGetThreads() threads: PD_THREAD_SUMS zeroed doubles per thread, thread t's from
   PD_THREAD_SUMS t on; kept by d from one iteration to the next. */
#define PD_THREAD_SUMS 4
PetscErrorCode PdDeconGetThreadSums(PdDecon d, double **sums);
/* Its ratio pass, also the PSF update's of blind deconvolution: on entry work holds H u (working
   layout); on exit work = M y / max(scale · H u + b, eps) on the measured box, 0 elsewhere and on
   the row padding; *objective the local I-divergence of scale · H u + b when want_objective. */
PetscErrorCode PdRLRatio(PdDecon d, float scale, PetscBool want_objective, double *objective);
/* The single-view correction of PdRLCorrectionFused: H, the ratio pass, and Hᵀ (or B) in one
   PdFFTConvApplyTwo, the ratio done on each plane as H's inverse transform writes it and the
   plane transformed forward for Hᵀ while it is in cache; the passes' functions (may be NULL)
   inside the first forward and the last inverse transform. The same values as PdFFTConvApply,
   PdRLRatio with scale 1 and PdDeconBackProject in a row; *objective local. */
PetscErrorCode PdRLApplyRatio(PdDecon d, PetscBool want_objective, double *objective, const PdRLPasses *passes);

/* multiview.c: views' OTFs at set-up (conv planned, d->pc known); work <- Σ_v H_vᵀ work (the
   weights); Σ_v H_vᵀ(y_v / (H_v u + b)) as PdRLCorrection; clean-up. */
PetscErrorCode PdMultiViewSetUp(PdDecon d);
PetscErrorCode PdMultiViewAdjointSum(PdDecon d);
PetscErrorCode PdMultiViewRLCorrection(PdDecon d, PetscBool want_objective, double *objective);
PetscErrorCode PdMultiViewDestroy(PdDecon d);
/* Refuses a method that is not built on the RL correction. */
PetscErrorCode PdMultiViewCheckMethod(PdDecon d);

/* rrl.c: pyxudeconv's RRL iteration (accelerated RL with a regulariser gradient in the
   numerator), shared by rl_smoothtv and garl. The method keeps a PdRRL (accel set, the rest
   zero), calls PdRRLSetUp from its setup, PdRRLStep from its step with the gradient of its
   regulariser Φ, and PdRRLGetState for checkpoints. */
typedef struct {
  PetscBool accel; /* Nesterov extrapolation */
  float    *xprev; /* x_{k-1}, with extrapolation */
  double    t;     /* Nesterov sequence */
  double    scale; /* s = max(y), 1 when the data are all zero */
} PdRRL;
/* g = ∇Φ(p) on the working layout; value (NULL when not wanted) = Φ(p), the same on every rank. */
typedef PetscErrorCode (*PdRRLGradient)(PdDecon d, const float *p, float *g, double *value);
PetscErrorCode PdRRLSetUp(PdDecon d, PdRRL *r);
PetscErrorCode PdRRLStep(PdDecon d, PdRRL *r, double lambda, PdRRLGradient grad, float *g, PetscBool want_obj, double *obj, double *change);
PetscErrorCode PdRRLGetState(PdRRL *r, PdMethodState *st);
PetscErrorCode PdRRLDestroy(PdRRL *r);
/* max(y) over all ranks, 1 when the data are all zero. */
PetscErrorCode PdDeconDataScale(PdDecon d, double *s);



#include "decon/decon_counts.h"

#endif
